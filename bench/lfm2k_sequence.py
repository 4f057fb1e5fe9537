"""Writes Last.fm-2K as an ordered interaction file for the sequential benchmark:
`user,item,timestamp` in lfm2k.inter's ids (the rows of all-MiniLM-L6-v2.npy / whisper.npy), one
row per (user, artist) pair of lfm2k.inter.

Last.fm-2K has no listening times (user_artists.dat holds play counts, and HetRec's tag times
are for tagging, not listening), so the "timestamp" is an order, not a time: each user's artists
ranked by play count, least played first (ties by original artist id). Leave-last-out on it
asks for the user's most played artist given the others in that order — a pseudo-sequence, which
a sequential model can exploit (an artist's place in it says how much it is played) and an
order-free one cannot; the README's table says so.

Usage: python3 bench/lfm2k_sequence.py [--data ../shared/data/lfm2k] [--out /tmp/bench-data/lfm2k/plays.csv]
Standard library only.
"""
import argparse
import csv
import os

ap = argparse.ArgumentParser()
ap.add_argument('--data', default=os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'lfm2k'))
ap.add_argument('--out', default='/tmp/bench-data/lfm2k/plays.csv')
a = ap.parse_args()


def rows(name):
    with open(os.path.join(a.data, name), encoding='utf-8') as f:
        r = csv.reader(f, delimiter='\t')
        next(r)
        yield from r


plays = {}
for ou, oi, w in rows('user_artists.dat'):
    plays[(ou, oi)] = int(w)

by_user = {}
for (u, i, _, _), (ou, oi, _, _) in zip(rows('lfm2k.inter'), rows('lfm2k_og_ids.inter')):
    if (ou, oi) not in plays:
        raise SystemExit(f'no play count for user {ou}, artist {oi}')
    by_user.setdefault(u, []).append((plays[(ou, oi)], int(oi), i))

os.makedirs(os.path.dirname(a.out), exist_ok=True)
n = 0
with open(a.out, 'w', newline='') as f:
    w = csv.writer(f)
    w.writerow(['user', 'item', 'timestamp'])
    for u in sorted(by_user, key=int):
        for rank, (_, _, i) in enumerate(sorted(by_user[u])):
            w.writerow([u, i, rank])
            n += 1
print(f'{n} interactions of {len(by_user)} users -> {a.out}')
