"""Side-by-side tables on given split files: for each row (a model and its modalities), every
point of a small grid is trained with `fusionrec train`, the point with the best *validation*
metric is kept (test is never looked at for a choice), and its test metrics are printed as a
Markdown table. Seeded models run seeds 2026-2028 and are chosen on, and reported as, the mean.
Standard library only; prepare the data first:

  python3 bench/lfm2k_items.py                  # Last.fm-2K items (tags) and friends in lfm2k ids
  python3 bench/foursquare_split.py             # Foursquare-SG train/valid/test + coordinates
  python3 ../shared/bench/prepare_split.py ml-100k --src data/ml-100k --out /tmp/bench-data/ml-100k/split   # needs numpy

Usage: python3 bench/grid.py ml100k|lfm2k|foursquare [--only ROW] [--bin target/release/fusionrec]
       [--scorer-python PY]   (ml100k: also score the chosen lists with ../shared/bench/metrics.py)
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, '..', '..', 'shared')
BENCH = '/tmp/bench-data'

ap = argparse.ArgumentParser()
ap.add_argument('dataset', choices=['ml100k', 'lfm2k', 'foursquare'])
ap.add_argument('--only', help='run only rows whose name contains this')
ap.add_argument('--bin', default=os.path.join(HERE, '..', 'target', 'release', 'fusionrec'))
ap.add_argument('--scorer-python', help='a python with numpy, to run ../shared/bench/metrics.py')
ap.add_argument('--out', default=os.path.join(BENCH, 'grid'))
a = ap.parse_args()

LFM = os.path.join(SHARED, 'data', 'lfm2k')
ML = os.path.join(BENCH, 'ml-100k', 'split')
FSQ = os.path.join(BENCH, 'foursquare-sg')
SEEDS = ['2026', '2027', '2028']


def given(d):
    return ['--train', f'{d}/train.csv', '--valid', f'{d}/valid.csv', '--test', f'{d}/test.csv',
            '--items', f'{d}/items.csv']


# dataset -> (data arguments, selection metric, reported metrics, rows)
# row: (name, fixed arguments, {flag: [values]}, seeded)
CONFIG = {
    'ml100k': (given(ML), 'ndcg@10', ['ndcg@10', 'recall@20', 'hit@10', 'mrr@10'], [
        ('popularity', ['--model', 'popularity'], {}, False),
        ('BPR-MF', ['--model', 'bpr-mf'], {'--solver': ['sgd', 'adam']}, True),
        ('Mult-DAE', ['--model', 'mult-dae'], {'--dim': ['200', '600'], '--dropout': ['0.5', '0.7']}, True),
        ('EASE', ['--model', 'ease'], {'--lambda': ['100', '200', '350', '500']}, False),
        ('EASE + text + tabular', ['--model', 'ease-mm', '--modalities', 'text,tabular'],
         {'--lambda': ['200', '350', '500'], '--content-weight': ['10', '20', '50']}, False),
        # DLAE (EASE's dropout form) and the order-weighted co-occurrence (window 10 positions),
        # alone and together, then with the content above (src/model/ease.rs); every weight
        # stored (1,446 per item), as in the Last.fm-2K rows.
        ('DLAE', ['--model', 'ease', '--neighbors', '1446'],
         {'--lambda': ['100', '200', '300', '400'], '--dropout': ['0.25', '0.33', '0.5']}, False),
        ('EASE + order', ['--model', 'ease', '--neighbors', '1446'],
         {'--lambda': ['200', '300', '400', '500'], '--order-weight': ['0.5', '1']}, False),
        ('DLAE + order', ['--model', 'ease', '--neighbors', '1446'],
         {'--lambda': ['200', '300', '400'], '--dropout': ['0.33', '0.5'],
          '--order-weight': ['0.5', '1']}, False),
        ('DLAE + order + text + tabular', ['--model', 'ease-mm', '--modalities', 'text,tabular',
                                           '--neighbors', '1446'],
         {'--lambda': ['200', '300', '400'], '--content-weight': ['30', '60'],
          '--dropout': ['0.33', '0.5'], '--order-weight': ['0.5', '1']}, False),
        # The same with each training row weighted by its rating's rank within the user's
        # history (`--rank-weight`, as the Last.fm play counts below); content and order weights
        # fixed at the row above's validation choice.
        ('DLAE + order + text + tabular, rating-rank weighted',
         ['--model', 'ease-mm', '--modalities', 'text,tabular', '--neighbors', '1446',
          '--content-weight', '30', '--order-weight', '0.5'],
         {'--rank-weight': ['0.25', '0.5', '0.75', '1'], '--lambda': ['300', '400'],
          '--dropout': ['0.33', '0.5']}, False),
        # The row above blended with Mult-DAE (`fusionrec blend`: per-user standardised scores,
        # the DAE's weight chosen on validation from 0–3), each part at its row's validation
        # choice; seeded by the DAE.
        ('blend: DLAE + order + text + tabular, rating-rank weighted + Mult-DAE',
         {'blend': [['--model', 'ease-mm', '--modalities', 'text,tabular', '--neighbors', '1446',
                     '--content-weight', '30', '--order-weight', '0.5', '--rank-weight', '0.5',
                     '--lambda', '300', '--dropout', '0.33'],
                    ['--model', 'mult-dae', '--dim', '600', '--dropout', '0.7']]}, {}, True),
    ]),
    'lfm2k': (['--interactions', f'{LFM}/lfm2k.inter', '--split-column', 'x_label',
               '--keep-valid-at-test', '--items', f'{BENCH}/lfm2k/items.csv',
               '--item-features', f'minilm={LFM}/all-MiniLM-L6-v2.npy',
               '--item-features', f'whisper={LFM}/whisper.npy',
               '--item-features', f'vggish={LFM}/vggish.npy'],
              'recall@20', ['recall@20', 'ndcg@20', 'recall@10', 'ndcg@10'], [
        ('popularity', ['--model', 'popularity'], {}, False),
        ('BPR-MF', ['--model', 'bpr-mf'], {'--solver': ['sgd', 'adam']}, True),
        ('Mult-DAE (ID only)', ['--model', 'mult-dae'], {'--dim': ['200', '600'], '--dropout': ['0.5', '0.7']}, True),
        ('EASE (ID only)', ['--model', 'ease'], {'--lambda': ['50', '100', '200']}, False),
        ('EASE + text', ['--model', 'ease-mm', '--modalities', 'minilm'],
         {'--lambda': ['100', '200', '400', '800'], '--content-weight': ['20', '100', '300']}, False),
        ('EASE + audio (Whisper)', ['--model', 'ease-mm', '--modalities', 'whisper'],
         {'--lambda': ['100', '200', '400', '800'], '--content-weight': ['20', '100', '300']}, False),
        ('EASE + audio (VGGish)', ['--model', 'ease-mm', '--modalities', 'vggish'],
         {'--lambda': ['100', '200', '400', '800'], '--content-weight': ['20', '100', '300']}, False),
        ('EASE + text + audio (Whisper)', ['--model', 'ease-mm', '--modalities', 'minilm,whisper'],
         {'--lambda': ['100', '200', '400', '800'], '--content-weight': ['20', '100', '300']}, False),
        ('EASE + text + audio (both)', ['--model', 'ease-mm', '--modalities', 'minilm,whisper,vggish'],
         {'--lambda': ['100', '200', '400', '800'], '--content-weight': ['20', '100', '300']}, False),
        # Seeded: LightGCN, and LightGCN with a frozen content kNN item graph (FREEDOM-like), the
        # model family where MMRec's audio helped; fusionrec's defaults (chosen on ML-100K).
        ('LightGCN (ID only)', ['--model', 'lightgcn'], {}, True),
        ('LightGCN + text kNN graph', ['--model', 'graph', '--modalities', 'minilm'], {}, True),
        ('LightGCN + text + audio kNN graph', ['--model', 'graph', '--modalities', 'minilm,whisper'], {}, True),
        ('VBPR + text', ['--model', 'vbpr', '--modalities', 'minilm'], {}, True),
        ('VBPR + text + audio', ['--model', 'vbpr', '--modalities', 'minilm,whisper'], {}, True),
        # DLAE with text and tags (TF-IDF of whole tags), every weight stored (1,424 per item);
        # then the same with each training row weighted by its play count's rank within the
        # user's history (lfm2k_plays.inter: the same rows and split, rating = play count), and
        # with audio added to that. α is split evenly over the modalities.
        ('DLAE + text + tags', ['--model', 'ease-mm', '--modalities', 'minilm,tags', '--neighbors', '1424'],
         {'--lambda': ['100', '200', '300'], '--dropout': ['0.2', '0.33', '0.5'],
          '--content-weight': ['50', '100']}, False),
        ('DLAE + text + tags, play-rank weighted',
         ['--model', 'ease-mm', '--modalities', 'minilm,tags', '--neighbors', '1424',
          '--interactions', f'{BENCH}/lfm2k/lfm2k_plays.inter'],
         {'--rank-weight': ['0.5', '0.75', '1'], '--lambda': ['200', '300'],
          '--dropout': ['0.2', '0.33'], '--content-weight': ['50', '100']}, False),
        ('DLAE + text + tags + audio (Whisper), play-rank weighted',
         ['--model', 'ease-mm', '--modalities', 'minilm,tags,whisper', '--neighbors', '1424',
          '--interactions', f'{BENCH}/lfm2k/lfm2k_plays.inter'],
         {'--rank-weight': ['0.5', '0.75', '1'], '--lambda': ['200', '300'],
          '--dropout': ['0.2', '0.33'], '--content-weight': ['75', '150']}, False),
        # The DLAE rows above blended with Mult-DAE on the same file (`fusionrec blend`, the
        # DAE's weight chosen on validation from 0–3), each part at its row's validation choice;
        # seeded by the DAE.
        ('blend: DLAE + text + tags + Mult-DAE (no play counts)',
         {'blend': [['--model', 'ease-mm', '--modalities', 'minilm,tags', '--neighbors', '1424',
                     '--lambda', '200', '--dropout', '0.5', '--content-weight', '50'],
                    ['--model', 'mult-dae', '--dim', '600', '--dropout', '0.5']]}, {}, True),
        ('blend: DLAE + text + tags, play-rank weighted + Mult-DAE',
         {'blend': [['--model', 'ease-mm', '--modalities', 'minilm,tags', '--neighbors', '1424',
                     '--interactions', f'{BENCH}/lfm2k/lfm2k_plays.inter', '--rank-weight', '0.75',
                     '--lambda', '300', '--dropout', '0.2', '--content-weight', '50'],
                    ['--model', 'mult-dae', '--dim', '600', '--dropout', '0.5',
                     '--interactions', f'{BENCH}/lfm2k/lfm2k_plays.inter']]}, {}, True),
        ('EASE (ID only) + social', ['--model', 'ease', '--user-graph', f'{BENCH}/lfm2k/friends.csv'],
         {'--lambda': ['50', '100', '200'], '--social-weight': ['0.05', '0.1', '0.2']}, False),
        ('EASE + text + social', ['--model', 'ease-mm', '--modalities', 'minilm',
                                  '--user-graph', f'{BENCH}/lfm2k/friends.csv'],
         {'--lambda': ['100', '200', '400', '800'], '--content-weight': ['20', '100', '300'],
          '--social-weight': ['0.05', '0.1', '0.2']}, False),
    ]),
    'foursquare': (given(FSQ), 'ndcg@10', ['ndcg@10', 'recall@20', 'hit@10', 'mrr@10'], [
        ('popularity', ['--model', 'popularity'], {}, False),
        ('BPR-MF', ['--model', 'bpr-mf'], {'--solver': ['sgd', 'adam']}, True),
        ('EASE (location-blind)', ['--model', 'ease'], {'--lambda': ['50', '200', '500', '1000']}, False),
        ('EASE + location', ['--model', 'ease-mm', '--modalities', 'location'],
         {'--lambda': ['200', '500'], '--content-weight': ['5', '20', '50']}, False),
    ]),
}


def train(args, out):
    # Content models store only their small tabular content: the benchmark needs no browser.
    store = ['--catalog-content', 'tabular'] if {'ease-mm', 'graph', 'vbpr'} & set(args) else []
    if args.count('--interactions') > 1:
        # A row's own interactions file replaces the dataset's.
        k = args.index('--interactions')
        args = args[:k] + args[k + 2:]
    cmd = [a.bin, 'train', '--json', '--out', out] + store + args
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f'failed: {" ".join(cmd)}\n{p.stderr}')
    return next(iter(json.loads(p.stdout).values()))


def blend(parts, out):
    """Trains each part into OUT/partK and blends them with `fusionrec blend`, its weights chosen
    on the row's validation metric; returns the blend's metrics (with its weights)."""
    dirs = []
    for k, args in enumerate(parts):
        dirs.append(os.path.join(out, f'part{k}'))
        train(args, dirs[-1])
    cmd = [a.bin, 'blend', '--json', '--metric', select, '--out', os.path.join(out, 'blend')]
    cmd += [x for d in dirs for x in ('--bundle', d)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f'failed: {" ".join(cmd)}\n{p.stderr}')
    return json.loads(p.stdout)['blend'], os.path.join(out, 'blend')


data, select, report, rows = CONFIG[a.dataset]
os.makedirs(a.out, exist_ok=True)
table = []
for name, fixed, grid, seeded in rows:
    if a.only and a.only not in name:
        continue
    best = None
    for point in itertools.product(*grid.values()) if grid else [()]:
        knobs = [x for pair in zip(grid.keys(), point) for x in pair]
        runs = []
        for seed in SEEDS if seeded else ['2026']:
            out = os.path.join(a.out, a.dataset, name.replace(' ', '_').replace('(', '').replace(')', ''),
                               '_'.join(point) or 'default', seed)
            if isinstance(fixed, dict):
                # A blend row: its parts (each trained with this seed), weights searched inside.
                runs.append(blend([data + p + ['--seed', seed] for p in fixed['blend']], out))
            else:
                runs.append((train(data + fixed + knobs + ['--seed', seed], out), out))
        mean = lambda part, m: sum(r[part].get(m, 0.0) for r, _ in runs) / len(runs)
        v = mean('valid', select)
        print(f'{name} {" ".join(knobs)}: valid {select} {v:.4f}', file=sys.stderr)
        if best is None or v > best[0]:
            best = (v, knobs, {m: mean('test', m) for m in report}, runs)
    v, knobs, test, runs = best
    if isinstance(fixed, dict):
        knobs = ['weights per seed:'] + [str(r['weights']) for r, _ in runs]
    scored = ''
    if a.scorer_python and a.dataset == 'ml100k':
        # The chosen bundle's lists, scored by the shared scorer (first seed).
        topk = os.path.join(runs[0][1], 'top50.json')
        subprocess.run([a.bin, 'eval', '--bundle', runs[0][1], '--export-topk', topk, '-k', '50'],
                       check=True, capture_output=True)
        p = subprocess.run([a.scorer_python, os.path.join(SHARED, 'bench', 'metrics.py'), 'score',
                            '--split', ML, '--topk', topk, '--on', 'test'],
                           check=True, capture_output=True, text=True)
        scored = json.loads(p.stdout.strip().splitlines()[-1])['NDCG@10']
    table.append((name, ' '.join(knobs) or '–', v, test, len(runs), scored))

cols = ' | '.join(m for m in report)
print(f'\n| {a.dataset} | chosen on valid {select} | valid {select} | {cols} | seeds |' +
      (' metrics.py NDCG@10 |' if a.scorer_python and a.dataset == 'ml100k' else ''))
print('|---' * (len(report) + 4 + (1 if a.scorer_python and a.dataset == 'ml100k' else 0)) + '|')
for name, knobs, v, test, seeds, scored in table:
    vals = ' | '.join(f'{test[m]:.4f}' for m in report)
    extra = f' {scored:.4f} |' if scored != '' else ''
    print(f'| {name} | {knobs} | {v:.4f} | {vals} | {seeds} |{extra}')
