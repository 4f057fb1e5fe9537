#!/usr/bin/env python3
"""fusionrec from 10³ to 10⁶ items, end to end, every figure measured in one run on this machine.

For each catalog size N in --sizes:
  1. a synthetic catalog (`fusionrec synth`: N items, max(1000, N/5) users, 10·N interactions),
     reused from an earlier run when WORK/N/data/synth.json records the same parameters;
  2. `train` with --precision int8 and --eval-users 2000: BPR-MF (64-d, 20 epochs), sparse EASE
     (K 64, 100 weights per item) and, for N ≤ 10⁴, dense EASE; wall time and peak resident
     memory by GNU time, the fit phase and test NDCG@10 from `train --json`;
  3. the serving bundle of the BPR-MF model (`fusionrec serving`): bytes on disk, bytes per item;
  4. Chromium loading it (`BACKENDS=cpu node bench/catalog.mjs BUNDLE --json`): load time,
     top-10 latency, wasm memory and the renderers' peak memory over what they held before;
  5. for N ≤ 10⁴, numpy's EASE (bench/ease_numpy.py, float32, same λ) on the same train.csv with
     --python: the ratio fusionrec dense EASE fit / numpy fit.

    python3 bench/scale.py                                  # 10³, 10⁴, 10⁵, 10⁶ items
    python3 bench/scale.py --sizes 1000,10000 --skip-browser

Prints a Markdown table, writes a log-log SVG plot (--plot) and every raw figure as JSON
(--out-json). A step that fails shows as "failed" in the table, with its error printed below it;
"–" means not run (by design or by option, said in the notes). Standard library only. Needs the
release CLI and the browser package (`cargo build --release --bin fusionrec`,
`bash scripts/build-wasm.sh web`); a benchmark, not a test. Files go to WORK/N/ (data, bpr,
ease-dense, ease-sparse, bpr-serving). 10⁶ items need about 14 GB of memory (sparse EASE peaked
at 13.2 GB in the README's million-item run) and several minutes per model on 2 cores.
"""

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "fusionrec"
EASE_LAMBDA = 200.0  # fusionrec's EASE default (src/model/ease.rs); given to numpy as well
DENSE_MAX = 10_000  # dense EASE and the numpy peer: n × n matrices, run up to this size
BROWSER_TIMEOUT_S = 3600


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tail(text, n=1500):
    text = (text or "").strip()
    return text if len(text) <= n else "…" + text[-n:]


def run(cmd, env=None, timeout=None, timed=True):
    """Runs cmd (under GNU time when `timed`). Returns a dict: ok, wall_s, peak_mb, stdout,
    error (None when ok). Never raises for the command's own failure."""
    res = {"cmd": [str(c) for c in cmd], "ok": False, "error": None}
    full_env = dict(os.environ, **(env or {}))
    with tempfile.NamedTemporaryFile(suffix=".time", delete=False) as f:
        time_file = f.name
    full = (["/usr/bin/time", "-f", "%e %M", "-o", time_file] if timed else []) + res["cmd"]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(full, capture_output=True, text=True, env=full_env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        res["error"] = f"timed out after {timeout} s\n{tail(e.stderr if isinstance(e.stderr, str) else '')}"
        os.unlink(time_file)
        return res
    except OSError as e:
        res["error"] = f"could not start: {e}"
        os.unlink(time_file)
        return res
    res["wall_s"] = time.perf_counter() - t0
    res["stdout"] = p.stdout
    res["stderr_tail"] = tail(p.stderr, 600)
    if timed:
        try:
            # GNU time appends its line (after a "Command exited…" line on failure).
            wall, kb = Path(time_file).read_text().strip().splitlines()[-1].split()
            res["wall_s"], res["peak_mb"] = float(wall), int(kb) / 1024
        except (OSError, ValueError):
            pass
    os.unlink(time_file)
    if p.returncode != 0:
        res["error"] = f"exit status {p.returncode}\n{tail(p.stderr or p.stdout)}"
    else:
        res["ok"] = True
    return res


def last_json(stdout):
    """The JSON object a command printed: the whole stdout, else its last line that parses."""
    try:
        return json.loads(stdout)
    except ValueError:
        pass
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise ValueError(f"no JSON in the output: {tail(stdout, 300)!r}")


def failed(step, error):
    return {"ok": False, "error": f"{step}: {error}"}


def synth(n, data):
    """The synthetic catalog for size n in `data`, reused when synth.json matches."""
    params = {"items": n, "users": max(1000, n // 5), "interactions": 10 * n}
    meta = data / "synth.json"
    files = ["train.csv", "valid.csv", "test.csv", "items.csv"]
    if meta.is_file() and all((data / f).is_file() for f in files):
        try:
            info = json.loads(meta.read_text())
            if all(info["config"].get(k) == v for k, v in params.items()):
                log(f"  synth: reusing {data}")
                return {"ok": True, "reused": True, "params": params, "synth": info}
        except (ValueError, KeyError, AttributeError):
            pass
    if data.exists():
        shutil.rmtree(data)
    log(f"  synth: {params}")
    r = run([BIN, "synth", "--items", n, "--users", params["users"],
             "--interactions", params["interactions"], "--out", data])
    if not r["ok"]:
        return failed("synth", r["error"])
    try:
        info = json.loads(meta.read_text())
    except (OSError, ValueError) as e:
        return failed("synth", f"no readable synth.json: {e}")
    return {"ok": True, "reused": False, "params": params, "synth": info,
            "wall_s": r["wall_s"], "peak_mb": r.get("peak_mb")}


def train(data, model, extra, out):
    cmd = [BIN, "train", "--model", model, "--precision", "int8", "--eval-users", "2000",
           "--split", "given", "--train", data / "train.csv", "--valid", data / "valid.csv",
           "--test", data / "test.csv", "--items", data / "items.csv",
           "--out", out, "--json"] + extra
    r = run(cmd)
    if not r["ok"]:
        return failed(f"train {model} {' '.join(map(str, extra))}", r["error"])
    try:
        res = last_json(r["stdout"])[model]
        fit, ndcg = res["timings"]["fit_seconds"], res["test"]["ndcg@10"]
    except (ValueError, KeyError, TypeError) as e:
        return failed(f"train {model}", f"unexpected --json output ({e})")
    return {"ok": True, "cmd": " ".join(r["cmd"]), "wall_s": r["wall_s"],
            "peak_mb": r.get("peak_mb"), "fit_s": fit, "test_ndcg10": ndcg,
            "train_interactions": res["timings"].get("train_interactions"),
            "eval_users": res["test"].get("users")}


def dir_bytes(d):
    return sum(p.stat().st_size for p in Path(d).rglob("*") if p.is_file())


def serving(bundle, out):
    if out.exists():
        shutil.rmtree(out)
    r = run([BIN, "serving", "--bundle", bundle, "--out", out])
    if not r["ok"]:
        return failed("serving", r["error"])
    try:
        items = json.loads((out / "manifest.json").read_text())["dims"]["items"]
    except (OSError, ValueError, KeyError) as e:
        return failed("serving", f"no readable manifest.json: {e}")
    b = dir_bytes(out)
    return {"ok": True, "wall_s": r["wall_s"], "bytes": b, "items": items,
            "bytes_per_item": b / items if items else None}


def browser(bundle):
    r = run(["node", ROOT / "bench" / "catalog.mjs", bundle, "--json"], env={"BACKENDS": "cpu"},
            timeout=BROWSER_TIMEOUT_S, timed=False)
    if not r["ok"]:
        return failed("browser (bench/catalog.mjs)", r["error"])
    try:
        out = last_json(r["stdout"])
        row = next(x for x in out["rows"] if x["bundle"] == "catalog" and x["backend"] == "cpu")
        keys = ["load_ms", "recommend_ms", "wasm_memory_bytes", "memory_peak_bytes"]
        got = {k: float(row[k]) for k in keys}
    except (ValueError, KeyError, TypeError, StopIteration) as e:
        return failed("browser (bench/catalog.mjs)", f"no catalog/cpu row in its JSON ({e!r})")
    return {"ok": True, **got, "served_by": row.get("served_by"), "rows": out["rows"]}


def peer(python, data):
    r = run([python, ROOT / "bench" / "ease_numpy.py", "--train", data / "train.csv",
             "--items", data / "items.csv", "--lam", f"{EASE_LAMBDA:g}", "--dtype", "float32"],
            env={"PYTHONDONTWRITEBYTECODE": "1"}, timed=False)
    if not r["ok"]:
        return failed("numpy EASE (bench/ease_numpy.py)", r["error"])
    try:
        out = last_json(r["stdout"])
        return {"ok": True, "fit_s": float(out["fit_s"]), "numpy": out}
    except (ValueError, KeyError, TypeError) as e:
        return failed("numpy EASE", f"unexpected output ({e})")


def brief_error(step):
    lines = step["error"].strip().splitlines()
    return "FAILED: " + " / ".join(lines[:1] + lines[-1:] if len(lines) > 1 else lines)


def one_size(n, work, a, have_python):
    d = work / str(n)
    d.mkdir(parents=True, exist_ok=True)
    data = d / "data"
    row = {"n": n}
    log(f"N = {n:,}")
    row["data"] = synth(n, data)
    if not row["data"]["ok"]:
        keys = ["bpr", "sparse_ease", "serving"] + ([] if a.skip_browser else ["browser"])
        if n <= DENSE_MAX:
            keys += ["dense_ease"] + (["peer"] if have_python else [])
        for k in keys:
            row[k] = failed(k, "no synthetic catalog")
        return row
    lam = ["--lambda", f"{EASE_LAMBDA:g}"]
    steps = [("bpr", "bpr-mf", ["--dim", "64", "--epochs", "20"], d / "bpr")]
    if n <= DENSE_MAX:
        steps.append(("dense_ease", "ease", lam, d / "ease-dense"))
    steps.append(("sparse_ease", "ease", ["--candidates", "64", "--neighbors", "100"] + lam,
                  d / "ease-sparse"))
    for key, model, extra, out in steps:
        log(f"  train {model} {' '.join(extra)}")
        row[key] = train(data, model, extra, out)
        log("    " + (f"fit {row[key]['fit_s']:.2f} s, whole {row[key]['wall_s']:.1f} s, "
                      f"peak {row[key]['peak_mb']:.0f} MB, NDCG@10 {row[key]['test_ndcg10']:.4f}"
                      if row[key]["ok"] else brief_error(row[key])))
    if n <= DENSE_MAX and have_python:
        log(f"  numpy EASE ({a.python})")
        row["peer"] = peer(a.python, data)
        log("    " + (f"fit {row['peer']['fit_s']:.2f} s" if row["peer"]["ok"] else brief_error(row["peer"])))
    if row["bpr"]["ok"]:
        log("  serving bundle")
        row["serving"] = serving(d / "bpr", d / "bpr-serving")
        log("    " + (f"{row['serving']['bytes']:,} bytes, {row['serving']['items']:,} items"
                      if row["serving"]["ok"] else brief_error(row["serving"])))
    else:
        row["serving"] = failed("serving", "BPR-MF training failed")
    if not a.skip_browser:
        if row["serving"]["ok"]:
            log("  browser (Chromium, CPU backend)")
            row["browser"] = browser(d / "bpr-serving")
            log("    " + (f"load {row['browser']['load_ms'] / 1000:.2f} s, recommend "
                          f"{row['browser']['recommend_ms']:.1f} ms" if row["browser"]["ok"] else brief_error(row["browser"])))
        else:
            row["browser"] = failed("browser", "no serving bundle")
    return row


# ---- the table ----------------------------------------------------------------------------

COLUMNS = ["items", "interactions", "BPR fit s", "BPR peak MB", "sparse EASE fit s",
           "dense EASE fit s", "dense / numpy fit", "NDCG@10 BPR", "NDCG@10 sparse EASE",
           "NDCG@10 dense EASE", "bundle MB", "bytes/item", "browser load s", "recommend ms",
           "wasm MB", "renderer peak MB"]


def cell(step, fmt):
    """fmt(step) when the step ran and succeeded; "failed" when it failed; "–" when not run."""
    if step is None:
        return "–"
    if not step.get("ok"):
        return "failed"
    return fmt(step)


def ratio_cell(row):
    dense, p = row.get("dense_ease"), row.get("peer")
    if dense is None or p is None:
        return "–"
    if not dense["ok"] or not p["ok"]:
        return "failed"
    return f"{dense['fit_s']:.3g} / {p['fit_s']:.3g} s = {dense['fit_s'] / p['fit_s']:.2f}×"


def table_row(row):
    data = row["data"]
    b, s, e = row.get("bpr"), row.get("sparse_ease"), row.get("dense_ease")
    sv, br = row.get("serving"), row.get("browser")
    inter = cell(data, lambda x: f"{x['synth']['train'] + x['synth']['valid'] + x['synth']['test']:,}")
    return [
        f"{row['n']:,}", inter,
        cell(b, lambda x: f"{x['fit_s']:.3g}"), cell(b, lambda x: f"{x['peak_mb']:.0f}"),
        cell(s, lambda x: f"{x['fit_s']:.3g}"), cell(e, lambda x: f"{x['fit_s']:.3g}"),
        ratio_cell(row),
        cell(b, lambda x: f"{x['test_ndcg10']:.4f}"), cell(s, lambda x: f"{x['test_ndcg10']:.4f}"),
        cell(e, lambda x: f"{x['test_ndcg10']:.4f}"),
        cell(sv, lambda x: f"{x['bytes'] / 1e6:.2f}"),
        cell(sv, lambda x: f"{x['bytes_per_item']:.0f}" if x["bytes_per_item"] else "–"),
        cell(br, lambda x: f"{x['load_ms'] / 1000:.3g}"), cell(br, lambda x: f"{x['recommend_ms']:.3g}"),
        cell(br, lambda x: f"{x['wasm_memory_bytes'] / 1e6:.1f}"),
        cell(br, lambda x: f"{x['memory_peak_bytes'] / 1e6:.1f}"),
    ]


def errors(rows):
    out = []
    for row in rows:
        for key, step in row.items():
            if isinstance(step, dict) and not step.get("ok", True):
                out.append((row["n"], key, step["error"]))
    return out


# ---- the plot -----------------------------------------------------------------------------

SERIES = [  # (label, colour, value from a row or None)
    ("BPR-MF fit (s)", "#1f77b4", lambda r: r["bpr"]["fit_s"] if r.get("bpr", {}).get("ok") else None),
    ("sparse EASE fit (s)", "#d62728",
     lambda r: r["sparse_ease"]["fit_s"] if r.get("sparse_ease", {}).get("ok") else None),
    ("serving bundle (MB)", "#2ca02c",
     lambda r: r["serving"]["bytes"] / 1e6 if r.get("serving", {}).get("ok") else None),
    ("browser load (s)", "#ff7f0e",
     lambda r: r["browser"]["load_ms"] / 1000 if (r.get("browser") or {}).get("ok") else None),
    ("recommend, top-10 (ms)", "#9467bd",
     lambda r: r["browser"]["recommend_ms"] if (r.get("browser") or {}).get("ok") else None),
]


def tick_label(e):
    v = 10.0 ** e
    if e >= 3:
        return f"{int(v):,}"
    if e >= 0:
        return str(int(v))
    return f"{v:.{-e}f}"


def svg_plot(rows, subtitle):
    W, H = 760, 500
    left, right, top, bottom = 80, 230, 50, 60
    pw, ph = W - left - right, H - top - bottom
    series = []
    for label, colour, get in SERIES:
        pts = []
        for r in rows:
            v = get(r)
            if v is not None and v > 0:
                pts.append((r["n"], v))
        series.append((label, colour, pts))
    xs = [r["n"] for r in rows] or [1000]
    ys = [v for _, _, pts in series for _, v in pts]
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    if x1 == x0:
        x1 += 1
    if ys:
        y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    else:
        y0, y1 = 0, 1
    if y1 == y0:
        y1 += 1

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * pw

    def py(y):
        return top + ph - (math.log10(y) - y0) / (y1 - y0) * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         'font-family="sans-serif" font-size="12">',
         f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
         f'<text x="{left + pw / 2:.1f}" y="22" text-anchor="middle" font-size="15">'
         'fusionrec against catalog size (log-log)</text>',
         f'<text x="{left + pw / 2:.1f}" y="38" text-anchor="middle" font-size="11" fill="#555">'
         f'{escape(subtitle)}</text>']
    for e in range(x0, x1 + 1):
        x = left + (e - x0) / (x1 - x0) * pw
        o.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{top + ph + 18}" text-anchor="middle">{tick_label(e)}</text>')
    for e in range(y0, y1 + 1):
        y = top + ph - (e - y0) / (y1 - y0) * ph
        o.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{tick_label(e)}</text>')
    o.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
    o.append(f'<text x="{left + pw / 2:.1f}" y="{H - 15}" text-anchor="middle">'
             'catalog size (items)</text>')
    o.append(f'<text transform="translate(20 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle">'
             'value (unit per series: s, MB, ms)</text>')
    for label, colour, pts in series:
        if len(pts) > 1:
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            o.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in pts:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}">'
                     f'<title>{escape(label)}: {y:.4g} at {x:,} items</title></circle>')
    lx, ly = left + pw + 20, top + 10
    o.append(f'<rect x="{lx - 8}" y="{ly - 8}" width="{right - 24}" height="{22 * len(series) + 8}" '
             'fill="white" stroke="#999"/>')
    for i, (label, colour, pts) in enumerate(series):
        y = ly + 22 * i + 8
        o.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 22}" y2="{y}" stroke="{colour}" stroke-width="2"/>')
        o.append(f'<circle cx="{lx + 11}" cy="{y}" r="3.5" fill="{colour}"/>')
        note = "" if pts else " (no data)"
        o.append(f'<text x="{lx + 30}" y="{y + 4}">{escape(label + note)}</text>')
    if not ys:
        o.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" text-anchor="middle" '
                 'fill="#a00">no measurement succeeded</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


# ---- main ---------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/fusionrec-scale", help="working folder (DIR)")
    ap.add_argument("--sizes", default="1000,10000,100000,1000000",
                    help="catalog sizes (items), comma-separated")
    ap.add_argument("--python", default="/tmp/bench-venv/bin/python",
                    help="a Python with numpy, for the numpy EASE peer (N ≤ 10⁴)")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--plot", default=str(ROOT / "bench" / "scale.svg"))
    ap.add_argument("--out-json", help="raw results (default DIR/scale.json)")
    a = ap.parse_args()
    try:
        sizes = [int(s.replace("_", "")) for s in a.sizes.split(",") if s.strip()]
    except ValueError:
        sys.exit(f"--sizes: expected comma-separated integers, got {a.sizes!r}")
    if not sizes or min(sizes) < 1:
        sys.exit("--sizes: give at least one positive size")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    out_json = Path(a.out_json) if a.out_json else work / "scale.json"
    if not BIN.is_file():
        sys.exit(f"{BIN} is missing: cargo build --release --bin fusionrec")

    notes = []
    have_python = Path(a.python).is_file() and os.access(a.python, os.X_OK)
    if not have_python and any(n <= DENSE_MAX for n in sizes):
        notes.append(f"numpy peer not run: no interpreter at {a.python} (--python)")
    if a.skip_browser:
        notes.append("browser columns not run (--skip-browser)")
    elif not (ROOT / "pkg" / "web" / "fusionrec_bg.wasm").is_file():
        notes.append("pkg/web is missing (bash scripts/build-wasm.sh web): the browser step will fail")

    t0 = time.perf_counter()
    rows = []
    for n in sorted(set(sizes)):
        rows.append(one_size(n, work, a, have_python))
    total = time.perf_counter() - t0

    if any(r["n"] > DENSE_MAX for r in rows):
        notes.append(f"dense EASE and the numpy peer run only up to {DENSE_MAX:,} items (n × n matrices)")
    reused = [f"{r['n']:,}" for r in rows if r["data"].get("reused")]
    if reused:
        notes.append(f"synthetic catalog reused from {work} for N = {', '.join(reused)} "
                     "(its generation not timed in this run)")
    print(f"\nfusionrec scale benchmark: {platform.node()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {total:.0f} s in all\n")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for r in rows:
        print("| " + " | ".join(table_row(r)) + " |")
    print("\nAll models trained with --precision int8 --eval-users 2000 (NDCG@10 on the test part of "
          f"a 2,000-user sample). BPR-MF 64-d, 20 epochs (SGD); sparse EASE K 64, 100 weights per "
          f"item; EASE λ {EASE_LAMBDA:g} (numpy peer: bench/ease_numpy.py, float32, same λ). "
          "Fit = `train`'s fit phase; peak = GNU time's maximum resident set of the whole `train`. "
          "Bundle = the BPR-MF serving bundle (bytes/item over the bundle's items). Browser = "
          "bench/catalog.mjs, Chromium headless, CPU backend: load, median top-10 for a 5-item "
          "history, wasm memory, and the renderers' peak over what they held before the load.")
    for note in notes:
        print(f"- {note}")
    errs = errors(rows)
    if errs:
        print("\nFailed steps:")
        for n, key, err in errs:
            print(f"\n[N = {n:,}] {key}:\n{err}")

    subtitle = (f"{platform.node()}, {os.cpu_count()} cores, "
                f"{time.strftime('%Y-%m-%d', time.gmtime())}; int8 bundles, BPR-MF 64-d, sparse EASE K 64")
    Path(a.plot).parent.mkdir(parents=True, exist_ok=True)
    Path(a.plot).write_text(svg_plot(rows, subtitle))
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(), "cpus": os.cpu_count(), "binary": str(BIN),
        "ease_lambda": EASE_LAMBDA, "python": a.python if have_python else None,
        "total_s": total, "notes": notes, "rows": rows,
    }, indent=1, default=str))
    print(f"\nplot: {a.plot}\nraw figures: {out_json}")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
