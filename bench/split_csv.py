"""Reading a given split's train.csv the way the peer scripts need it (standard library only)."""

import csv


def read_train(train, items=None):
    """(users, rows, cols, n_items): the training pairs as user and item indices. Items are
    indexed in `items.csv` order when given (so every catalog item has a column), then in order
    of first appearance; users in order of first appearance."""
    index = {}
    if items:
        with open(items, newline="") as f:
            for row in csv.DictReader(f):
                index.setdefault(row["id"], len(index))
    users, rows, cols = {}, [], []
    with open(train, newline="") as f:
        reader = csv.DictReader(f)
        key_u = next(k for k in reader.fieldnames if k.lower().startswith("user"))
        key_i = next(k for k in reader.fieldnames if k.lower().startswith("item"))
        for row in reader:
            rows.append(users.setdefault(row[key_u], len(users)))
            cols.append(index.setdefault(row[key_i], len(index)))
    return len(users), rows, cols, len(index)
