#!/usr/bin/env python3
"""Training speed against peers, side by side in one run on this machine: EASE's fit against the
numpy reference (bench/ease_numpy.py) and a BPR-MF epoch against implicit's Cython BPR
(bench/bpr_peer.py), on the ML-100K bench split and on synthetic catalogs (`fusionrec synth`).

    python3 bench/speed.py --python /tmp/bench-venv/bin/python      # numpy, implicit installed there
    python3 bench/speed.py --synth 10000 --synth 20000 --skip-bpr

Prints a Markdown table (and writes it with every raw figure to --out as JSON). Times are wall
clock; memory is the peak resident set of each process (GNU time). fusionrec's figures are the
`fit` phase that `train` reports (training only, not data loading or the final evaluation); a
BPR epoch is the marginal time of `--epochs 40` over `--epochs 10` with validation only at the
end, so fixed costs cancel. Build first: `cargo build --release --bin fusionrec`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "fusionrec"


def timed(cmd):
    """Runs cmd under GNU time; returns (stdout, stderr, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile(suffix=".txt") as f:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name] + cmd,
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr[-2000:]}")
        rss = int(Path(f.name).read_text().split()[-1]) / 1024
    return p.stdout, p.stderr, rss


def train(split, model, extra, out):
    cmd = [str(BIN), "train", "--model", model, "--split", "given",
           "--train", f"{split}/train.csv", "--valid", f"{split}/valid.csv",
           "--test", f"{split}/test.csv", "--items", f"{split}/items.csv",
           "--out", str(out), "--json"] + extra
    stdout, _, rss = timed(cmd)
    result = json.loads(stdout)[model]
    return result["timings"]["fit_seconds"], result["test"]["ndcg@10"], rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable, help="a Python with numpy and implicit")
    ap.add_argument("--ml100k", default="/tmp/bench-data/ml-100k/split")
    ap.add_argument("--synth", type=int, action="append", help="synthetic catalog sizes (items)")
    ap.add_argument("--skip-bpr", action="store_true")
    ap.add_argument("--out", default="bench/speed.json")
    a = ap.parse_args()
    sizes = a.synth or [10_000]
    work = Path(tempfile.mkdtemp(prefix="fusionrec-speed-"))
    datasets = []
    if Path(a.ml100k, "train.csv").is_file():
        datasets.append(("ML-100K", a.ml100k, 350.0))
    else:
        print(f"(no ML-100K bench split at {a.ml100k}: see README, 'Same split, same scorer')")
    for n in sizes:
        d = work / f"synth-{n}"
        subprocess.run([str(BIN), "synth", "--out", str(d), "--items", str(n),
                        "--users", str(n), "--interactions", str(50 * n)],
                       check=True, capture_output=True)
        datasets.append((f"synthetic {n:,} items", str(d), 200.0))

    rows, raw = [], []
    for name, split, lam in datasets:
        fit, ndcg, rss = train(split, "ease", ["--lambda", str(lam)], work / "ease")
        ref = json.loads(subprocess.run(
            [a.python, str(ROOT / "bench" / "ease_numpy.py"), "--train", f"{split}/train.csv",
             "--items", f"{split}/items.csv", "--lam", str(lam), "--dtype", "float32"],
            capture_output=True, text=True, check=True).stdout)
        raw.append({"task": "ease fit", "data": name, "fusionrec_s": fit, "fusionrec_rss_mb": rss,
                    "fusionrec_test_ndcg10": ndcg, "numpy": ref})
        rows.append((f"EASE fit, {name}" + ("" if "items" in name else f" ({ref['items']:,} items)"), f"{fit:.2f} s, {rss:.0f} MB",
                     f"numpy f32 inv: {ref['fit_s']:.2f} s, {ref['peak_rss_mb']:.0f} MB",
                     f"{fit / ref['fit_s']:.2f}×"))

    if not a.skip_bpr:
        for name, split, _ in datasets[:1]:
            epochs = {}
            # "adam x2": two data-parallel replicas (threads on this CPU), in a binary built
            # with --features multi-device (skipped otherwise).
            multi = "--devices" in subprocess.run([str(BIN), "train", "--help"],
                                                  capture_output=True, text=True).stdout
            variants = [("sgd", []), ("adam", [])] + ([("adam x2", ["--devices", "2"])] if multi else [])
            for solver, extra in variants:
                t = {}
                for e in (10, 40):
                    t[e], _, _ = train(split, "bpr-mf", ["--solver", solver.split()[0], "--epochs", str(e),
                                                         "--eval-every", str(e)] + extra, work / "bpr")
                epochs[solver] = (t[40] - t[10]) / 30
            peer = json.loads(subprocess.run(
                [a.python, str(ROOT / "bench" / "bpr_peer.py"), "--train", f"{split}/train.csv",
                 "--items", f"{split}/items.csv", "--factors", "128", "--epochs", "30"],
                capture_output=True, text=True, check=True).stdout)
            raw.append({"task": "bpr epoch", "data": name, "fusionrec_epoch_s": epochs,
                        "implicit": peer})
            for solver, threads in [("sgd", "1 thread"), ("adam", "burn Flex"),
                                    ("adam x2", "burn Flex, 2 replicas")]:
                if solver not in epochs:
                    continue
                rows.append((f"BPR-MF epoch, {name}, 128-d, {solver} ({threads})",
                             f"{1000 * epochs[solver]:.1f} ms",
                             f"implicit BPR (2 threads): {1000 * peer['epoch_s']:.1f} ms",
                             f"{epochs[solver] / peer['epoch_s']:.2f}×"))

    print("\n| task | fusionrec | peer, same machine, same run | ratio |")
    print("|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    Path(a.out).write_text(json.dumps(raw, indent=1))
    print(f"\nraw figures: {a.out}")


if __name__ == "__main__":
    main()
