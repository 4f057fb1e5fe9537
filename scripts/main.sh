#!/usr/bin/env bash
# The main job on a fresh machine: set up, fetch MovieLens-100K and the MiniLM text encoder,
# train every model on the CPU (the baselines and the multimodal hybrid), export the bundles to
# models/ml100k/<model>/, print the metrics and a sample recommendation from the hybrid.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release --locked --bin fusionrec
bin=target/release/fusionrec
"$bin" fetch movielens-100k
"$bin" fetch minilm
# The hybrid uses concat fusion: the best multimodal row of the ablation in README.md.
"$bin" train --model all --fusion concat --data data/ml-100k --seed 2026 --out models/ml100k
"$bin" eval --bundle models/ml100k/hybrid
"$bin" recommend --bundle models/ml100k/hybrid --user 196 -k 10
