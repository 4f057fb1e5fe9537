#!/usr/bin/env bash
# Installs what building and testing fusionrec needs on a fresh Debian machine with rustup.
# Idempotent: each step checks before it installs.
set -euo pipefail

rustup component add clippy rustfmt >/dev/null
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
