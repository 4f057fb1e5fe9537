// Browser benchmark: load, recommend, similar, explain, personalize (20 autodiff steps) and
// addItem (MiniLM on the device; the first call's encoder download + load reported apart)
// latency of the fusionrec package in
// Debian's Chromium (headless), on WebGPU (SwiftShader here: CPU-emulated, so slow) and on the
// CPU (burn Flex in wasm), side by side in one run. Prints a markdown table; not a test.
//   node bench/browser.mjs [bundle-dir ...]      (default: models/ci/ease-mm models/ci/bpr)
// Needs the built package (bash scripts/build-wasm.sh web) and the bundles.
import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from '../tests/browser/chromium.mjs';
import { serve } from '../tests/browser/server.mjs';

const bundles = process.argv.slice(2).length ? process.argv.slice(2) : ['models/ci/ease-mm', 'models/ci/bpr'];
const HISTORY = ['50', '172', '133', '1', '181'].map((item) => ({ item }));
const LOADS = 3;
const CALLS = 20;
const TUNES = 5;
const ADDS = 5;
const ENCODERS = { text: '/data/minilm/', image: '/data/efficientnet-lite0/efficientnet-lite0-57934424.pth' };
// Local events for personalize: ten liked films and two disliked ones.
const EVENTS = [
  ...['98', '127', '174', '172', '181', '56', '64', '195', '96', '423'].map((item) => ({ item, rating: 5 })),
  ...['1', '121'].map((item) => ({ item, rating: 1 })),
];
const BACKENDS = [
  { name: 'webgpu', args: ['--enable-unsafe-webgpu'] },
  { name: 'cpu', args: ['--disable-webgpu'] },
];

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const bytes = (dir) => readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);

const { server, url } = await serve();
const rows = [];
for (const backend of BACKENDS) {
  const { context, close } = await launch(backend.args);
  try {
    const page = await context.newPage();
    await page.goto(`${url}/tests/browser/page.html`);
    await page.waitForFunction(() => window.ready === true);
    for (const dir of bundles) {
      const t = await page.evaluate(
        async ({ bundleUrl, history, loads, calls, tunes, adds, encoders, events }) => {
          const time = async (f) => {
            const start = performance.now();
            await f();
            return performance.now() - start;
          };
          const load = [];
          for (let i = 0; i < loads; i++) {
            window.rec?.dispose();
            load.push(await time(async () => (window.rec = await Recommender.load(bundleUrl, { encoders }))));
          }
          const rec = window.rec;
          const top = await rec.recommend({ history }, { k: 10 });
          const measure = async (f) => {
            await f();
            await f(); // warm-up
            const out = [];
            for (let i = 0; i < calls; i++) out.push(await time(f));
            return out;
          };
          const out = {
            backend: rec.backend,
            load,
            recommend: await measure(() => rec.recommend({ history }, { k: 10 })),
            similar: await measure(() => rec.similar(history[0].item, { k: 10 })),
            explain: await measure(() => rec.explain({ history }, top[0].item)),
            personalize: [],
            add: [],
          };
          for (let i = 0; i < tunes; i++) out.personalize.push(await time(() => rec.personalize(events, { steps: 20 })));
          if (rec.content.includes('text')) {
            const item = (i) => ({ id: `bench-${i}`, title: `A film ${i}`, description: 'A quiet sci-fi drama about memory and loss.' });
            out.firstAdd = await time(() => rec.addItem(item(0)));
            for (let i = 1; i <= adds; i++) out.add.push(await time(() => rec.addItem(item(i))));
          }
          return out;
        },
        {
          bundleUrl: `/${dir}/`, history: HISTORY, loads: LOADS, calls: CALLS, tunes: TUNES, adds: ADDS,
          encoders: ENCODERS, events: EVENTS,
        },
      );
      rows.push({ dir, size: bytes(dir), ...t });
    }
  } finally {
    await close();
  }
}
server.close();

const wasm = statSync('pkg/web/fusionrec_bg.wasm').size;
console.log(
  `wasm: ${(wasm / 1e6).toFixed(2)} MB raw; history of ${HISTORY.length} items; medians of ${LOADS} loads, ` +
    `${CALLS} calls, ${TUNES} personalize calls (20 steps, ${EVENTS.length} events) and ${ADDS} addItem calls`,
);
console.log('| bundle | size | backend | load (ms) | recommend (ms) | similar (ms) | explain (ms) | personalize (ms) | first addItem incl. encoder (ms) | addItem (ms) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const f = (xs) => (xs.length ? median(xs).toFixed(1) : '–');
  const first = r.firstAdd === undefined ? '–' : r.firstAdd.toFixed(0);
  console.log(
    `| ${r.dir} | ${(r.size / 1e6).toFixed(1)} MB | ${r.backend} | ${f(r.load)} | ${f(r.recommend)} | ${f(r.similar)} | ` +
      `${f(r.explain)} | ${f(r.personalize)} | ${first} | ${f(r.add)} |`,
  );
}
