#!/usr/bin/env bash
# Installs what building and testing fusionrec needs on a fresh Debian machine with rustup.
# Idempotent: each step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component add clippy rustfmt >/dev/null
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# The browser build: wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly;
# wasm-pack cannot download its own tools here, so it uses these and Debian's wasm-opt.
bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qF " $bindgen_version"; then
    # --locked first; its lockfile may name a dependency version the registry no longer serves.
    cargo install wasm-bindgen-cli --version "$bindgen_version" --locked ||
        cargo install wasm-bindgen-cli --version "$bindgen_version"
fi
if ! wasm-pack --version 2>/dev/null | grep -qF " 0.15.1"; then
    cargo install wasm-pack --version 0.15.1 --locked
fi

# wasm-opt (binaryen) and the browser for tests/browser/, as root and non-interactive.
missing=()
command -v wasm-opt >/dev/null || missing+=(binaryen)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# The JS side, pinned in package-lock.json: playwright-core (driver for Debian's Chromium) and
# webpack (tests/browser/bundler.mjs). Installed again when one is missing or the lock changed.
if ! node -e 'for (const d in require("./package.json").devDependencies) require("fs").statSync(`node_modules/${d}`)' 2>/dev/null ||
    [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
