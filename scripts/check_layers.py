#!/usr/bin/env python3
"""The crate's layers, checked: every top-level module of src/ may use only modules of lower
layers (through `crate::X`), so no cycle between modules can come back. Unit-test blocks
(`#[cfg(test)] mod tests`, at the end of a file) may reach anywhere. Prints each module's
dependencies; exits 1 naming every edge that goes sideways or up, or any module missing here.

The layers, bottom to top, read as the pipeline (see src/lib.rs):
"""
import os
import re
import sys

LAYERS = [
    ["error", "rng", "kernels"],  # the error type; the seeded random stream; numeric kernels
    ["device", "io"],      # burn backends; weights, tensor files and checksums
    ["data"],              # datasets, splits, histories
    ["fuse", "eval"],      # fusion blocks; metrics and the protocol over any `Scores`
    ["encode"],            # text, image, audio, tabular, external features → modalities
    ["model"],             # the model zoo and the one training loop
    ["store"],             # the bundle: manifest + weights + catalog content
    ["rank"],              # serving: sessions, placement, the adaptor, device scoring
    ["train"],             # dataset → bundle pipelines and experiments
    ["web", "fuzzing"],    # the browser facade; the fuzzing entry points (the CLI is src/bin/fusionrec/)
]
__doc__ += "\n".join("  " + ", ".join(layer) for layer in LAYERS)

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
layer_of = {m: i for i, layer in enumerate(LAYERS) for m in layer}
mods = {}
for d in sorted(os.listdir(root)):
    p = os.path.join(root, d)
    if d.endswith(".rs") and d != "lib.rs":
        mods[d[:-3]] = [p]
    elif os.path.isdir(p) and d != "bin":
        mods[d] = [os.path.join(dp, f) for dp, _, fs in os.walk(p) for f in fs if f.endswith(".rs")]

problems = []
for m in mods:
    if m not in layer_of:
        problems.append(f"module '{m}' has no layer in scripts/check_layers.py")
edges = {m: set() for m in mods}
for m, files in mods.items():
    for f in files:
        src = open(f, encoding="utf-8").read()
        src = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", src, flags=re.S)
        names = set(re.findall(r"crate::(\w+)", src))
        for group in re.findall(r"crate::\{([^;]*)\}", src, flags=re.S):
            names |= set(re.findall(r"(?:^|[,{])\s*(\w+)", group))
        edges[m] |= {t for t in names if t in mods and t != m}

for m in sorted(mods, key=lambda m: (layer_of.get(m, 99), m)):
    print(f"{m:>7} (layer {layer_of.get(m, '?')}) -> {', '.join(sorted(edges[m])) or '-'}")
    for t in sorted(edges[m]):
        if m in layer_of and t in layer_of and layer_of[t] >= layer_of[m]:
            problems.append(f"{m} (layer {layer_of[m]}) uses {t} (layer {layer_of[t]})")

for p in problems:
    print("layering:", p, file=sys.stderr)
print(f"{len(mods)} modules, {sum(map(len, edges.values()))} dependencies, "
      f"{len(problems)} layering problems")
sys.exit(1 if problems else 0)
