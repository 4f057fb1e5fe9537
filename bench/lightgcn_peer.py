#!/usr/bin/env python3
"""The peer for a LightGCN epoch: RecBole 1.2.1's LightGCN (torch, sparse propagation every
batch, BPR with one uniform negative from its dataloader), trained on the same split files as
fusionrec with the same hyper-parameters. Prints JSON: per-epoch wall times and their median.

    /tmp/torch-venv/bin/python bench/lightgcn_peer.py --split /tmp/bench-data/ml-100k/split

Needs torch and `pip install --no-deps recbole==1.2.1` (plus the small packages it imports).
The split's train/valid/test CSVs become RecBole benchmark atomic files in a temporary folder
(RecBole's catalog is then the items that occur in them, not the unseen ones of items.csv).
An epoch is `Trainer._train_epoch`: RecBole's own negative sampling, batching, forward,
backward and Adam step — what fusionrec's epoch does too.
"""

import argparse
import csv
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path


def write_atomic(split, folder, name):
    folder.mkdir(parents=True, exist_ok=True)
    for part in ("train", "valid", "test"):
        with open(Path(split) / f"{part}.csv") as f, open(folder / f"{name}.{part}.inter", "w") as g:
            g.write("user_id:token\titem_id:token\n")
            for row in csv.DictReader(f):
                g.write(f"{row['user']}\t{row['item']}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--reg", type=float, default=1e-4)
    ap.add_argument("--epochs", type=int, default=6, help="timed epochs (after one warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args()

    import numpy as np
    import torch
    # RecBole 1.2.1 predates NumPy 2: give it the aliases NumPy 2 removed.
    for old, new in [("float_", np.float64), ("complex_", np.complex128), ("unicode_", np.str_)]:
        if old not in np.__dict__:
            setattr(np, old, new)
    import scipy.sparse as sp
    if not hasattr(sp.dok_matrix, "_update"):  # and SciPy ≥ 1.15 dropped the method it calls
        sp.dok_matrix._update = lambda self, data: self._dict.update(data)
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender import LightGCN
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    torch.set_num_threads(a.threads)
    work = Path(tempfile.mkdtemp(prefix="recbole-"))
    write_atomic(a.split, work / "bench", "bench")
    os.chdir(work)  # RecBole's trainer writes log_tensorboard/ (and logs) under the working folder
    config = Config(model="LightGCN", dataset="bench", config_dict={
        "data_path": str(work), "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "embedding_size": a.dim, "n_layers": a.layers, "reg_weight": a.reg,
        "learning_rate": a.lr, "train_batch_size": a.batch_size, "eval_batch_size": 4096,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": 1},
        "device": "cpu", "use_gpu": False, "seed": a.seed, "reproducibility": True,
        "show_progress": False, "worker": 0, "checkpoint_dir": str(work / "saved"),
        "log_wandb": False, "state": "WARNING",
    })
    logging.disable(logging.INFO)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, _, _ = data_preparation(config, dataset)
    model = LightGCN(config, train_data.dataset).to(config["device"])
    trainer = Trainer(config, model)
    times, losses = [], []
    for epoch in range(a.epochs + 1):
        t0 = time.perf_counter()
        loss = trainer._train_epoch(train_data, epoch, show_progress=False)
        dt = time.perf_counter() - t0
        if epoch > 0:  # the first epoch warms up allocators and the sampler
            times.append(dt)
            losses.append(float(loss))
    print(json.dumps({
        "peer": "RecBole 1.2.1 LightGCN", "torch": torch.__version__, "threads": a.threads,
        "users": dataset.user_num - 1, "items": dataset.item_num - 1,
        "train_interactions": len(train_data.dataset), "epoch_s": statistics.median(times),
        "epoch_times_s": times, "losses": losses,
    }))


if __name__ == "__main__":
    main()
