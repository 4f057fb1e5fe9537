#!/usr/bin/env python3
"""The numpy reference for EASE's fit: B = I - P diag(1/diag(P)), P = (XᵀX + λI)⁻¹.

Reads a given split's train.csv (`user,item[,…]` header; ids as written by `fusionrec synth` or
`../shared/bench/prepare_split.py`), builds the binary user × item matrix over the items listed
in --items (or those seen in training), and times the Gram product and `np.linalg.inv` as numpy
users write them. Prints one JSON line: items, seconds for each step, peak RSS.

    python bench/ease_numpy.py --train D/train.csv --items D/items.csv --lam 200 --dtype float32

Only numpy is needed. Timing covers the Gram matrix, the inverse and B (not reading the CSV).
"""

import argparse
import json
import resource
import time

import numpy as np

from split_csv import read_train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--items")
    ap.add_argument("--lam", type=float, default=200.0)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    a = ap.parse_args()

    n_users, rows, cols, n = read_train(a.train, a.items)
    dt = np.dtype(a.dtype)

    t0 = time.perf_counter()
    x = np.zeros((n_users, n), dtype=dt)
    x[np.array(rows), np.array(cols)] = 1.0
    g = x.T @ x
    del x
    g[np.diag_indices(n)] += a.lam
    t1 = time.perf_counter()
    p = np.linalg.inv(g)
    t2 = time.perf_counter()
    b = p / (-np.diag(p))
    b[np.diag_indices(n)] = 0.0
    t3 = time.perf_counter()
    print(json.dumps({
        "items": n,
        "users": n_users,
        "dtype": a.dtype,
        "gram_s": round(t1 - t0, 3),
        "inverse_s": round(t2 - t1, 3),
        "b_s": round(t3 - t2, 3),
        "fit_s": round(t3 - t0, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "check": float(b[0, 1:].sum()),
    }))


if __name__ == "__main__":
    main()
