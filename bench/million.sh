#!/usr/bin/env bash
# A million-item catalog end to end, on this machine: synthetic catalog (10⁶ items, 10⁷
# interactions) → BPR-MF trained and stored in int8 → the serving bundle a page loads → Chromium
# loads it and recommends (CPU and WebGPU), printing bench/catalog.mjs's table. A benchmark,
# not a test: about 6 minutes on 2 cores and 4 GB of memory. Needs the release CLI and the
# browser package (the README's setup command builds both).
#   bash bench/million.sh [WORK_DIR]        (default /tmp/fusionrec-million)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/fusionrec-million}
bin=target/release/fusionrec
mkdir -p "$work"
t() { /usr/bin/time -f "  %e s, peak %M KB" "$@"; }

echo "synthetic catalog: 10⁶ items, 2·10⁵ users, 10⁷ interactions"
[ -f "$work/data/train.csv" ] || t $bin synth --items 1000000 --users 200000 --interactions 10000000 --out "$work/data"
echo "BPR-MF, 64-d, int8 bundle (metrics on 2,000 sampled users)"
t $bin train --model bpr-mf --dim 64 --epochs 20 --precision int8 --eval-users 2000 \
    --split given --train "$work/data/train.csv" --valid "$work/data/valid.csv" --test "$work/data/test.csv" \
    --items "$work/data/items.csv" --out "$work/bpr-int8"
echo "serving bundle (no training users)"
rm -rf "$work/bpr-int8-serving"
t $bin serving --bundle "$work/bpr-int8" --out "$work/bpr-int8-serving"
echo "Chromium (headless): load, recommend, memory"
node bench/catalog.mjs "$work/bpr-int8-serving"
