#!/usr/bin/env bash
# Every check and test, as CI runs them (`.ci/run` calls this script). Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%ss elapsed)\n' "$*" "$SECONDS"; }

step setup
bash scripts/setup.sh
# The team's shared datasets (Last.fm-2K, Foursquare-SG), read in place and never copied: the
# tests and the CI bundles find them through FUSIONREC_SHARED, by default the `shared` folder
# next to the checkout (or one level further up).
if [ -z "${FUSIONREC_SHARED:-}" ]; then
    for d in ../shared ../../shared /work/shared; do
        if [ -d "$d/data/lfm2k" ]; then FUSIONREC_SHARED=$(cd "$d" && pwd); break; fi
    done
fi
export FUSIONREC_SHARED=${FUSIONREC_SHARED:?the shared datasets are missing: set FUSIONREC_SHARED to the folder holding data/lfm2k}
echo "shared datasets: $FUSIONREC_SHARED"

step format
cargo fmt --check

step "module layers (no cycle between top-level modules)"
python3 scripts/check_layers.py

step "clippy (native, with data-parallel training)"
cargo clippy --locked --all-targets --features multi-device -- -D warnings

step "clippy (wasm32)"
cargo clippy --locked --lib --bins --target wasm32-unknown-unknown -- -D warnings

step "GPU backends compile (wgpu, cuda; no GPU needed)"
cargo clippy --locked --lib --bins --features wgpu,cuda -- -D warnings

step "build (release)"
cargo build --locked --release --features multi-device --bin fusionrec

step "fetch MovieLens-100K, MiniLM, EfficientNet-Lite0, sample photos and sounds"
target/release/fusionrec fetch movielens-100k
target/release/fusionrec fetch minilm
target/release/fusionrec fetch efficientnet-lite0
target/release/fusionrec fetch sample-photos
target/release/fusionrec fetch sample-sounds

step "tests (release: they train real models on real data)"
cargo test --locked --release --features multi-device

step "browser package (wasm-pack, profiles from wasm-pack.toml; fails over the size budget)"
bash scripts/build-wasm.sh web bundler # the second reuses the first's cargo build

step "CI bundles (EASE + content with its catalog content, BPR-MF; f16/int8 variants; SASRec; Mult-DAE; a blend) and the native CLI's answers the browser must match"
history=50,172,133
target/release/fusionrec train --model ease-mm --out models/ci/ease-mm
target/release/fusionrec train --model bpr-mf --epochs 5 --out models/ci/bpr
# Format 3: the same models stored compactly (f16 factors; int8 factors; f16 item–item weights
# with u16 indices and int8 catalog content): the browser must serve exactly what native serves.
for p in f16 int8; do
    target/release/fusionrec train --model bpr-mf --epochs 5 --precision $p --out models/ci/bpr-$p
done
target/release/fusionrec train --model ease-mm --precision int8 --out models/ci/ease-mm-int8
# The serving bundle a page loads: no training users; a visitor's answers must not change.
target/release/fusionrec serving --bundle models/ci/bpr-int8 --out models/ci/bpr-int8-serving
# Last.fm-2K (read in place from ../shared/data) with Whisper audio embeddings from its .npy as a
# modality and as catalog content: the browser places a new song by its audio vector.
lfm2k=$FUSIONREC_SHARED/data/lfm2k
target/release/fusionrec train --model ease-mm --interactions "$lfm2k/lfm2k.inter" --split-column x_label \
    --keep-valid-at-test --item-features "whisper=$lfm2k/whisper.npy" --modalities whisper \
    --catalog-content whisper --lambda 100 --content-weight 100 --out models/ci/lfm2k-audio
# SASRec (ids only, a few epochs) on the leave-last-out split: the page must read a visitor's
# history in order — as listed, or by time — exactly as native does.
target/release/fusionrec train --model sasrec --split temporal --modalities none --epochs 4 \
    --out models/ci/sasrec
target/release/fusionrec recommend --bundle models/ci/sasrec --history 133,172,50 -k 10 --json \
    > models/ci/sasrec.reversed.json
# Mult-DAE (a few epochs): the page encodes a visitor's history with its encoder, as native does.
target/release/fusionrec train --model mult-dae --epochs 10 --out models/ci/mult-dae
# A blend of the two (EASE + content, Mult-DAE): scored on the CPU kernels in the page too.
target/release/fusionrec blend --bundle models/ci/ease-mm --bundle models/ci/mult-dae --weights 1,0.5 \
    --out models/ci/blend
for m in ease-mm bpr bpr-f16 bpr-int8 ease-mm-int8 bpr-int8-serving sasrec mult-dae blend; do
    target/release/fusionrec recommend --bundle models/ci/$m --history $history -k 10 --json \
        > models/ci/$m.reference.json
done
cmp models/ci/bpr-int8.reference.json models/ci/bpr-int8-serving.reference.json
# MMR re-ranking (diversity 0.5) in the content + item-vector space, natively: the page's
# `recommend(…, { diversity: 0.5 })` must choose the same items.
for m in ease-mm bpr; do
    target/release/fusionrec recommend --bundle models/ci/$m --history $history -k 10 --diversity 0.5 \
        --json > models/ci/$m.diverse.json
done

step "TypeScript types: tsc --noEmit on a usage file (js/index.d.ts)"
npx tsc --noEmit -p tests/types

step "browser tests (Chromium headless: WebGPU on SwiftShader, then WebGPU unavailable)"
node tests/browser/run.mjs models/ci

step "bad-input battery, JavaScript half (Chromium): each case's error code, the Recommender unharmed"
node tests/browser/battery.mjs models/ci

step "soak in Chromium: 200 rounds of mixed calls, save/restore; wasm memory, JS heap and call times must stay flat"
node tests/browser/soak.mjs models/ci

step "interrupted saves (Chromium): a save cut by dispose() or a closed page restores the old state or the new one, never a torn one"
node tests/browser/interrupted.mjs models/ci

step "npm package: packed, installed offline into a fresh project, imported as 'fusionrec' (Chromium)"
node tests/browser/package.mjs models/ci

step "bundler build (pkg/bundler) through webpack, in Chromium"
node tests/browser/bundler.mjs models/ci

step "done"
