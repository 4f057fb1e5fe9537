"""Foursquare-SG (../shared/data/foursquare-sg/) as a given split fusionrec reads:
train.csv / valid.csv / test.csv (`user,item,rating`, rating = check-in count) and items.csv
(`id,lat,lon`). The source has train and test files only; validation is carved out of train
(for choices made on validation, never on test) by this exact rule:
  users in ascending string order; each user's training venues sorted as strings, then shuffled
  with ONE random.Random(2026) shared by all users; a user with n >= 3 training venues gives
  max(1, round-half-up(n / 10)) of them (the first of the shuffled list) to valid.
Test rows of users with no training rows (the file has a few) are dropped and counted: no model
can rank for a user it has never seen. Standard library only.

Usage: python3 bench/foursquare_split.py [--data ../shared/data/foursquare-sg] [--out /tmp/bench-data/foursquare-sg]
"""
import argparse
import csv
import os
import random

ap = argparse.ArgumentParser()
ap.add_argument('--data', default=os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'foursquare-sg'))
ap.add_argument('--out', default='/tmp/bench-data/foursquare-sg')
a = ap.parse_args()


def read(name):
    with open(os.path.join(a.data, name), encoding='utf-8') as f:
        return [line.split() for line in f if line.strip()]


train = {}
for u, i, c in read('trainData.txt'):
    train.setdefault(u, {})[i] = c
rng = random.Random(2026)
tr, va = [], []
for u in sorted(train):
    venues = sorted(train[u])
    n_valid = max(1, (len(venues) + 5) // 10) if len(venues) >= 3 else 0
    rng.shuffle(venues)
    va += [(u, i, train[u][i]) for i in venues[:n_valid]]
    tr += [(u, i, train[u][i]) for i in venues[n_valid:]]
te = [(u, i, c) for u, i, c in read('testData.txt') if u in train]
dropped = len(read('testData.txt')) - len(te)
os.makedirs(a.out, exist_ok=True)
for name, rows in [('train', tr), ('valid', va), ('test', te)]:
    with open(os.path.join(a.out, name + '.csv'), 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['user', 'item', 'rating'])
        w.writerows(rows)
with open(os.path.join(a.out, 'items.csv'), 'w', newline='', encoding='utf-8') as f:
    w = csv.writer(f)
    w.writerow(['id', 'lat', 'lon'])
    w.writerows(read('FoursquareLocation.txt'))
print(f'{a.out}: train {len(tr)}, valid {len(va)}, test {len(te)} ({dropped} test rows of unseen users dropped)')
