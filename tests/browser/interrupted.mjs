// Interrupted persistence (Chromium headless, WebGPU unavailable: the CPU backend): a `save`
// cut short — the worker terminated by `dispose()`, or the page closed — leaves the previous
// saved session restorable, never a half-written one. `save(key)` writes one IndexedDB record
// `{ manifest, files, state, device, saved }` with one put in one transaction (js/worker.js), so
// a restore after the interruption must answer exactly as the previous save (A) or exactly as
// the interrupted one (B), whatever the moment of the interruption. Also: damaged records
// restore as BAD_DATA and leave the good one restorable.
//   node tests/browser/interrupted.mjs [models/ci]
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { launch } from './chromium.mjs';
import { serve } from './server.mjs';

const dir = process.argv[2] ?? 'models/ci';
const BUNDLE = 'bpr-int8';
const KEY = 'k';
const TRIALS = 30; // alternately dispose() and page.close()
const STEP_TIMEOUT_MS = 30_000; // longer is a hang
const started = performance.now();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** `promise`, or a rejection after STEP_TIMEOUT_MS naming `what`. */
function within(what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${STEP_TIMEOUT_MS / 1000} s (a hang)`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
const show = (recs) => recs.map((r) => `${r.item} ${r.score.toFixed(6)}`).join(', ');

const { server, url } = await serve();
const { context, close } = await launch(['--disable-webgpu']);
const problems = []; // console errors and panics, from any page or worker
const savedTrials = new Set(); // trials whose save resolved in the page (the close case)
let failed = false;
const counts = { old: 0, new: 0 };
const rows = [];
let damagedSummary = '';
try {
  // Closing a test page must never close the last page of the context: this one stays open.
  if (context.pages().length === 0) await context.newPage();
  await context.exposeFunction('saveDone', (trial) => savedTrials.add(trial));

  const openPage = async () => {
    const page = await context.newPage();
    const onConsole = (m) => {
      if ((m.type() === 'error' && !/^Failed to load resource/.test(m.text())) || /panicked/.test(m.text())) problems.push(m.text());
    };
    page.on('console', onConsole);
    page.on('worker', (w) => w.on('console', onConsole));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(`${url}/tests/browser/page.html`);
    await page.waitForFunction(() => window.ready === true);
    return page;
  };

  // 1. Load, personalize a little, save: state A; its top 10 for a fixed history of real ids.
  let page = await openPage();
  const setup = await within(
    'setup',
    page.evaluate(async ({ bundleUrl, key }) => {
      const rec = (window.rec = await Recommender.load(bundleUrl, { device: 'cpu' }));
      const items = (await rec.items()).map((x) => x.item);
      const history = [items[0], items[49], items[99]].map((item) => ({ item, rating: 5 }));
      // Five rounds of a little personalizing and a full save, timed as the trials will save:
      // right after a change. The last save is A.
      const ms = [];
      for (let i = 0; i < 5; i++) {
        await rec.personalize(items.slice(200 + 2 * i, 210 + 2 * i).map((item) => ({ item, rating: 5 })), { steps: 10 });
        const t0 = performance.now();
        await rec.save(key);
        ms.push(performance.now() - t0);
      }
      const recs = await rec.recommend({ history }, { k: 10 });
      return { backend: rec.backend, items, history, recs, ms };
    }, { bundleUrl: `/${dir}/${BUNDLE}/`, key: KEY }),
  );
  assert.equal(setup.backend, 'cpu', 'WebGPU unavailable: the CPU backend');
  assert.equal(setup.recs.length, 10, 'A: 10 recommendations');
  const { items, history } = setup;
  const saveMs = [...setup.ms].sort((a, b) => a - b)[2]; // the median of 5
  let A = setup.recs;
  console.log(
    `state A saved: save ${setup.ms.map((m) => m.toFixed(1)).join(', ')} ms (median ${saveMs.toFixed(1)}); ` +
      `history ${history.map((h) => h.item).join(', ')}; top 10 ${A.map((r) => r.item).join(' ')}`,
  );

  // Delays for each kind of interruption: 0, 1 ms, then up to 2× a full save, denser at the
  // short end (quadratically, at least 1 ms apart): a busy machine's timed saves run long, and
  // the write itself is in the first few milliseconds.
  const perKind = TRIALS / 2;
  const spread = [0, 1, ...Array.from({ length: perKind - 2 }, (_, j) => Math.max(j + 2, Math.round(2 * saveMs * ((j + 1) / (perKind - 2)) ** 2)))];
  console.log(`delays (ms), for dispose() and for page.close() alike: ${spread.join(', ')}`);

  // 2. Trials: change the session (B), save without awaiting, interrupt after the delay, then
  // restore in a fresh page: exactly A or exactly B.
  for (let trial = 0; trial < TRIALS; trial++) {
    const how = trial % 2 === 0 ? 'dispose' : 'close';
    const delay = spread[trial >> 1];
    const label = `trial ${trial + 1} (${how} after ${delay} ms)`;
    // Different liked and disliked items each trial; a second or third set if the first one
    // leaves the top 10 as it was.
    const eventSets = [0, 1, 2].map((round) => {
      const at = 300 + ((trial * 3 + round) * 37) % 1200;
      return [
        ...items.slice(at, at + 8).map((item) => ({ item, rating: 5 })),
        ...items.slice(at + 8, at + 12).map((item) => ({ item, rating: 1 })),
      ];
    });
    const prep = await within(
      `${label}: personalize`,
      page.evaluate(async ({ history, eventSets, A }) => {
        const same = (x, y) => JSON.stringify(x) === JSON.stringify(y);
        let B;
        let sets = 0;
        for (const events of eventSets) {
          await rec.personalize(events, { steps: 20 });
          sets++;
          B = await rec.recommend({ history }, { k: 10 });
          if (!same(B, A)) break;
        }
        return { B, sets };
      }, { history, eventSets, A }),
    );
    const B = prep.B;
    assert.ok(!isDeepStrictEqual(B, A), `${label}: personalizing left the top 10 as in A (the trial would prove nothing)`);

    let interrupt;
    if (how === 'dispose') {
      interrupt = await within(
        `${label}: save + dispose`,
        page.evaluate(async ({ key, delay }) => {
          const t0 = performance.now();
          let done = false;
          const saving = rec.save(key).then(
            () => ((done = true), 'saved'),
            (e) => e?.code ?? String(e),
          );
          if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
          const savedBefore = done;
          rec.dispose();
          const at = performance.now() - t0;
          return { savedBefore, at, result: await saving };
        }, { key: KEY, delay }),
      );
      // The page may still hold the terminated worker's nothing; a fresh page restores.
      await page.close();
    } else {
      const t0 = performance.now();
      await within(
        `${label}: save`,
        page.evaluate(({ key, trial }) => {
          rec.save(key).then(() => window.saveDone(trial), () => {});
        }, { key: KEY, trial }),
      );
      if (delay > 0) await sleep(delay);
      // Known to the test before the close: the save resolved in the page, so it committed.
      const savedBefore = savedTrials.has(trial);
      const at = performance.now() - t0;
      await page.close();
      interrupt = { savedBefore, at, result: savedBefore ? 'saved' : 'closed' };
    }

    page = await openPage();
    const restored = await within(
      `${label}: restore`,
      page.evaluate(async ({ key, history }) => {
        try {
          window.rec = await Recommender.restore(key);
          return { recs: await rec.recommend({ history }, { k: 10 }), backend: rec.backend };
        } catch (e) {
          return { error: `${e?.code}: ${e?.message ?? e}` };
        }
      }, { key: KEY, history }),
    );
    let outcome;
    if (restored.error) outcome = `error ${restored.error}`;
    else if (isDeepStrictEqual(restored.recs, A)) outcome = 'old';
    else if (isDeepStrictEqual(restored.recs, B)) outcome = 'new';
    else outcome = `neither A nor B: ${show(restored.recs)} (A: ${show(A)}; B: ${show(B)})`;
    rows.push({ trial: trial + 1, how, delay, at: interrupt.at, savedBefore: interrupt.savedBefore, result: interrupt.result, sets: prep.sets, outcome });
    assert.ok(outcome === 'old' || outcome === 'new', `${label}: restore → ${outcome}`);
    // A save that resolved before the interruption has committed: it must be the one restored.
    assert.ok(!interrupt.savedBefore || outcome === 'new', `${label}: the save had resolved, yet restore gave the previous state`);
    counts[outcome]++;
    if (outcome === 'new') A = B;
  }

  // 3. Damaged records under 'k2' (written straight into the store): BAD_DATA; 'k' still restores.
  const damaged = await within(
    'damaged record',
    page.evaluate(async ({ key, history }) => {
      const tx = (mode, f) =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('fusionrec', 1);
          open.onupgradeneeded = () => open.result.createObjectStore('sessions');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            const t = db.transaction('sessions', mode);
            const request = f(t.objectStore('sessions'));
            t.oncomplete = () => (db.close(), resolve(request.result));
            t.onerror = () => (db.close(), reject(t.error));
            t.onabort = () => (db.close(), reject(t.error ?? new Error('aborted')));
          };
        });
      const good = await tx('readonly', (s) => s.get(key));
      const garbage = crypto.getRandomValues(new Uint8Array(256));
      const values = {
        'a string': 'garbage',
        'random bytes': garbage,
        'fields of the wrong types': { manifest: 'not bytes', files: 42, state: [1, 2, 3], device: 'cpu', saved: Date.now() },
        'bytes where the files go': { ...good, files: garbage },
        'the state cut in half (a torn write)': { ...good, state: good.state.slice(0, good.state.length >> 1) },
        'the state replaced by random bytes': { ...good, state: garbage },
      };
      const codes = {};
      for (const [name, value] of Object.entries(values)) {
        await tx('readwrite', (s) => s.put(value, 'k2'));
        codes[name] = await Recommender.restore('k2').then(
          (r) => (r.dispose(), 'restored'),
          (e) => (e instanceof Error ? `${e.code}: ${e.message}` : `not an Error: ${e}`),
        );
      }
      const again = await Recommender.restore(key);
      const recs = await again.recommend({ history }, { k: 10 });
      again.dispose();
      return { codes, recs };
    }, { key: KEY, history }),
  );
  for (const [name, got] of Object.entries(damaged.codes)) {
    assert.ok(got.startsWith('BAD_DATA: '), `damaged record (${name}): restore('k2') → ${got}`);
  }
  assert.deepEqual(damaged.recs, A, "restore('k') after the damaged records: the last saved state");
  damagedSummary = `damaged record → BAD_DATA`;
  console.log(`ok damaged records (${Object.keys(damaged.codes).join('; ')}) → BAD_DATA; '${KEY}' still restores the last save`);
  await page.close();
} catch (e) {
  failed = true;
  console.error(`FAIL ${e.stack ?? e}`);
} finally {
  await close();
  server.close();
}

const pad = (s, n) => String(s).padEnd(n);
if (rows.length > 0) {
  console.log(`\n${pad('trial', 6)}${pad('interrupt', 10)}${pad('delay ms', 10)}${pad('at ms', 8)}${pad('save', 10)}${pad('sets', 6)}restored`);
  for (const r of rows) {
    console.log(`${pad(r.trial, 6)}${pad(r.how, 10)}${pad(r.delay, 10)}${pad(r.at.toFixed(1), 8)}${pad(r.result, 10)}${pad(r.sets, 6)}${r.outcome}`);
  }
}
if (problems.length > 0) {
  failed = true;
  console.error(`FAIL console errors: ${problems.join(' | ')}`);
}
if (!failed && (counts.old === 0 || counts.new === 0)) {
  failed = true;
  const only = counts.old === 0 ? 'the new state' : 'the previous state';
  const fix = counts.old === 0 ? 'interrupted every save too late' : 'never let a save finish';
  console.error(`FAIL every trial restored ${only}: the delays ${fix}, so the trials did not cover both sides of the write`);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (!failed) {
  console.log(`\n${rows.length} trials in ${seconds} s`);
  console.log(`ok interrupted: ${rows.length} trials (${counts.old} kept the previous save, ${counts.new} the new one), ${damagedSummary}`);
}
process.exit(failed ? 1 : 0);
