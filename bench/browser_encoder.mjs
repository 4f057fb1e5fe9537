// Browser benchmark of the on-device text encoder (MiniLM) on the wasm CPU backend (burn Flex;
// Chromium with WebGPU off), side by side in one Chromium launch with up to two peers:
//   - `--before DIR`: another build of the package (DIR holds `js/` and `pkg/web/`, e.g. a
//     checkout's), timed the same way: the before/after comparison of a change;
//   - `--ort DIR`: onnxruntime-web's wasm backend (1 thread, SIMD) on MiniLM exported to ONNX
//     from the same weights: DIR holds `minilm.onnx` and `tokens.json` (bench/minilm_onnx.py) and
//     `ort/` (onnxruntime-web's `dist/`, e.g. a symlink to node_modules/onnxruntime-web/dist).
// Texts: the first 64 ML-100K titles (data/ml-100k/ml-100k.item) and one short text. Rates:
// sentences/s on the 64 titles batched (`encode({ texts })`: batches of similar token length;
// onnxruntime-web gets the same batches, and also the 64 as one padded batch; a build without
// `texts` encodes them one by one) and one by one; latency of the short text alone. Rounds alternate the
// engines; medians. Ours includes tokenisation and the worker round trip, onnxruntime-web gets
// token ids (tokenised beforehand with the same tokenizer.json). Every engine's vectors are
// checked against the others' (cosine). Prints a markdown table; not a test.
//   node bench/browser_encoder.mjs [--before DIR] [--ort DIR] [--rounds N]
// Needs the built package (bash scripts/build-wasm.sh web), models/ci/ease-mm and data/minilm.
import { readFileSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../tests/browser/chromium.mjs';
import { serve } from '../tests/browser/server.mjs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const BEFORE = opt('--before');
const ORT = opt('--ort');
const ROUNDS = Number(opt('--rounds') ?? 5);
const SINGLES = 10; // short-text calls per round
const BUNDLE = '/models/ci/ease-mm/';
const ENCODERS = { text: '/data/minilm/' };
// Keep equal to bench/browser_encoder_texts.py.
const SHORT_TEXT = 'A quiet sci-fi drama about memory and loss.';
const TITLES = readFileSync('data/ml-100k/ml-100k.item', 'utf8')
  .split('\n')
  .slice(1, 65)
  .map((l) => l.split('\t')[1].trim());

const root = resolve(fileURLToPath(import.meta.url), '../..');
const here = (p) => join(root, p);
const folders = {
  'js/': here('js/'),
  'pkg/': here('pkg/'),
  'tests/browser/': here('tests/browser/'),
  'models/': here('models/'),
  'data/minilm/': here('data/minilm/'),
  ...(BEFORE ? { 'before/': realpathSync(BEFORE) } : {}),
  ...(ORT ? { 'ort/': realpathSync(ORT) } : {}),
};
let tokens;
if (ORT) {
  tokens = JSON.parse(readFileSync(join(ORT, 'tokens.json'), 'utf8'));
  if (JSON.stringify(tokens.texts) !== JSON.stringify(TITLES) || tokens.short !== SHORT_TEXT) {
    throw new Error(`${ORT}/tokens.json holds other texts: rerun bench/minilm_onnx.py`);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const { server, url } = await serve(0, { folders });
const { context, close } = await launch(['--disable-webgpu']);
const engines = [...(BEFORE ? ['before'] : []), 'after', ...(ORT ? ['ort'] : [])];
const times = Object.fromEntries(engines.map((e) => [e, { batch: [], oneByOne: [], single: [] }]));
const vectors = {};
let batchApi = {};
try {
  const page = await context.newPage();
  page.on('console', (m) => m.type() === 'error' && console.error('page:', m.text()));
  await page.goto(`${url}/tests/browser/page.html`);
  await page.waitForFunction(() => window.ready === true);
  // Load every engine once (the encoder download and load are not timed).
  batchApi = await page.evaluate(
    async ({ engines, bundle, encoders, tokens }) => {
      window.engines = {};
      const api = {};
      for (const name of engines) {
        if (name === 'ort') {
          const ort = await import('/ort/ort/ort.wasm.min.mjs');
          ort.env.wasm.numThreads = 1;
          ort.env.wasm.simd = true;
          ort.env.wasm.proxy = false;
          ort.env.wasm.wasmPaths = '/ort/ort/';
          const session = await ort.InferenceSession.create('/ort/minilm.onnx', {
            executionProviders: ['wasm'],
            graphOptimizationLevel: 'all',
          });
          const run = async (rows) => {
            const b = rows.length;
            const t = Math.max(...rows.map((r) => r.length));
            const ids = new BigInt64Array(b * t);
            const mask = new BigInt64Array(b * t);
            rows.forEach((r, i) => r.forEach((id, j) => ((ids[i * t + j] = BigInt(id)), (mask[i * t + j] = 1n))));
            const out = await session.run({
              input_ids: new ort.Tensor('int64', ids, [b, t]),
              attention_mask: new ort.Tensor('int64', mask, [b, t]),
            });
            const e = out.embedding.data;
            return rows.map((_, i) => Array.from(e.subarray(i * 384, (i + 1) * 384)));
          };
          // The crate's batching (src/web/device.rs `length_batches`): longest first, a row joins
          // a batch while it is at least ¾ as long as the batch's first; at most 64.
          const groups = [];
          for (const i of tokens.ids.map((_, i) => i).sort((a, b) => tokens.ids[b].length - tokens.ids[a].length)) {
            const g = groups.at(-1);
            if (g && g.length < 64 && tokens.ids[i].length * 4 >= tokens.ids[g[0]].length * 3) g.push(i);
            else groups.push([i]);
          }
          window.engines.ort = {
            batch: async () => {
              const out = [];
              for (const g of groups) (await run(g.map((i) => tokens.ids[i]))).forEach((v, j) => (out[g[j]] = v));
              return out;
            },
            padded: () => run(tokens.ids),
            one: async (i) => (await run([tokens.ids[i]]))[0],
            short: async () => (await run([tokens.shortIds]))[0],
          };
          api.ort = true;
          continue;
        }
        const { Recommender } = await import(name === 'before' ? '/before/js/index.js' : '/js/index.js');
        const rec = await Recommender.load(bundle, { device: 'cpu', encoders });
        if (rec.backend !== 'cpu') throw new Error(`${name}: backend ${rec.backend}`);
        await rec.encode({ text: 'warm-up' });
        const probe = await rec.encode({ texts: ['a', 'b'] });
        api[name] = Array.isArray(probe.texts);
        window.engines[name] = { rec, batched: api[name] };
      }
      return api;
    },
    { engines, bundle: BUNDLE, encoders: ENCODERS, tokens },
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of engines) {
      const t = await page.evaluate(
        async ({ name, titles, short, singles }) => {
          const e = window.engines[name];
          const time = async (f) => {
            const start = performance.now();
            const out = await f();
            return [performance.now() - start, out];
          };
          const ours = name !== 'ort';
          const one = ours ? async (i) => (await e.rec.encode({ text: titles[i] })).text : e.one;
          const oneByOne = async () => {
            const out = [];
            for (let i = 0; i < titles.length; i++) out.push(await one(i));
            return out;
          };
          const batch = !ours ? e.batch : e.batched ? async () => (await e.rec.encode({ texts: titles })).texts : oneByOne;
          const shortOne = ours ? async () => (await e.rec.encode({ text: short })).text : e.short;
          const [batchMs, batchOut] = await time(batch);
          const paddedMs = ours ? undefined : (await time(e.padded))[0];
          const [oneMs, oneOut] = await time(oneByOne);
          const single = [];
          let shortOut;
          for (let i = 0; i < singles; i++) {
            const [ms, out] = await time(shortOne);
            single.push(ms);
            shortOut = out;
          }
          return { batchMs, paddedMs, oneMs, single, vectors: { batch: batchOut, oneByOne: oneOut, short: shortOut } };
        },
        { name, titles: TITLES, short: SHORT_TEXT, singles: SINGLES },
      );
      times[name].batch.push(t.batchMs);
      if (t.paddedMs !== undefined) (times[name].padded ??= []).push(t.paddedMs);
      times[name].oneByOne.push(t.oneMs);
      times[name].single.push(...t.single);
      vectors[name] = t.vectors;
    }
  }
  await page.evaluate(() => Object.values(window.engines).forEach((e) => e.rec?.dispose()));
} finally {
  await close();
  server.close();
}

// Agreement: every engine's vectors against the first's (and batch against one by one).
const cos = (a, b) => {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) (d += a[i] * b[i]), (na += a[i] * a[i]), (nb += b[i] * b[i]);
  return d / Math.sqrt(na * nb);
};
const maxAbs = (a, b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
const ref = vectors[engines[0]];
for (const name of engines) {
  const v = vectors[name];
  const rows = [...v.batch.map((r, i) => [r, ref.oneByOne[i]]), ...v.oneByOne.map((r, i) => [r, ref.oneByOne[i]]), [v.short, ref.short]];
  const worst = Math.min(...rows.map(([a, b]) => cos(a, b)));
  const delta = Math.max(...rows.map(([a, b]) => maxAbs(a, b)));
  console.log(`${name} vs ${engines[0]} (one by one): min cosine ${worst.toFixed(7)}, max |Δ| ${delta.toExponential(2)}`);
  if (worst < 0.999) {
    console.error(`error: ${name}'s vectors disagree with ${engines[0]}'s`);
    process.exitCode = 1;
  }
}

const n = TITLES.length;
const label = { before: 'fusionrec (before)', after: 'fusionrec', ort: 'onnxruntime-web 1.30 wasm' };
console.log(
  `${n} ML-100K titles, ${ROUNDS} rounds (medians), short text = "${SHORT_TEXT}" (${SINGLES} calls a round); ` +
    `Chromium --disable-webgpu, one thread each`,
);
console.log('| encoder | 64 titles, batched (sentences/s) | 64 titles, one by one (sentences/s) | short text (ms) |');
console.log('|---|---|---|---|');
for (const name of engines) {
  const t = times[name];
  const rate = (xs) => (n / (median(xs) / 1000)).toFixed(1);
  const batch = name === 'ort' || batchApi[name] ? rate(t.batch) : '– (no batch API)';
  console.log(`| ${label[name]} | ${batch} | ${rate(t.oneByOne)} | ${median(t.single).toFixed(1)} |`);
  if (t.padded) console.log(`| ${label[name]}, the 64 as one padded batch | ${rate(t.padded)} | | |`);
}
