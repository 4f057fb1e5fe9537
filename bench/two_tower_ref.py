#!/usr/bin/env python3
"""A REFERENCE two-tower in plain torch, written for this benchmark (not a published library):
the architecture and loss of `fusionrec train --model hybrid --modalities tabular --user-recent
false`, written the way one would in torch, to time an epoch against. Prints JSON.

    /tmp/torch-venv/bin/python bench/two_tower_ref.py --split /tmp/bench-data/ml-100k/split

- Item tower: id embedding and a linear projection of the tabular features (genres multi-hot,
  decade one-hot, scaled year — as fusionrec's `tabular` modality), gated fusion (score_k =
  v_k · tanh(W t_k), masked softmax over the tokens, modality dropout 0.1), L2-normalised.
- User tower: a linear map of the mean of the user's training items' vectors (the target left
  out, each other item dropped with probability 0.5), L2-normalised; the mean is an
  `embedding_bag` over index lists, not a dense `[batch, items]` matrix.
- Loss: softmax over the whole catalog of cosine scores / 0.1 (items unseen in training
  excluded); AdamW (lr 1e-2, weight decay 1e-4), batch 1024, dimension 64.
An epoch: shuffle, then per batch the history lists (numpy), forward, backward, step.
"""

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def load(split):
    items = {}
    rows = list(csv.DictReader(open(Path(split) / "items.csv")))
    for r in rows:
        items.setdefault(r["id"], len(items))
    users, pairs = {}, []
    for r in csv.DictReader(open(Path(split) / "train.csv")):
        items.setdefault(r["item"], len(items))
        pairs.append((users.setdefault(r["user"], len(users)), items[r["item"]]))
    genres = sorted({g.strip() for r in rows for g in r["genres"].split(",") if g.strip()})
    years = [int(r["year"]) for r in rows if r["year"].strip().isdigit()]
    decades = sorted({y // 10 for y in years})
    lo, hi = min(years), max(years)
    tab = np.zeros((len(items), len(genres) + len(decades) + 1), np.float32)
    present = np.zeros(len(items), bool)
    for r in rows:
        i = items[r["id"]]
        for g in r["genres"].split(","):
            if g.strip():
                tab[i, genres.index(g.strip())] = 1
                present[i] = True
        if r["year"].strip().isdigit():
            y = int(r["year"])
            tab[i, len(genres) + decades.index(y // 10)] = 1
            tab[i, -1] = 2 * (y - lo) / max(hi - lo, 1) - 1
            present[i] = True
    return np.array(pairs, np.int64), len(users), len(items), tab, present


class TwoTower(torch.nn.Module):
    def __init__(self, n_items, tab_dim, d):
        super().__init__()
        self.item_id = torch.nn.Parameter(torch.randn(n_items, d) * 0.1)
        self.tab = torch.nn.Linear(tab_dim, d)
        self.gate = torch.nn.Linear(d, d)
        self.gate_score = torch.nn.Parameter(torch.randn(2, d) / d ** 0.5)
        self.history = torch.nn.Linear(d, d)

    def items(self, tab, mask):
        tokens = torch.stack([self.item_id, self.tab(tab)], 1)          # [n, 2, d]
        logits = (torch.tanh(self.gate(tokens)) * self.gate_score).sum(2)
        p = torch.softmax(logits + (mask - 1) * 1e9, 1) * mask
        p = p / p.sum(1, keepdim=True).clamp_min(1e-12)
        return F.normalize((tokens * p.unsqueeze(2)).sum(1), dim=1)

    def users(self, items, flat, offsets, weights):
        mean = F.embedding_bag(flat, items, offsets, mode="sum", per_sample_weights=weights)
        return F.normalize(self.history(mean), dim=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", required=True)
    ap.add_argument("--epochs", type=int, default=4, help="timed epochs (after one warm-up)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    pairs, n_users, n_items, tab, present = load(a.split)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    hist_items = pairs[order, 1]
    indptr = np.zeros(n_users + 1, np.int64)
    np.add.at(indptr, pairs[:, 0] + 1, 1)
    indptr = np.cumsum(indptr)
    warm = np.zeros(n_items, bool)
    warm[pairs[:, 1]] = True
    bias = torch.tensor(np.where(warm, 0.0, -1e9), dtype=torch.float32)
    presence = torch.tensor(np.stack([warm, present], 1), dtype=torch.float32)
    tab_t = torch.tensor(tab)
    net = TwoTower(n_items, tab.shape[1], 64)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=1e-4)
    times, losses = [], []
    for epoch in range(a.epochs + 1):
        t0 = time.perf_counter()
        perm = rng.permutation(len(pairs))
        total = 0.0
        for start in range(0, len(perm), 1024):
            batch = pairs[perm[start:start + 1024]]
            u, t = batch[:, 0], batch[:, 1]
            # History lists: each user's items, the target out, the rest kept with p = 0.5.
            lens = indptr[u + 1] - indptr[u]
            row = np.repeat(np.arange(len(u)), lens)
            flat = hist_items[np.concatenate([np.arange(indptr[x], indptr[x + 1]) for x in u])]
            keep = (flat != t[row]) & (rng.random(len(flat)) >= 0.5)
            flat, row = flat[keep], row[keep]
            counts = np.bincount(row, minlength=len(u))
            offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
            weights = 1.0 / np.maximum(counts, 1)[row]
            drop = torch.tensor(rng.random((n_items, 2)) >= 0.1, dtype=torch.float32)
            mask = presence * drop
            mask = torch.where(mask.sum(1, keepdim=True) > 0, mask, presence)
            items = net.items(tab_t, mask)
            users = net.users(items, torch.from_numpy(flat), torch.from_numpy(offsets),
                              torch.tensor(weights, dtype=torch.float32))
            logits = users @ items.T / 0.1 + bias
            loss = F.cross_entropy(logits, torch.from_numpy(t))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach()
        dt = time.perf_counter() - t0
        if epoch > 0:
            times.append(dt)
            losses.append(float(total) / ((len(perm) + 1023) // 1024))
    print(json.dumps({
        "peer": "torch two-tower reference (bench/two_tower_ref.py)", "torch": torch.__version__,
        "threads": a.threads, "users": n_users, "items": n_items,
        "train_interactions": len(pairs), "epoch_s": statistics.median(times),
        "epoch_times_s": times, "losses": losses,
    }))


if __name__ == "__main__":
    main()
