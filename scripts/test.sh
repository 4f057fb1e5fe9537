#!/usr/bin/env bash
# Every check and test, as CI runs them (`.ci/run` calls this script). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%ss elapsed)\n' "$*" "$SECONDS"; }

step setup
bash scripts/setup.sh

step format
cargo fmt --check

step "clippy (native)"
cargo clippy --locked --all-targets -- -D warnings

step "clippy (wasm32)"
cargo clippy --locked --lib --bins --target wasm32-unknown-unknown -- -D warnings

step "GPU backends compile (wgpu, cuda; no GPU needed)"
cargo clippy --locked --lib --bins --features wgpu,cuda -- -D warnings

step "build (release)"
cargo build --locked --release --bin fusionrec

step "fetch MovieLens-100K, MiniLM, EfficientNet-Lite0, sample photos and sounds"
target/release/fusionrec fetch movielens-100k
target/release/fusionrec fetch minilm
target/release/fusionrec fetch efficientnet-lite0
target/release/fusionrec fetch sample-photos
target/release/fusionrec fetch sample-sounds

step "tests (release: they train real models on real data)"
cargo test --locked --release

step "done"
