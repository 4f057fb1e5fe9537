// Soak, browser half (issue 12; the native half is tests/soak.rs): one page in headless
// Chromium (WebGPU unavailable: the CPU backend) keeps ONE Recommender — one worker, one wasm
// memory — of the CI bundle ease-mm (EASE + MiniLM text + tabular catalog content) busy for
// SOAK_ROUNDS rounds (default 200, what CI runs; the full soak is 1000) of a mixed workload with
// varied inputs, drawn from a seeded generator (SOAK_SEED, default 2026) so that a failure
// replays:
//   - recommend for a history of 1–20 catalog items (some rated 1–5), k 1–50;
//   - explain of one of the recommended items (its score that of the list; its parts add up);
//   - recommend with a filter (a category, with explanations; or a list of ids);
//   - a first visit (empty history), similar;
//   - bad inputs, every round: an unknown item (UNKNOWN_ITEM), k 0 (BAD_CONFIG), and one more
//     from a rotation (unknown similar/explain target or filter id, unknown category, k 0 in
//     similar);
//   - every 10th round personalize (2–6 steps on 3–8 rated events; and once before the first
//     round, so that every round's explanations carry the personal term);
//   - every 25th round addItem of a new film by its title and description (varied; placed by
//     MiniLM, loaded once before the first round), then: items() lists it, similar() works for
//     it, it is among the 10 items most similar to the catalog item it was placed nearest, it
//     can be a history (recommend, explain) and is ranked when a filter allows it; a second
//     add under its id is BAD_DATA, an unknown field BAD_CALL;
//   - every 100th round save + restore: `save('soak')`, `Recommender.restore('soak')` into a
//     second Recommender, which must answer as the original (same top 10, scores included, for
//     a fixed history with the last added item; same similar() for that item); then
//     `Recommender.restore('soak-start')` (saved right after the load) must still answer as the
//     native CLI does (ease-mm.reference.json) and list only the catalog. Each restored one is
//     disposed (and then rejects with DISPOSED); the rounds go on with the original.
// Every call must resolve with a well-formed answer or reject with an Error of the expected code.
//
// One worker for the whole run, and no reset: the native soak returns its Session to the
// round-0 state every 100 rounds, but the JS API cannot do that in place (restore() always
// makes a new Recommender, in a new worker with a fresh wasm memory; importState is the
// worker's own). Continuing on a Recommender restored from 'soak-start' every 100 rounds would
// start a fresh wasm memory each time and so see only leaks that outgrow one worker's free space
// within 100 rounds; keeping the one Recommender lets a leak pile up over the whole run. The
// price is the session's own growth: one added item per 25 rounds (40 in 1000 rounds), allowed
// for below.
//
// Measured every round: the worker's wasm memory (`memory()`) and each call's time. Every 100th
// round (after the save + restore check), and once before the first round: the page's JS heap
// (`performance.memory.usedJSHeapSize`, precise with --enable-precise-memory-info) after a
// forced GC (DevTools protocol), and the wasm heap in use. The wasm memory only grows, and only
// once the allocator has no free space left; loading MiniLM leaves ≈ 88 MB free (the memory
// grows by twice its 91 MB file, which is freed once parsed), so the memory figure alone sees
// only leaks that fill that hole — ≳ 100 KB a round in 1000 rounds. So the soak also measures the wasm heap in use:
// from inside the worker (the page's Playwright handle on it, through the package's own
// wasm-bindgen module, which hands back the worker's instance), it allocates 16 KiB blocks until
// the memory grows, frees them, and takes memory − free space. This probe grows the memory by
// one block each time; that growth is not counted as the workload's.
// Verdicts, after the warm-up (the first 100 rounds; as in tests/soak.rs):
//   - wasm memory: no growth beyond WASM_SLACK; wasm heap in use: no growth beyond IN_USE_SLACK
//     plus ITEM_BYTES for each item added since; JS heap: no growth beyond HEAP_GROWTH (10%);
//   - call times: no call slower than 10× its kind's median + SPIKE_SLACK_MS (kinds with ≥ 10
//     calls; one that is fast when timed again at once is a stall of the machine, allowed in
//     up to 1% of the calls: see RETIMES); and the median of the last 10% of rounds within 2×
//     that of the first 10% (+ 0.5 ms), for each kind with ≥ 10 calls in both; the last 10% of
//     rounds replay the first 10%'s inputs, so that both time the same work.
//   node tests/browser/soak.mjs [models/ci]
//   SOAK_ROUNDS=1000 node tests/browser/soak.mjs models/ci
import assert from 'node:assert/strict';
import { launch } from './chromium.mjs';
import { assertParity, HISTORY, reference, TOLERANCE } from './parity.mjs';
import { serve } from './server.mjs';

const dir = process.argv[2] ?? 'models/ci';
const BUNDLE = 'ease-mm';
const ENCODERS = { text: '/data/minilm/' };
const ROUNDS = Number(process.env.SOAK_ROUNDS ?? 200);
const SEED = Number(process.env.SOAK_SEED ?? 2026);
const SAMPLE_EVERY = 100; // save + restore, and the memory samples; the first window is the warm-up
const ADD_EVERY = 25;
assert.ok(Number.isInteger(ROUNDS) && ROUNDS >= 200 && ROUNDS % SAMPLE_EVERY === 0, 'SOAK_ROUNDS: a multiple of 100, ≥ 200');
const WINDOW = ROUNDS / 10; // first and last 10% of rounds, for the call times
const MB = 1e6;
const KB = 1e3;
// Bounds, from what this soak measured (2026-11-28, 2 shared cores; 200 rounds with 7 seeds and
// 1000 rounds; see SECURITY.md):
// The wasm memory (≈ 211 MB: the bundle, MiniLM and its hole) did not grow by a byte after the
// load in any run. 1 MiB (0.5%, 16 pages) leaves an allocator room for an unlucky
// fragmentation; a leak that fills the hole exceeds it at once.
const WASM_SLACK = 1 << 20;
// The wasm heap in use moved by at most 0.05 MB from one sample to the next (the probe's 16 KiB
// grain, fragmentation, the added items), and by 0.08–0.16 MB from round 100 to round 1000,
// with 36 items added: 2–4.5 KB an item (its text vector, item-item weights, title and id).
// The bound is 0.25 MB (5× the largest move) + 10 KB for each item added since the warm-up:
// what a leak of 2.9 KB a round reaches in 100 rounds (CI), and of 0.7 KB a round in 900.
const IN_USE_SLACK = 0.25 * MB;
const ITEM_BYTES = 10 * KB;
// The page's JS heap after a full GC (≈ 1.4 MB) grew by at most 0.03 MB after the warm-up in
// 200 rounds and 0.06 MB in 1000 (V8's code and feedback, levelling off), the page holding
// nothing of the soak's own. The bound is the issue's 10% of the figure after the warm-up
// (≈ 0.14 MB, 2.3× the most seen): what a leak of 1.4 KB a round reaches in 100 rounds (CI),
// and of 0.15 KB a round in 900; keeping each round's explanation (≈ 1.2 KB) fails the full soak.
const HEAP_GROWTH = 0.1;
// No call slower than 10× its kind's median (as in tests/soak.rs) + SPIKE_SLACK_MS: most calls
// take 0.1–8 ms, and performance.now() ticks in 0.1 ms here (no cross-origin isolation), but on
// 2 cores shared with other work a call that waits for the scheduler or a GC commonly loses up
// to 10 ms (8.2 ms for a 0.2 ms first visit, 11.9 ms for a 0.2 ms bad input); 20 ms is 2× that.
// A steady slowdown, however small per call, is the median comparison's to catch.
const SPIKE_FACTOR = 10;
const SPIKE_SLACK_MS = 20;
// Stalls still happen: other processes hold the cores for 20–130 ms. On the shared machine
// this soak was measured on: 0–2 calls in 1000 rounds while it was quiet, 7–14 in 200 rounds
// (0.7% of the calls) while a rustc took both cores. So a call over the bound is timed again
// RETIMES times, at once, on the same inputs and state (the calls that can be repeated: not
// addItem, save, restore or dispose; a repeated personalize trains the adaptor a little more,
// which no check depends on). Slow again: the call is slow, and fails. Within the bound again:
// the machine stalled — reported, and up to STALL_SHARE of the calls allowed; more, and either
// the pauses are the recommender's or the machine is too busy for the times to say anything.
// (A pause that recurs without depending on the input, every 100th call say, is thus seen only
// where it exceeds that share, or makes a median grow.)
const RETIMES = 3;
const STALL_SHARE = 0.01;
const TIME_FACTOR = 2;
// A median of 0.1 ms against one of 0.05 ms is one timer tick, not a slowdown: the last window's
// median may exceed TIME_FACTOR × the first's by 5 ticks.
const TIME_SLACK_MS = 0.5;
const PROBE_BLOCK = 16 * 1024;
const ROUND_TIMEOUT_MS = 60_000; // longer is a hang
// The fixed history of the save + restore check (the last added item joins it).
const FIXED = [{ item: '50', rating: 5 }, { item: '1', rating: 5 }, { item: '100', rating: 4 }];
const started = Date.now();

// ---------------------------------------------------------------------------------------------
// The workload, drawn in Node from a seeded generator (mulberry32).

/** A generator of its own for each round, so that the last 10% of rounds can replay the first
 * 10%'s draws: the call times then compare the same work (inputs drawn at random vary in cost
 * more than a median of 10 calls can smooth out). */
function generator(seed) {
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1)); // lo…hi inclusive
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  /** `n` distinct elements of `xs`. */
  const sample = (xs, n) => {
    const chosen = new Set();
    while (chosen.size < Math.min(n, xs.length)) chosen.add(pick(xs));
    return [...chosen];
  };
  return { random, int, pick, sample };
}
/** The round whose draws round `round` makes: itself, or in the last 10% the matching round of
 * the first 10%. ROUNDS − WINDOW is a multiple of 10 (and of 5 and 2), so both rounds have the
 * same kinds of calls, except addItem and save + restore, which are not compared between the
 * two windows (too few calls). */
const drawsOf = (round) => (round > ROUNDS - WINDOW ? round - (ROUNDS - WINDOW) : round);

// New films: a title and a description made of a catalog film's title and genres and a few
// varied phrases, so that MiniLM places each somewhere else in the catalog.
const OPENINGS = ['The Return of', 'Beyond', 'Son of', 'The Last Days of', 'Return to', 'The Secret of', 'Nights of', 'The Legend of'];
const PLOTS = [
  'a retired detective is pulled back for one more case',
  'two estranged sisters drive across the country',
  'a small town hides a secret that a stranger uncovers',
  'a young musician fights to be heard in the big city',
  'a crew of misfits plans an impossible heist',
  'a family moves into an old house by the sea',
  'a soldier comes home to a world that moved on',
  'a teacher changes the lives of a difficult class',
];
const TONES = ['A tense', 'A warm', 'A dark', 'A funny', 'A sweeping', 'A quiet', 'A violent', 'A tender'];

/** The ops of round `round` (1-based). Each: `kind` (timing bucket), `call` (a Recommender
 * method, or 'restore' / 'dispose' / 'disposed'), `on` ('copy': the restored Recommender;
 * default the soak's own), `args`, `expect` ('ok' or an error code), `check(value, results)`
 * for answers; `ref` puts an item of an earlier op's answer into `args` (see `resolve` in the
 * page). `state` carries what the run has added so far. */
function plan(round, catalog, categories, state) {
  const { random, int, pick, sample } = generator(SEED * 1_000_003 + drawsOf(round));
  const ids = catalog.map((x) => x.item);
  const ops = [];
  const push = (op) => ops.push(op) - 1; // its index
  const history = sample(ids, int(1, 20)).map((item) => (random() < 0.3 ? { item, rating: int(1, 5) } : { item }));
  const seen = new Set(history.map((e) => e.item));
  const k = int(1, 50);
  const listed = push({ kind: 'recommend', call: 'recommend', args: [{ history }, { k }], expect: 'ok', check: (v) => checkList(v, k, seen) });
  // Explain one of those items (the top one or another of the list).
  push({
    kind: 'explain',
    call: 'explain',
    args: [{ history }, null],
    ref: { op: listed, index: int(0, 9), arg: 1 },
    expect: 'ok',
    check: (e, results) => {
      const r = results[listed].value.find((x) => x.item === e.item);
      assert.ok(r, `explained ${e.item} is in the list`);
      assert.ok(Math.abs(e.score - r.score) <= TOLERANCE, `explain score ${e.score} vs recommend ${r.score}`);
      checkExplanation(e, history);
    },
  });
  if (round % 2 === 0) {
    const category = pick(categories);
    const inCategory = new Set(catalog.filter((x) => x.categories.includes(category)).map((x) => x.item));
    const kf = int(1, 30);
    push({
      kind: 'recommend category+explain',
      call: 'recommend',
      args: [{ history }, { k: kf, explain: true, filter: { category } }],
      expect: 'ok',
      check: (v) => {
        const unseen = [...inCategory].filter((i) => !seen.has(i)).length;
        checkList(v, Math.min(kf, unseen), seen);
        assert.ok(v.every((r) => inCategory.has(r.item)), `filter ${category}: ${v.map((r) => r.item)}`);
        for (const r of v) {
          assert.equal(r.explanation?.item, r.item, `explanation of ${r.item}`);
          assert.ok(Math.abs(r.explanation.score - r.score) <= TOLERANCE, `explained score of ${r.item}`);
          checkExplanation(r.explanation, history);
        }
      },
    });
  } else {
    const allowed = new Set(sample(ids, int(1, 40)));
    const exclude = random() < 0.5 ? 'seen' : 'none';
    const kf = int(1, 30);
    push({
      kind: 'recommend filter ids',
      call: 'recommend',
      args: [{ history }, { k: kf, exclude, filter: { items: [...allowed] } }],
      expect: 'ok',
      check: (v) => {
        const eligible = [...allowed].filter((i) => exclude === 'none' || !seen.has(i)).length;
        checkList(v, Math.min(kf, eligible), exclude === 'seen' ? seen : new Set());
        assert.ok(v.every((r) => allowed.has(r.item)), 'filter by ids');
        assert.ok(v.every((r) => !('explanation' in r)), 'no explanation unless asked');
      },
    });
  }
  const kv = int(1, 20);
  push({ kind: 'first visit', call: 'recommend', args: [{ history: [] }, { k: kv }], expect: 'ok', check: (v) => checkList(v, kv, new Set()) });
  const item = pick(ids);
  const ks = int(1, 30);
  push({ kind: 'similar', call: 'similar', args: [item, { k: ks }], expect: 'ok', check: (v) => checkList(v, ks, new Set([item])) });

  // Bad inputs: the two of every round, and one from the rotation.
  const unknown = `no-such-item-${round}`;
  const at = int(0, history.length);
  const withUnknown = [...history.slice(0, at), { item: unknown }, ...history.slice(at)];
  push({ kind: 'bad: unknown item', call: 'recommend', args: [{ history: withUnknown }], expect: 'UNKNOWN_ITEM' });
  push({ kind: 'bad: k 0', call: 'recommend', args: [{ history }, { k: 0 }], expect: 'BAD_CONFIG' });
  const rotation = [
    { kind: 'bad: similar unknown', call: 'similar', args: [unknown], expect: 'UNKNOWN_ITEM' },
    { kind: 'bad: explain unknown', call: 'explain', args: [{ history }, unknown], expect: 'UNKNOWN_ITEM' },
    { kind: 'bad: filter id', call: 'recommend', args: [{ history }, { filter: { items: [item, unknown] } }], expect: 'UNKNOWN_ITEM' },
    { kind: 'bad: category', call: 'recommend', args: [{ history }, { filter: { category: `No genre ${round}` } }], expect: 'BAD_CONFIG' },
    { kind: 'bad: similar k 0', call: 'similar', args: [item, { k: 0 }], expect: 'BAD_CONFIG' },
  ];
  push(rotation[round % rotation.length]);

  if (round % 10 === 0) {
    const liked = sample(ids, int(1, 4)).map((i) => ({ item: i, rating: pick([4, 5, undefined]) }));
    const others = sample(ids, int(2, 4)).filter((i) => !liked.some((e) => e.item === i)).map((i) => ({ item: i, rating: int(1, 3) }));
    const events = [...liked, ...others].map((e) => (e.rating === undefined ? { item: e.item } : e));
    const steps = int(2, 6);
    push({
      kind: 'personalize',
      call: 'personalize',
      args: [events, { steps, seed: round }],
      expect: 'ok',
      check: (v) => {
        assert.equal(v.steps, steps, 'personalize steps');
        assert.ok(v.pairs > 0 && Number.isFinite(v.lossBefore) && Number.isFinite(v.lossAfter), JSON.stringify(v));
      },
    });
  }
  if (round % ADD_EVERY === 0) {
    // A new film, placed by its MiniLM text (the bundle's tabular content needs a year or
    // categories, which it does not get).
    const id = `soak-${round}`;
    const source = pick(catalog);
    const title = `${pick(OPENINGS)} ${source.title}`;
    const genres = source.categories.join(' and ').toLowerCase() || 'drama';
    const description = `${pick(TONES)} ${genres}: ${pick(PLOTS)}, ${random() < 0.5 ? 'years after' : 'in the spirit of'} ${source.title}.`;
    const count = state.added.length + 1; // items added by the end of this round
    const added = push({
      kind: 'addItem',
      call: 'addItem',
      args: [{ id, title, description }],
      expect: 'ok',
      check: (v) => {
        assert.equal(v.item, id, 'addItem answers its id');
        assert.deepEqual(v.used, ['text'], `${id} placed by text`);
        assert.deepEqual(v.unused, [], `${id}: nothing unused`);
        assert.ok(v.neighbors.length > 0 && v.neighbors.every((n) => ids.includes(n.item) && Number.isFinite(n.score)), `${id} neighbors ${JSON.stringify(v.neighbors)}`);
      },
    });
    push({
      kind: 'items',
      call: 'items',
      args: [],
      expect: 'ok',
      check: (v) => {
        assert.equal(v.length, catalog.length + count, `items() after ${count} added`);
        assert.equal(v.find((x) => x.item === id)?.title, title, `${id} listed with its title`);
      },
    });
    const ka = int(1, 30);
    push({ kind: 'similar (added)', call: 'similar', args: [id, { k: ka }], expect: 'ok', check: (v) => checkList(v, ka, new Set([id])) });
    // Placed near its nearest catalog item: among that item's 10 most similar.
    push({
      kind: 'similar (added)',
      call: 'similar',
      args: [null, { k: 10 }],
      ref: { op: added, field: 'neighbors', index: 0, arg: 0 },
      expect: 'ok',
      check: (v) => assert.ok(v.some((r) => r.item === id), `${id} among the 10 most similar to its nearest neighbour: ${v.map((r) => r.item)}`),
    });
    const own = [{ item: id, rating: 5 }, ...history.slice(0, int(0, 3))];
    const ownSeen = new Set(own.map((e) => e.item));
    const listedOwn = push({ kind: 'recommend (added)', call: 'recommend', args: [{ history: own }, { k: 10 }], expect: 'ok', check: (v) => checkList(v, 10, ownSeen) });
    push({
      kind: 'explain (added)',
      call: 'explain',
      args: [{ history: own }, null],
      ref: { op: listedOwn, index: 0, arg: 1 },
      expect: 'ok',
      check: (e) => checkExplanation(e, own),
    });
    // Ranked, with a finite score, when a filter allows it, for a history of films like it.
    const allowed = [id, ...sample(ids, 5)];
    push({
      kind: 'recommend (added)',
      call: 'recommend',
      args: [null, { k: allowed.length, filter: { items: allowed } }],
      ref: { op: added, field: 'neighbors', history: 3, arg: 0 },
      expect: 'ok',
      check: (v) => assert.ok(v.some((r) => r.item === id && Number.isFinite(r.score)), `${id} ranked among ${allowed}: ${JSON.stringify(v)}`),
    });
    push({ kind: 'bad: addItem', call: 'addItem', args: [{ id, title: 'Again' }], expect: 'BAD_DATA' }); // its id is taken
    push({ kind: 'bad: addItem', call: 'addItem', args: [{ id: `${id}-x`, name: title }], expect: 'BAD_CALL' }); // no field 'name'
    state.added.push(id);
  }
  push({ kind: 'memory', call: 'memory', args: [], expect: 'ok', check: (v) => assert.ok(v.wasmBytes > 0) });
  if (round % SAMPLE_EVERY === 0) {
    const last = state.added[state.added.length - 1];
    const fixed = [...FIXED, { item: last }];
    const before = push({ kind: 'recommend', call: 'recommend', args: [{ history: fixed }, { k: 10 }], expect: 'ok', check: (v) => checkList(v, 10, new Set(fixed.map((e) => e.item))) });
    const similarBefore = push({ kind: 'similar (added)', call: 'similar', args: [last, { k: 10 }], expect: 'ok' });
    push({ kind: 'save', call: 'save', args: ['soak'], expect: 'ok', check: (v) => assert.equal(v.key, 'soak') });
    push({ kind: 'restore', call: 'restore', args: ['soak'], expect: 'ok', check: (v) => assert.equal(v.backend, 'cpu') });
    push({
      kind: 'recommend (restored)',
      call: 'recommend',
      on: 'copy',
      args: [{ history: fixed }, { k: 10 }],
      expect: 'ok',
      check: (v, results) => assert.deepEqual(v, results[before].value, 'the restored Recommender answers as the saved one'),
    });
    push({
      kind: 'similar (restored)',
      call: 'similar',
      on: 'copy',
      args: [last, { k: 10 }],
      expect: 'ok',
      check: (v, results) => assert.deepEqual(v, results[similarBefore].value, `the restored Recommender has ${last}`),
    });
    push({ kind: 'dispose', call: 'dispose', args: [], expect: 'ok' });
    push({ kind: 'disposed', call: 'recommend', on: 'copy', args: [{ history: fixed }], expect: 'DISPOSED' });
    // The session saved before the first round, still as the load left it.
    push({ kind: 'restore', call: 'restore', args: ['soak-start'], expect: 'ok', check: (v) => assert.equal(v.backend, 'cpu') });
    push({
      kind: 'recommend (restored)',
      call: 'recommend',
      on: 'copy',
      args: [{ history: HISTORY.map((item) => ({ item })) }, { k: 10 }],
      expect: 'ok',
      check: (v) => assertParity(v, state.native),
    });
    push({ kind: 'items (restored)', call: 'items', on: 'copy', args: [], expect: 'ok', check: (v) => assert.equal(v.length, catalog.length, "'soak-start' lists only the catalog") });
    push({ kind: 'dispose', call: 'dispose', args: [], expect: 'ok' });
    push({ kind: 'disposed', call: 'similar', on: 'copy', args: [last], expect: 'DISPOSED' });
  }
  return ops;
}

/** A list of `k` distinct items, none of `excluded`, scores finite and non-increasing. */
function checkList(list, k, excluded) {
  assert.equal(list.length, k, `length ${list.length}, expected ${k}`);
  assert.equal(new Set(list.map((r) => r.item)).size, k, 'distinct items');
  assert.ok(list.every((r) => !excluded.has(r.item)), 'excluded items');
  assert.ok(list.every((r) => Number.isFinite(r.score) && (r.title === null || typeof r.title === 'string')), 'scores and titles');
  assert.ok(list.every((r, i) => i === 0 || r.score <= list[i - 1].score), 'order');
}

/** score = base + personal + Σ contributions, one influence per history event. */
function checkExplanation(e, history) {
  const total = e.base + e.personal + e.influences.reduce((s, x) => s + x.contribution, 0);
  assert.ok(Math.abs(total - e.score) <= TOLERANCE, `explanation of ${e.item} adds up (${total} vs ${e.score})`);
  assert.deepEqual(e.influences.map((x) => x.item).sort(), history.map((h) => h.item).sort(), 'influences');
}

// ---------------------------------------------------------------------------------------------
// The run.

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mb = (bytes) => (bytes / MB).toFixed(2);

const failures = [];
const fail = (message) => {
  failures.push(message);
  console.error(`FAIL ${message}`);
};
const records = []; // per round: { round, wasm, ms: [[kind, ms]] }
const series = []; // round 0 and every SAMPLE_EVERY rounds: { round, wasm, inUse, probeGrowth, heap, added }
const consoleErrors = [];
const state = { added: [], native: reference(dir, BUNDLE) };
const { server, url } = await serve();
const { context, close } = await launch(['--disable-webgpu', '--enable-precise-memory-info']);
try {
  const page = await context.newPage();
  const onConsole = (m) => {
    if (m.type() === 'error' || /panicked/.test(m.text())) consoleErrors.push(m.text());
  };
  page.on('console', onConsole);
  page.on('worker', (w) => w.on('console', onConsole));
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  const cdp = await context.newCDPSession(page);
  await page.goto(`${url}/tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true);
  const setup = await page.evaluate(
    async ({ bundleUrl, encoders, history }) => {
      const t0 = performance.now();
      const rec = await Recommender.load(bundleUrl, { device: 'auto', encoders });
      const loadMs = performance.now() - t0;
      const t1 = performance.now();
      await rec.encode({ text: 'warm-up' }); // MiniLM loaded now, not by the first addItem
      const encoderMs = performance.now() - t1;
      window.S = { rec, copy: null };
      const saved = await rec.save('soak-start');
      const native = await rec.recommend({ history: history.map((item) => ({ item })) }, { k: 10 });
      // A personal adaptor from the start: with one, explanations carry a personal term, which
      // costs more; the first rounds would otherwise time cheaper calls than the last.
      await rec.personalize([...history.map((item) => ({ item, rating: 5 })), { item: '1', rating: 1 }], { steps: 5, seed: 0 });
      return {
        backend: rec.backend,
        content: rec.content,
        loadMs,
        encoderMs,
        saved,
        catalog: await rec.items(),
        native,
      };
    },
    { bundleUrl: `/${dir}/${BUNDLE}/`, encoders: ENCODERS, history: HISTORY },
  );
  assert.equal(setup.backend, 'cpu', 'WebGPU unavailable: the CPU backend');
  assert.deepEqual([...setup.content].sort(), ['tabular', 'text'], `${BUNDLE} stores text and tabular content`);
  assertParity(setup.native, state.native);
  const catalog = setup.catalog;
  const categories = [...new Set(catalog.flatMap((x) => x.categories))].sort();
  assert.ok(catalog.length > 1000 && categories.length > 5, `${catalog.length} items, ${categories.length} categories`);
  // The soak's worker: the only one so far (each restore starts another).
  assert.equal(page.workers().length, 1, 'one worker after the load');
  const worker = page.workers()[0];

  /** A sample: the page's JS heap after a GC, and the worker's wasm memory and heap in use. */
  const sample = async (round) => {
    await cdp.send('HeapProfiler.collectGarbage');
    const { heap, wasmBytes } = await page.evaluate(async () => ({ heap: performance.memory?.usedJSHeapSize, ...(await S.rec.memory()) }));
    const probe = await worker.evaluate(async (block) => {
      // The worker's instance: the package's wasm-bindgen module, imported again, is the same
      // module, and its init() answers the instance it already has.
      const wasm = await (await import('/pkg/web/fusionrec.js')).default();
      if (typeof wasm.__wbindgen_malloc !== 'function') return { error: 'no __wbindgen_malloc export' };
      const memory = wasm.memory;
      const before = memory.buffer.byteLength;
      const blocks = [];
      while (memory.buffer.byteLength === before && blocks.length < 1 << 20) blocks.push(wasm.__wbindgen_malloc(block, 8));
      const after = memory.buffer.byteLength;
      for (const p of blocks) wasm.__wbindgen_free(p, block, 8);
      return { before, after, free: (blocks.length - 1) * block };
    }, PROBE_BLOCK);
    assert.ok(!probe.error, `wasm probe: ${probe.error}`);
    // Another instance (had the worker imported the package by another URL) would be flat.
    assert.equal(probe.before, wasmBytes, "the probe's memory is the one memory() reports");
    // The memory net of the earlier probes' own growth.
    const wasm = probe.before - series.reduce((sum, x) => sum + x.probeGrowth, 0);
    const s = { round, wasm, inUse: probe.before - probe.free, probeGrowth: probe.after - probe.before, heap, added: state.added.length };
    series.push(s);
    console.log(
      `${String(round).padStart(6)} ${mb(s.wasm).padStart(9)} ${mb(s.inUse).padStart(10)} ${(heap === undefined ? 'n/a' : mb(heap)).padStart(11)} ` +
        `${String(s.added).padStart(6)} ${((Date.now() - started) / 1000).toFixed(0).padStart(6)}`,
    );
  };
  console.log(
    `soak: ${BUNDLE} (${setup.backend}, content ${setup.content.join(' + ')}), ${catalog.length} items, ${categories.length} categories; ` +
      `loaded in ${setup.loadMs.toFixed(0)} ms, MiniLM in ${setup.encoderMs.toFixed(0)} ms; 'soak-start' saved (${setup.saved.bytes} bytes of state); ` +
      `${ROUNDS} rounds on one Recommender, seed ${SEED}`,
  );
  console.log(`${'round'.padStart(6)} ${'wasm MB'.padStart(9)} ${'in use MB'.padStart(10)} ${'JS heap MB'.padStart(11)} ${'added'.padStart(6)} ${'s'.padStart(6)}`);
  await sample(0);

  // Which calls are timed again when slow (see RETIMES), and from how slow: half the bound, from
  // the calls so far (the verdict, at the end, takes all of them).
  const soFar = new Map(); // kind → times
  const retimeAbove = (kind, call) => {
    if (['restore', 'dispose', 'addItem', 'save'].includes(call)) return undefined;
    const ms = soFar.get(kind) ?? [];
    return (SPIKE_SLACK_MS + (ms.length >= 5 ? SPIKE_FACTOR * median(ms) : 0)) / 2;
  };
  for (let round = 1; round <= ROUNDS && failures.length < 10; round++) {
    const ops = plan(round, catalog, categories, state);
    let timer;
    let out;
    try {
      out = await Promise.race([
        page.evaluate(async ({ RETIMES, ops }) => {
          const results = [];
          /** An item (or with `history`, a history of items) of an earlier op's answer. */
          const resolve = (ref) => {
            const value = results[ref.op].value;
            const list = (ref.field ? value?.[ref.field] : value) ?? [];
            if (ref.history) return { history: list.slice(0, ref.history).map((x) => ({ item: x.item })) };
            return list[Math.min(ref.index, list.length - 1)]?.item ?? 'none';
          };
          const run = async (op, args) => {
            const t0 = performance.now();
            try {
              let value;
              if (op.call === 'restore') {
                S.copy = await Recommender.restore(...args);
                value = { backend: S.copy.backend };
              } else if (op.call === 'dispose') {
                S.copy.dispose();
              } else {
                value = await (op.on === 'copy' ? S.copy : S.rec)[op.call](...args);
              }
              return { ok: true, value, ms: performance.now() - t0 };
            } catch (e) {
              return { ok: false, isError: e instanceof Error, code: e?.code, message: String(e?.message ?? e), ms: performance.now() - t0 };
            }
          };
          for (const op of ops) {
            const args = op.args;
            if (op.ref) args[op.ref.arg] = resolve(op.ref);
            const result = await run(op, args);
            if (op.retimeAbove !== undefined && result.ms > op.retimeAbove) {
              // Slow: timed again, on the same inputs and state.
              result.again = [];
              for (let i = 0; i < RETIMES; i++) result.again.push((await run(op, args)).ms);
            }
            results.push(result);
          }
          S.copy = null;
          return { results };
        }, { RETIMES, ops: ops.map(({ kind, call, on, args, ref }) => ({ kind, call, on, args, ref, retimeAbove: retimeAbove(kind, call) })) }),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`round ${round}: no answer in ${ROUND_TIMEOUT_MS / 1000} s (a hang)`)), ROUND_TIMEOUT_MS))),
      ]);
    } catch (e) {
      fail(e.message);
      break;
    } finally {
      clearTimeout(timer);
    }
    const record = { round, wasm: undefined, ms: [] };
    out.results.forEach((r, i) => {
      const op = ops[i];
      const got = r.ok ? 'ok' : r.isError ? r.code ?? '(no code)' : `not an Error: ${r.message}`;
      record.ms.push([op.kind, r.ms, r.again]);
      soFar.set(op.kind, [...(soFar.get(op.kind) ?? []), r.ms]);
      if (got !== op.expect) {
        fail(`round ${round}, ${op.kind}: expected ${op.expect}, got ${got}${r.ok ? '' : `: ${r.message}`}`);
        return;
      }
      if (op.check) {
        try {
          op.check(r.value, out.results);
        } catch (e) {
          fail(`round ${round}, ${op.kind}: ${e.message.split('\n')[0]} (args ${JSON.stringify(op.args).slice(0, 300)})`);
        }
      }
      if (op.call === 'memory' && r.ok) record.wasm = r.value.wasmBytes;
    });
    records.push(record);
    if (round % SAMPLE_EVERY === 0) await sample(round);
  }
  // The restored Recommenders' workers end with dispose(); the soak's own remains.
  for (let wait = 0; page.workers().length > 1 && wait < 50; wait++) await new Promise((done) => setTimeout(done, 100));
  assert.deepEqual(page.workers(), [worker], 'one worker at the end: the soak’s own');
} catch (e) {
  fail(`stopped: ${e.stack ?? e}`);
} finally {
  await close();
  server.close();
}

// ---------------------------------------------------------------------------------------------
// The verdicts.

if (consoleErrors.length > 0) fail(`console errors: ${consoleErrors.slice(0, 5).join(' | ')}`);
let summary = '';
if (records.length === ROUNDS && series.length === ROUNDS / SAMPLE_EVERY + 1) {
  // Memory, after the warm-up (series[1], round 100).
  const warm = series[1];
  for (const s of series.slice(2)) {
    const grown = s.wasm - warm.wasm;
    if (grown > WASM_SLACK) {
      // Where it grew (as memory() saw it, probes included): "212.07 MB (rounds 101–140) → …".
      const steps = [];
      for (const r of records) {
        if (steps.length && steps[steps.length - 1].wasm === r.wasm) steps[steps.length - 1].to = r.round;
        else steps.push({ wasm: r.wasm, from: r.round, to: r.round });
      }
      const where = steps.map((x) => `${mb(x.wasm)} MB (rounds ${x.from}–${x.to})`).join(' → ');
      fail(`round ${s.round}: wasm memory grew ${grown} bytes after the warm-up (bound ${WASM_SLACK}): ${where}`);
    }
    const allowed = IN_USE_SLACK + ITEM_BYTES * (s.added - warm.added);
    if (s.inUse - warm.inUse > allowed) {
      fail(
        `round ${s.round}: wasm heap in use ${mb(warm.inUse)} MB after the warm-up → ${mb(s.inUse)} MB ` +
          `(+${mb(s.inUse - warm.inUse)} MB; bound ${mb(allowed)} MB for ${s.added - warm.added} added items)`,
      );
    }
    if (warm.heap !== undefined && s.heap - warm.heap > HEAP_GROWTH * warm.heap) {
      fail(`round ${s.round}: JS heap ${mb(warm.heap)} MB after the warm-up → ${mb(s.heap)} MB (after GC; bound +${100 * HEAP_GROWTH}%)`);
    }
  }
  // Call times, by kind.
  const stalls = [];
  const window = (from, to) => {
    const by = new Map();
    for (const r of records.slice(from, to)) for (const [kind, ms] of r.ms) by.set(kind, [...(by.get(kind) ?? []), ms]);
    return by;
  };
  const first = window(0, WINDOW);
  const last = window(ROUNDS - WINDOW, ROUNDS);
  const all = window(0, ROUNDS);
  console.log(`\n${'call'.padEnd(28)} ${'calls'.padStart(6)} ${'median ms'.padStart(10)} ${'worst ms'.padStart(9)} ${'first 10%'.padStart(10)} ${'last 10%'.padStart(9)}`);
  for (const [kind, ms] of [...all].sort((a, b) => a[0].localeCompare(b[0]))) {
    const f = first.get(kind) ?? [];
    const l = last.get(kind) ?? [];
    const compared = f.length >= 10 && l.length >= 10;
    const worst = Math.max(...ms);
    console.log(
      `${kind.padEnd(28)} ${String(ms.length).padStart(6)} ${median(ms).toFixed(2).padStart(10)} ${worst.toFixed(1).padStart(9)} ` +
        `${(f.length ? median(f).toFixed(2) : '-').padStart(10)} ${(l.length ? median(l).toFixed(2) : '-').padStart(9)}` +
        `${ms.length < 10 ? '  (too few calls to judge)' : compared ? '' : '  (windows not compared)'}`,
    );
    const bound = SPIKE_FACTOR * median(ms) + SPIKE_SLACK_MS;
    if (ms.length >= 10 && worst > bound) {
      for (const r of records) {
        for (const [k, t, again] of r.ms) {
          if (k !== kind || t <= bound) continue;
          const call = `${kind}: a call took ${t.toFixed(1)} ms (round ${r.round}), > ${SPIKE_FACTOR}× the median ${median(ms).toFixed(2)} ms + ${SPIKE_SLACK_MS} ms`;
          if (again && Math.min(...again) <= bound) stalls.push(`${call}; timed again: ${again.map((x) => x.toFixed(1)).join(', ')} ms`);
          else fail(`${call}${again ? `; timed again: ${again.map((x) => x.toFixed(1)).join(', ')} ms` : ' (not repeatable)'}`);
        }
      }
    }
    if (compared && median(l) > TIME_FACTOR * median(f) + TIME_SLACK_MS) {
      fail(`${kind}: median ${median(l).toFixed(2)} ms in the last 10% of rounds vs ${median(f).toFixed(2)} ms in the first`);
    }
  }
  const calls = records.reduce((s, r) => s + r.ms.length, 0);
  const stallsAllowed = Math.floor(STALL_SHARE * calls);
  if (stalls.length > 0) console.log(`\nstalls (slow once, not when timed again): ${stalls.length}, ${stallsAllowed} allowed\n  ${stalls.join('\n  ')}`);
  if (stalls.length > stallsAllowed) fail(`${stalls.length} stalls in ${calls} calls (${stallsAllowed} allowed): recurring pauses, or a machine too busy to time calls on`);
  const end = series[series.length - 1];
  const med = (kind) => median(all.get(kind)).toFixed(2);
  summary =
    `${ROUNDS} rounds (${calls} calls; one Recommender throughout, ${end.added} items added), wasm memory ${mb(warm.wasm)} → ${mb(end.wasm)} MB, ` +
    `in use ${mb(warm.inUse)} → ${mb(end.inUse)} MB, JS heap ${warm.heap === undefined ? 'n/a' : `${mb(warm.heap)} → ${mb(end.heap)} MB`}; ` +
    `median recommend ${med('recommend')} ms, explain ${med('explain')} ms, similar ${med('similar')} ms, personalize ${med('personalize')} ms, ` +
    `addItem ${med('addItem')} ms, save ${med('save')} ms, restore ${med('restore')} ms; ${stalls.length} stalls; in ${((Date.now() - started) / 1000).toFixed(0)} s`;
} else if (failures.length === 0) {
  fail(`only ${records.length} of ${ROUNDS} rounds ran`);
}
if (failures.length > 0) {
  console.error(`\nFAIL soak: ${failures.length} failure(s)${summary ? `; ${summary}` : ''}`);
  process.exit(1);
}
console.log(`\nok soak: ${summary}`);
process.exit(0);
