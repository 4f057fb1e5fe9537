"""Writes the Last.fm-2K items file (and the friend graph in the same ids) fusionrec reads next to `lfm2k.inter`: `id,text`, where id is
the itemID of lfm2k.inter (a 0-based row index, the row of whisper.npy / vggish.npy /
all-MiniLM-L6-v2.npy) and text is the artist's comma-separated tags exactly as the paper embedded
them (`embedder_text.py`: `text.replace(',', ', ')`). The item -> original artist id mapping
comes from lfm2k_og_ids.inter, which holds the same rows as lfm2k.inter with original ids.
The items file also has a `categories` column: the same tags, `|`-separated, which the `tags`
modality (TF-IDF of whole tags) reads. Also writes lfm2k_plays.inter next to it: lfm2k.inter's
rows, line by line, with `rating` = the user's play count of the artist (user_artists.dat,
through the original ids) instead of 1 — for `--rank-weight`; the split column is unchanged.
Also writes friends.csv next to it: `user,friend` in lfm2k.inter's user ids, from
user_friends.dat (original HetRec ids) through the same row mapping; pairs with a user outside
lfm2k.inter are dropped. Standard library only.

Usage: python3 bench/lfm2k_items.py [--data ../shared/data/lfm2k] [--out /tmp/bench-data/lfm2k/items.csv]
"""
import argparse
import csv
import os

ap = argparse.ArgumentParser()
ap.add_argument('--data', default=os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'lfm2k'))
ap.add_argument('--out', default='/tmp/bench-data/lfm2k/items.csv')
a = ap.parse_args()

def rows(name):
    with open(os.path.join(a.data, name), encoding='utf-8') as f:
        r = csv.reader(f, delimiter='\t')
        next(r)
        yield from r

og, og_user = {}, {}
pairs = []
for (u, i, _, x), (ou, oi, _, _) in zip(rows('lfm2k.inter'), rows('lfm2k_og_ids.inter')):
    pairs.append((u, i, x, ou, oi))
    if og.setdefault(i, oi) != oi:
        raise SystemExit(f'item {i} maps to two artists: {og[i]} and {oi}')
    if og_user.setdefault(ou, u) != u:
        raise SystemExit(f'original user {ou} maps to two users')
tags = {}
with open(os.path.join(a.data, 'lfm2k_text.tsv'), encoding='utf-8') as f:
    next(f)
    for line in f:
        aid, _, text = line.rstrip('\n').partition('\t')
        tags[aid] = text.replace(',', ', ')
os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
missing = 0
with open(a.out, 'w', encoding='utf-8', newline='') as f:
    w = csv.writer(f)
    w.writerow(['id', 'text', 'categories'])
    for i in sorted(og, key=int):
        t = tags.get(og[i], '')
        missing += not t
        w.writerow([i, t, '|'.join(x.strip() for x in t.split(',') if x.strip())])
print(f'{a.out}: {len(og)} items, {missing} without tags')
plays = {}
for ou, oi, count in rows('user_artists.dat'):
    plays[(ou, oi)] = count
inter = os.path.join(os.path.dirname(os.path.abspath(a.out)), 'lfm2k_plays.inter')
with open(inter, 'w', encoding='utf-8') as f:
    f.write('userID\titemID\trating\tx_label\n')
    for u, i, x, ou, oi in pairs:
        if (ou, oi) not in plays:
            raise SystemExit(f'no play count for user {ou}, artist {oi}')
        f.write(f'{u}\t{i}\t{plays[(ou, oi)]}\t{x}\n')
print(f'{inter}: {len(pairs)} rows with play counts')
friends = os.path.join(os.path.dirname(os.path.abspath(a.out)), 'friends.csv')
kept = dropped = 0
with open(friends, 'w', encoding='utf-8', newline='') as f:
    w = csv.writer(f)
    w.writerow(['user', 'friend'])
    for ou, of in rows('user_friends.dat'):
        if ou in og_user and of in og_user:
            w.writerow([og_user[ou], og_user[of]])
            kept += 1
        else:
            dropped += 1
print(f'{friends}: {kept} directed pairs ({dropped} with a user outside lfm2k.inter)')
