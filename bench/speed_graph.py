#!/usr/bin/env python3
"""Epoch speed of fusionrec's LightGCN and two-tower against peers, side by side in one run on
this machine, on the ML-100K bench split (README, "Same split, same scorer"):

- LightGCN (BPR, one uniform negative, dim 64, 2 layers, batch 1024, Adam lr 5e-3, L2 1e-4 on
  the batch's layer-0 embeddings) against RecBole 1.2.1's LightGCN with the same settings
  (bench/lightgcn_peer.py);
- the two-tower (`--model hybrid --modalities tabular --user-recent false`: id + tabular item
  tower with gated fusion, history user tower, full-catalog softmax) against a torch reference
  of the same architecture and loss written for this benchmark (bench/two_tower_ref.py);
- Mult-DAE (200 wide, dropout 0.5, batch 128, Adam 1e-3) against a torch reference of the same
  architecture and loss (bench/multdae_ref.py).

    python3 bench/speed_graph.py --python /tmp/torch-venv/bin/python --repeats 3

Runs alternate (fusionrec, peer, fusionrec, peer, …) and the median over repeats is reported,
so that load from other processes falls on both sides alike. fusionrec's epoch is the marginal
`fit` time of a longer run over a shorter one (validation only at the end of each, so the
fixed costs cancel); a peer's is the median of its timed epochs after a warm-up epoch. Prints a
Markdown table and writes every raw figure to --out as JSON. Build first:
`cargo build --release --bin fusionrec`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "fusionrec"

MODELS = {
    # name: (fusionrec arguments, (short, long) epochs, peer script)
    "lightgcn": (["--model", "lightgcn", "--loss", "bpr", "--dim", "64", "--layers", "2",
                  "--batch-size", "1024", "--lr", "5e-3", "--weight-decay", "1e-4"],
                 (2, 8), "lightgcn_peer.py"),
    "hybrid": (["--model", "hybrid", "--modalities", "tabular", "--user-recent", "false",
                "--dim", "64", "--batch-size", "1024"],
               (1, 3), "two_tower_ref.py"),
    "mult-dae": (["--model", "mult-dae", "--dim", "200", "--dropout", "0.5"],
                 (2, 12), "multdae_ref.py"),
}


def fit_seconds(binary, split, args, epochs, out):
    cmd = [str(binary), "train", "--split", "given", "--train", f"{split}/train.csv",
           "--valid", f"{split}/valid.csv", "--test", f"{split}/test.csv",
           "--items", f"{split}/items.csv", "--out", str(out), "--json",
           "--epochs", str(epochs), "--eval-every", str(epochs)] + args
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-2000:]}")
    r = next(iter(json.loads(p.stdout).values()))
    return r["timings"]["fit_seconds"], r["timings"]["train_interactions"], r["valid"]["ndcg@10"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable, help="a Python with torch and RecBole")
    ap.add_argument("--split", default="/tmp/bench-data/ml-100k/split")
    ap.add_argument("--bin", default=str(BIN))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="lightgcn,hybrid,mult-dae")
    ap.add_argument("--out", default="bench/speed_graph.json")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fusionrec-speed-graph-"))
    raw = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "runs": []}
    rows = []
    for name in a.models.split(","):
        args, (short, long), script = MODELS[name]
        ours, peers, n = [], [], None
        for rep in range(a.repeats):
            t_short, n, _ = fit_seconds(a.bin, a.split, args, short, work / name)
            t_long, _, valid = fit_seconds(a.bin, a.split, args, long, work / name)
            ours.append((t_long - t_short) / (long - short))
            p = subprocess.run([a.python, str(ROOT / "bench" / script), "--split", a.split,
                                "--epochs", str(long - short)],
                               capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit(f"{script} failed:\n{p.stderr[-2000:]}")
            peer = json.loads(p.stdout.strip().splitlines()[-1])
            peers.append(peer["epoch_s"])
            raw["runs"].append({"model": name, "repeat": rep, "fusionrec_epoch_s": ours[-1],
                                "fusionrec_fit_s": {short: t_short, long: t_long},
                                "fusionrec_valid_ndcg10_after_long": valid,
                                "peer": peer, "load": os.getloadavg()})
            print(f"{name} #{rep}: fusionrec {ours[-1]:.3f} s/epoch, {peer['peer']} "
                  f"{peer['epoch_s']:.3f} s/epoch", file=sys.stderr)
        mo, mp = statistics.median(ours), statistics.median(peers)
        rows.append((name, peer["peer"], n, mo, mp))
    raw["load_after"] = os.getloadavg()
    print(f"\nML-100K bench split, {os.cpu_count()} CPUs, load average before "
          f"{raw['load_before'][0]:.1f}, after {raw['load_after'][0]:.1f}; "
          f"median of {a.repeats} alternating repeats\n")
    print("| model | fusionrec epoch | fusionrec interactions/s | peer | peer epoch "
          "| peer interactions/s | time ratio (fusionrec / peer) |")
    print("|---|---|---|---|---|---|---|")
    for name, peer, n, mo, mp in rows:
        print(f"| {name} | {mo:.2f} s | {n / mo:,.0f} | {peer} | {mp:.2f} s | {n / mp:,.0f} "
              f"| {mo / mp:.2f}× |")
    Path(a.out).write_text(json.dumps(raw, indent=1))
    print(f"\nraw figures: {a.out}")


if __name__ == "__main__":
    main()
