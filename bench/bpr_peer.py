#!/usr/bin/env python3
"""BPR-MF epoch time of `implicit` (Cython, multithreaded SGD) on a given split's train.csv.

    python bench/bpr_peer.py --train D/train.csv --items D/items.csv --factors 128 --epochs 20

Prints one JSON line: seconds per epoch (the median of --repeats fits, divided by the epochs),
interactions per second, and implicit's thread count. Needs `pip install implicit numpy scipy`.
"""

import argparse
import json
import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from split_csv import read_train


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--items")
    ap.add_argument("--factors", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="0: every core")
    a = ap.parse_args()

    from implicit.cpu.bpr import BayesianPersonalizedRanking

    n_users, rows, cols, n_items = read_train(a.train, a.items)
    x = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_users, n_items)
    )
    x.sum_duplicates()
    x.data[:] = 1.0

    times = []
    for r in range(a.repeats):
        model = BayesianPersonalizedRanking(
            factors=a.factors,
            iterations=a.epochs,
            num_threads=a.threads,
            random_state=2026 + r,
        )
        with threadpool_limits(1):
            t0 = time.perf_counter()
            model.fit(x, show_progress=False)
            times.append(time.perf_counter() - t0)
    per_epoch = float(np.median(times)) / a.epochs
    print(json.dumps({
        "peer": "implicit BPR",
        "factors": a.factors,
        "interactions": int(x.nnz),
        "epoch_s": round(per_epoch, 5),
        "interactions_per_s": round(x.nnz / per_epoch),
        "threads": a.threads or "all",
    }))


if __name__ == "__main__":
    main()
