#!/usr/bin/env python3
"""A REFERENCE Mult-DAE in plain torch, written for this benchmark (not a published library):
the architecture and loss of `fusionrec train --model mult-dae` (Liang et al., 2018), written the
way one would in torch, to time an epoch against. Prints JSON.

    /tmp/torch-venv/bin/python bench/multdae_ref.py --split /tmp/bench-data/ml-100k/split

- Input: each user's training items as a binary row over the catalog, L2-normalised, then
  dropout 0.5 (the denoising corruption); one tanh layer of 200; a linear decoder.
- Loss: the multinomial log-likelihood, −Σ_i x_ui · log_softmax(logits)_i, averaged over the
  batch; Adam lr 1e-3, batch 128 users, no weight decay.
An epoch: shuffle the users with training items, then per batch the dense rows, forward,
backward, step. torch's own thread count (all cores) unless --threads.
"""

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def load(split):
    items = {}
    for r in csv.DictReader(open(Path(split) / "items.csv")):
        items.setdefault(r["id"], len(items))
    users, pairs = {}, []
    for r in csv.DictReader(open(Path(split) / "train.csv")):
        items.setdefault(r["item"], len(items))
        pairs.append((users.setdefault(r["user"], len(users)), items[r["item"]]))
    x = torch.zeros(len(users), len(items))
    for u, i in pairs:
        x[u, i] = 1.0
    return x, len(pairs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--dim", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(2026)
    x, n_pairs = load(a.split)
    n = x.shape[1]
    net = torch.nn.Sequential(torch.nn.Linear(n, a.dim), torch.nn.Tanh(), torch.nn.Linear(a.dim, n))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    drop = torch.nn.Dropout(0.5)
    x_in = F.normalize(x, dim=1)
    times = []
    for _ in range(a.epochs + 1):  # the first epoch is a warm-up
        start = time.perf_counter()
        perm = torch.randperm(x.shape[0])
        for k in range(0, len(perm), 128):
            b = perm[k:k + 128]
            loss = -(F.log_softmax(net(drop(x_in[b])), 1) * x[b]).sum(1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"peer": "torch Mult-DAE (reference)", "epoch_s": statistics.median(times[1:]),
                      "epochs": a.epochs, "train_interactions": n_pairs,
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
