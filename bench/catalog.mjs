// Browser benchmark for large catalogs: loads one bundle in Debian's Chromium (headless) on the
// CPU (burn Flex in wasm, WebGPU disabled) and on WebGPU (SwiftShader here: a CPU emulation, no
// speed reference), and prints a markdown table of
//   - load: Recommender.load(url) — download with progress, checksum, parse — wall time;
//   - recommend: top-10 for a 5-item history (median of 20 after a warm-up), and first visit;
//   - memory: the renderer processes' resident memory (Linux /proc, summed over this Chromium's
//     renderers, which run the page and its worker) after load and their peak, each minus
//     the same figures before the load; against the bundle's bytes on disk.
// The same figures for a small bundle (`--baseline DIR`, default the CI's BPR-MF int8 bundle
// when it is there) say what the recommender costs whatever the catalog (the worker and the
// compiled wasm): the catalog's own share is the difference.
// Not a test: `node bench/catalog.mjs BUNDLE_DIR [--baseline DIR] [--json]`. Needs the built
// package (bash scripts/build-wasm.sh web).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launch } from '../tests/browser/chromium.mjs';
import { serve } from '../tests/browser/server.mjs';

const args = process.argv.slice(2);
const json = args.includes('--json');
const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const dir = resolve(args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--baseline') ?? 'models/ci/bpr-int8');
const baselineDir = resolve(flag('--baseline') ?? 'models/ci/bpr-int8');
const CALLS = 20;
const BACKENDS = [
  { name: 'cpu', args: ['--disable-webgpu'] },
  { name: 'webgpu', args: ['--enable-unsafe-webgpu'] },
].filter((b) => !process.env.BACKENDS || process.env.BACKENDS.split(',').includes(b.name));

const sizeOf = (d) => readdirSync(d).reduce((s, f) => s + statSync(join(d, f)).size, 0);
const root = resolve(new URL('..', import.meta.url).pathname);
const folders = {
  'pkg/': join(root, 'pkg/'),
  'js/': join(root, 'js/'),
  'tests/browser/': join(root, 'tests/browser/'),
  'bundle/': `${dir}/`,
  'baseline/': `${baselineDir}/`,
};
const bundles = [
  ...(existsSync(join(baselineDir, 'manifest.json')) && baselineDir !== dir ? [{ role: 'baseline', dir: baselineDir, path: 'baseline' }] : []),
  { role: 'catalog', dir, path: 'bundle' },
];

/** Resident and peak memory (bytes) of the renderer processes of the Chromium launched with
 * `profile` (its own, not any other Chromium running on the machine): those with an ancestor
 * whose command line names the profile. */
function renderers(profile) {
  let rss = 0;
  let hwm = 0;
  const read = (pid, file) => {
    try {
      return readFileSync(`/proc/${pid}/${file}`, 'utf8');
    } catch {
      return '';
    }
  };
  const ours = (pid) => {
    for (let p = pid, hops = 0; p && p !== '1' && hops < 16; hops++) {
      if (read(p, 'cmdline').includes(profile)) return true;
      p = /PPid:\s+(\d+)/.exec(read(p, 'status'))?.[1];
    }
    return false;
  };
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium') || !cmd.includes('--type=renderer') || !ours(pid)) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      hwm += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // the process ended meanwhile
    }
  }
  return { rss, hwm };
}

// A history of five catalog items (the first five ids of each manifest).
const manifestOf = (d) => JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
const manifest = manifestOf(dir);

const { server, url } = await serve(0, { folders });
const rows = [];
for (const backend of BACKENDS) for (const bundle of bundles) {
  const history = manifestOf(bundle.dir).items.slice(0, 5).map((item) => ({ item }));
  const bundleBytes = sizeOf(bundle.dir);
  const { context, close, profile } = await launch(backend.args);
  try {
    const page = await context.newPage();
    await page.goto(`${url}/tests/browser/page.html`);
    await page.waitForFunction(() => window.ready === true);
    // Start the worker (and compile the wasm) first, so the load figure is the bundle's.
    const before = renderers(profile);
    const r = await page.evaluate(
      async ({ bundleUrl, history, calls }) => {
        let last = 0;
        let reports = 0;
        const t0 = performance.now();
        const rec = await Recommender.load(bundleUrl, {
          onProgress: ({ loaded }) => {
            last = loaded;
            reports += 1;
          },
        });
        const load = performance.now() - t0;
        window.rec = rec;
        const time = async (f) => {
          const s = performance.now();
          await f();
          return performance.now() - s;
        };
        const top = await rec.recommend({ history }, { k: 10 });
        await rec.recommend({ history }, { k: 10 });
        const rec5 = [];
        for (let i = 0; i < calls; i++) rec5.push(await time(() => rec.recommend({ history }, { k: 10 })));
        const first = [];
        for (let i = 0; i < 5; i++) first.push(await time(() => rec.recommend({ history: [] }, { k: 10 })));
        const similar = [];
        for (let i = 0; i < 5; i++) similar.push(await time(() => rec.similar(history[0].item, { k: 10 })));
        const { wasmBytes } = await rec.memory();
        return { backend: rec.backend, load, loaded: last, reports, top: top.map((t) => t.item), rec5, first, similar, wasmBytes };
      },
      { bundleUrl: `${url}/${bundle.path}/`, history, calls: CALLS },
    );
    const after = renderers(profile);
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    rows.push({
      bundle: bundle.role,
      items: manifestOf(bundle.dir).dims.items,
      backend: backend.name,
      served_by: r.backend,
      bundle_bytes: bundleBytes,
      downloaded_bytes: r.loaded,
      progress_reports: r.reports,
      load_ms: r.load,
      recommend_ms: median(r.rec5),
      first_visit_ms: median(r.first),
      similar_ms: median(r.similar),
      memory_after_bytes: after.rss - before.rss,
      memory_peak_bytes: after.hwm - before.rss,
      wasm_memory_bytes: r.wasmBytes,
      top: r.top,
    });
  } finally {
    await close();
  }
}
server.close();

if (json) {
  console.log(JSON.stringify({ bundle: dir, items: manifest.dims.items, rows }, null, 1));
} else {
  const mb = (b) => (b / 1e6).toFixed(1);
  console.log(`bundle ${dir}: ${manifest.dims.items} items, ${mb(sizeOf(dir))} MB on disk; baseline ${baselineDir}\n`);
  console.log('| bundle | backend | items | bundle MB | load | recommend (5 events) | first visit | similar | wasm memory | renderers after load | renderers peak | catalog share of the peak / bundle |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const base = rows.find((b) => b.bundle === 'baseline' && b.backend === r.backend);
    const share = r.bundle === 'catalog' && base ? `${((r.memory_peak_bytes - base.memory_peak_bytes) / r.bundle_bytes).toFixed(2)}×` : '–';
    console.log(
      `| ${r.bundle} | ${r.backend} (${r.served_by}) | ${r.items} | ${mb(r.bundle_bytes)} | ${(r.load_ms / 1000).toFixed(2)} s | ${r.recommend_ms.toFixed(1)} ms | ` +
        `${r.first_visit_ms.toFixed(1)} ms | ${r.similar_ms.toFixed(1)} ms | ${mb(r.wasm_memory_bytes)} MB | ${mb(r.memory_after_bytes)} MB | ` +
        `${mb(r.memory_peak_bytes)} MB | ${share} |`,
    );
  }
}
