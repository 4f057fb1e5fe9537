#!/usr/bin/env bash
# The CUDA path, checked on a machine with an NVIDIA GPU — one short prepared script, never a test.
#
# A GPU machine may have no package registry: build on an x86-64 build machine and copy the
# binary and the data over (CUDA itself is loaded at run time):
#   cargo build --release --locked --features cuda,multi-device --bin fusionrec   # here
#   bash scripts/gpu-check.sh [BIN] [DATA]                              # there (BIN: the binary,
#                                                                       # DATA: a folder with ml-100k/)
# For each trained model (BPR-MF through burn's Adam, LightGCN, the two-tower with tabular + KG
# content — MiniLM text is left out so that nothing else needs copying) it trains the same
# configuration and seed on the CPU (burn Flex) and on the GPU for a fixed number of epochs
# (validation only at the end, so every epoch runs), and prints
#   - throughput in training interactions per second, GPU vs CPU;
#   - the parity check: test NDCG@10 of both runs (|Δ| ≤ 0.01: same model up to float order),
#     and the GPU-trained bundle re-evaluated by the CPU scorer — the code the browser runs —
#     against the metrics recorded when it was trained (`eval` says "matches … yes").
# Then, when the machine has DEVICES (default 2) GPUs — or with DEVICE=flex, where the replicas
# are threads on the one CPU — BPR-MF and LightGCN train data-parallel (`--devices`, burn's
# collective all-reduce) and the script prints their throughput and test NDCG@10 beside the
# one-device runs above (different negative streams: the models agree in quality, not in bits).
# DEVICE=flex runs the whole script on the CPU (to check the script itself without a GPU).
set -euo pipefail
bin=${1:-target/release/fusionrec}
data=${2:-data}
device=${DEVICE:-cuda}
epochs=${EPOCHS:-10}
out=${OUT:-/tmp/fusionrec-gpu-check}
mkdir -p "$out"

"$bin" --version >/dev/null
echo "fusionrec GPU check: device $device, $epochs epochs each, ML-100K from $data/ml-100k"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

declare -A extra=(
    [bpr-mf]="--solver adam"
    [lightgcn]=""
    [hybrid]="--modalities tabular,kg"
)
for model in bpr-mf lightgcn hybrid; do
    for d in flex "$device"; do
        # shellcheck disable=SC2086 # extra[] holds several arguments
        "$bin" train --model "$model" --data "$data/ml-100k" --device "$d" --epochs "$epochs" \
            --eval-every "$epochs" ${extra[$model]} --out "$out/$model-$d" --json \
            > "$out/$model-$d.json" 2> "$out/$model-$d.log"
    done
    "$bin" eval --bundle "$out/$model-$device" --data "$data/ml-100k" > "$out/$model-$device.eval" 2>&1
done

python3 - "$out" "$device" <<'EOF'
import json, sys
out, device = sys.argv[1], sys.argv[2]
print(f"\n| model | CPU (Flex) interactions/s | {device} interactions/s | speed-up | "
      f"test NDCG@10 CPU | {device} | |Δ| | {device} bundle re-evaluated on the CPU |")
print("|---|---|---|---|---|---|---|---|")
worst = 0.0
for model in ["bpr-mf", "lightgcn", "hybrid"]:
    row = {}
    for d in ["flex", device]:
        r = json.load(open(f"{out}/{model}-{d}.json"))[model]
        t = r["timings"]
        epochs = json.load(open(f"{out}/{model}-{d}/manifest.json"))["model"]["epochs"]
        row[d] = (t["train_interactions"] * epochs / t["fit_seconds"], r["test"]["ndcg@10"])
    same = "matches the metrics recorded at training: yes" in open(f"{out}/{model}-{device}.eval").read()
    delta = abs(row["flex"][1] - row[device][1])
    worst = max(worst, delta)
    print(f"| {model} | {row['flex'][0]:,.0f} | {row[device][0]:,.0f} | "
          f"{row[device][0] / row['flex'][0]:.1f}× | {row['flex'][1]:.4f} | {row[device][1]:.4f} | "
          f"{delta:.4f} | {'yes' if same else 'NO'} |")
    if not same:
        sys.exit(f"{model}: the {device} bundle does not re-evaluate to its recorded metrics")
if worst > 0.01:
    sys.exit(f"test NDCG@10 differs by {worst:.4f} between the CPU and {device}")
print(f"\nparity: ok (largest |Δ NDCG@10| {worst:.4f}); raw output in {out}")
EOF

n_devices=${DEVICES:-2}
available=$n_devices
[ "$device" = flex ] || available=$( (nvidia-smi --list-gpus 2>/dev/null || true) | wc -l)
if [ "$available" -lt "$n_devices" ]; then
    echo "data-parallel check skipped: $available GPU(s), $n_devices asked (DEVICES)"
    exit 0
fi
for model in bpr-mf lightgcn; do
    # shellcheck disable=SC2086
    "$bin" train --model "$model" --data "$data/ml-100k" --device "$device" --devices "$n_devices" \
        --epochs "$epochs" --eval-every "$epochs" ${extra[$model]} --out "$out/$model-$device-x$n_devices" \
        --json > "$out/$model-$device-x$n_devices.json" 2> "$out/$model-$device-x$n_devices.log"
done
python3 - "$out" "$device" "$n_devices" <<'EOF'
import json, sys
out, device, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
print(f"\n| model | {device} ×1 interactions/s | {device} ×{n} interactions/s | speed-up | "
      f"test NDCG@10 ×1 | ×{n} |")
print("|---|---|---|---|---|---|")
for model in ["bpr-mf", "lightgcn"]:
    row = {}
    for tag in [f"{model}-{device}", f"{model}-{device}-x{n}"]:
        r = json.load(open(f"{out}/{tag}.json"))[model]
        t = r["timings"]
        manifest = json.load(open(f"{out}/{tag}/manifest.json"))["model"]
        row[tag] = (t["train_interactions"] * manifest["epochs"] / t["fit_seconds"], r["test"]["ndcg@10"])
    (a, na), (b, nb) = row.values()
    print(f"| {model} | {a:,.0f} | {b:,.0f} | {b / a:.2f}× | {na:.4f} | {nb:.4f} |")
EOF
