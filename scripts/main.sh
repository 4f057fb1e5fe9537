#!/usr/bin/env bash
# The main job on a fresh machine: set up, fetch MovieLens-100K and the MiniLM text encoder,
# train the best multimodal model (EASE with MiniLM text + tabular content) and the BPR-MF
# baseline on the CPU, export both bundles to models/ml100k/<model>/, verify the multimodal
# bundle's metrics, print a sample recommendation from it, build the browser package and serve
# the demo page.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cargo build --release --locked --bin fusionrec
bin=target/release/fusionrec
"$bin" fetch movielens-100k
"$bin" fetch minilm
# ease-mm is the best multimodal row of the README's ablation; bpr-mf is the baseline it is
# compared with. `--model all` trains every model instead (about 15 minutes on 2 cores).
"$bin" train --model ease-mm --data data/ml-100k --seed 2026 --out models/ml100k/ease-mm
"$bin" train --model bpr-mf --data data/ml-100k --seed 2026 --out models/ml100k/bpr-mf
"$bin" eval --bundle models/ml100k/ease-mm
"$bin" recommend --bundle models/ml100k/ease-mm --user 196 -k 10
# The browser package and the demo page (www/), which loads models/ml100k/ease-mm/ and runs it
# on this machine's browser (WebGPU when available). Stop the server with Ctrl-C.
bash scripts/build-wasm.sh web
echo "demo: http://127.0.0.1:8080/www/"
exec npm start
