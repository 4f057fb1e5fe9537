#!/usr/bin/env python3
"""The accuracy–diversity trade-off of MMR re-ranking on ML-100K, measured with fusionrec's CLI.

For each model (EASE + content, EASE, BPR-MF; README protocol: implicit ≥ 4, per-user 8:1:1,
seed 2026) a bundle is trained once (reused from WORK/<model> when present), then
`fusionrec eval --bundle B --diversity δ --json` re-ranks every user's list for each δ in
--deltas. MMR compares items in the bundle's item space (content blocks and item vectors; the
genres for EASE, which has neither); intra-list diversity (ILD@10) is always measured on the
genres, one ruler for every model and δ. Novelty@10 is the mean self-information of the listed
items (from training counts), coverage@20 the share of the catalog anyone is shown.

The δ a deployment would pick is chosen on validation only: the largest δ whose validation
NDCG@10 stays within --budget (default 5%) of δ = 0's. Its test row is marked.

    python3 bench/diversity.py                       # 3 models × 10 values of δ, ~2 min
    python3 bench/diversity.py --models ease --deltas 0,0.5

Prints a Markdown table and writes an SVG plot (--plot, default bench/diversity.svg) of test
NDCG@10 against test ILD@10, one curve per model. Standard library only; needs the release CLI
and `fusionrec fetch movielens-100k minilm`. A benchmark, not a test.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "fusionrec"
MODELS = {"ease-mm": "EASE + content", "ease": "EASE", "bpr-mf": "BPR-MF"}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def run(args):
    p = subprocess.run([str(BIN), *args], capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        sys.exit(f"fusionrec {' '.join(args)} failed:\n{p.stderr[-2000:]}")
    return p.stdout


def bundle(model, work):
    out = work / model
    if not (out / "manifest.json").exists():
        print(f"training {model} → {out}", file=sys.stderr, flush=True)
        run(["train", "--model", model, "--data", str(ROOT / "data" / "ml-100k"), "--out", str(out)])
    return out


def measure(b, delta):
    v = json.loads(run(["eval", "--bundle", str(b), "--diversity", str(delta), "--json"]).strip().splitlines()[-1])
    pick = lambda part: {m: v[part][m] for m in ["ndcg@10", "recall@20", "ild@10", "novelty@10", "coverage@20"]}
    return pick("valid"), pick("test")


def svg(curves, path):
    W, H, L, R, T, B = 640, 420, 70, 170, 30, 55
    xs = [p[0] for c in curves.values() for p in c]
    ys = [p[1] for c in curves.values() for p in c]
    x0, x1 = min(xs) - 0.01, max(xs) + 0.01
    y0, y1 = 0.0, max(ys) * 1.08
    px = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (y - y0) / (y1 - y0) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2 - 60}" y="18" font-size="14">MMR on ML-100K (test)</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
         f'<text x="{(L + W - R) / 2 - 70}" y="{H - 15}">ILD@10 (genres) →</text>',
         f'<text x="15" y="{(T + H - B) / 2 + 30}" transform="rotate(-90 15 {(T + H - B) / 2 + 30})">NDCG@10 →</text>']
    for i in range(6):
        x = x0 + (x1 - x0) * i / 5
        y = y0 + (y1 - y0) * i / 5
        o.append(f'<text x="{px(x) - 14}" y="{H - B + 16}">{x:.2f}</text>')
        o.append(f'<text x="{L - 40}" y="{py(y) + 4}">{y:.3f}</text>')
        o.append(f'<line x1="{L}" y1="{py(y)}" x2="{W - R}" y2="{py(y)}" stroke="#eee"/>')
    for n, (name, pts) in enumerate(curves.items()):
        c = COLORS[n % len(COLORS)]
        o.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="'
                 + " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in pts) + '"/>')
        for x, y, d in pts:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{c}"/>')
            if d in (0.0, 0.5, 0.9):
                o.append(f'<text x="{px(x) + 5:.1f}" y="{py(y) - 5:.1f}" font-size="10" fill="{c}">δ={d:g}</text>')
        o.append(f'<rect x="{W - R + 15}" y="{T + 20 * n}" width="12" height="12" fill="{c}"/>')
        o.append(f'<text x="{W - R + 32}" y="{T + 20 * n + 11}">{escape(name)}</text>')
    o.append("</svg>")
    Path(path).write_text("\n".join(o) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--deltas", default="0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9")
    ap.add_argument("--work", default="/tmp/fusionrec-diversity")
    ap.add_argument("--budget", type=float, default=0.05, help="validation NDCG@10 loss allowed")
    ap.add_argument("--plot", default=str(ROOT / "bench" / "diversity.svg"))
    ap.add_argument("--json", help="write every figure here")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    deltas = [float(d) for d in a.deltas.split(",")]
    rows, curves, raw = [], {}, {}
    for model in a.models.split(","):
        b = bundle(model, work)
        runs = [(d, *measure(b, d)) for d in deltas]
        raw[model] = [{"diversity": d, "valid": v, "test": t} for d, v, t in runs]
        base = runs[0][1]["ndcg@10"] if runs[0][0] == 0 else None
        chosen = None
        if base is not None:
            ok = [d for d, v, _ in runs if v["ndcg@10"] >= (1 - a.budget) * base]
            chosen = max(ok) if ok else None
        for d, v, t in runs:
            mark = " ←" if d == chosen else ""
            rows.append(f"| {MODELS.get(model, model)} | {d:g}{mark} | {v['ndcg@10']:.4f} | {t['ndcg@10']:.4f} | "
                        f"{t['recall@20']:.4f} | {t['ild@10']:.4f} | {t['novelty@10']:.3f} | {t['coverage@20']:.4f} |")
        curves[MODELS.get(model, model)] = [(t["ild@10"], t["ndcg@10"], d) for d, _, t in runs]
    print(f"MMR re-ranking on ML-100K (implicit ≥ 4, per-user 8:1:1, seed 2026); ← the largest δ "
          f"within {a.budget:.0%} of δ = 0's validation NDCG@10\n")
    print("| model | δ | valid NDCG@10 | test NDCG@10 | test Recall@20 | test ILD@10 | test novelty@10 | test coverage@20 |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    svg(curves, a.plot)
    print(f"\nplot: {a.plot}", file=sys.stderr)
    if a.json:
        Path(a.json).write_text(json.dumps(raw, indent=1))


if __name__ == "__main__":
    main()
