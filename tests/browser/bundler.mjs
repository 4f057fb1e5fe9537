// wasm-pack's bundler build (pkg/bundler: wasm imported as an ES module) through a real bundler:
// webpack 5 (`experiments.asyncWebAssembly`) bundles tests/browser/bundler/entry.js, and Chromium
// without WebGPU runs the output, calling the raw wasm-bindgen API with device 'cpu'. Checks that
// webpack ships the wasm unchanged, the native CLI's answer, and a typed error through the glue.
//   node tests/browser/bundler.mjs [models/ci]
// Expects pkg/bundler (`bash scripts/build-wasm.sh bundler`), the bundle `<dir>/ease-mm` and
// `<dir>/ease-mm.reference.json`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import webpack from 'webpack';
import { runAppPage } from './parity.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const dir = resolve(process.argv[2] ?? 'models/ci');
const BUNDLE = 'ease-mm';

const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

function bundle(out) {
  const compiler = webpack({
    mode: 'production',
    target: 'web',
    entry: join(root, 'tests/browser/bundler/entry.js'),
    output: { path: out, filename: 'main.js' },
    // On by default since webpack 5.112 (where no loader claims .wasm); stated for older 5.x.
    experiments: { asyncWebAssembly: true },
    // The core wasm is ~12 MB: over webpack's 250 kB advice by design (scripts/build-wasm.sh
    // holds the size budget).
    performance: { hints: false },
  });
  return new Promise((done, fail) =>
    compiler.run((error, stats) => compiler.close(() => (error ? fail(error) : done(stats)))),
  );
}

const work = mkdtempSync(join(tmpdir(), 'fusionrec-bundler-'));
try {
  let started = performance.now();
  const stats = await bundle(work);
  assert.ok(!stats.hasErrors() && !stats.hasWarnings(), stats.toString('errors-warnings'));
  const assets = stats.toJson({ assets: true }).assets.map((a) => a.name).sort();
  const wasm = assets.filter((a) => a.endsWith('.wasm'));
  assert.equal(wasm.length, 1, `one wasm asset: ${assets}`);
  assert.deepEqual(assets, ['main.js', wasm[0]].sort(), 'webpack output');
  assert.equal(sha256(join(work, wasm[0])), sha256(join(root, 'pkg/bundler/fusionrec_bg.wasm')), 'wasm shipped unchanged');
  copyFileSync(join(root, 'tests/browser/bundler/index.html'), join(work, 'index.html'));
  console.log(`ok webpack ${webpack.version}: ${assets.join(', ')} (${seconds(started)} s)`);

  started = performance.now();
  const { result, worst } = await runAppPage({
    app: work,
    dir,
    bundle: BUNDLE,
    label: 'bundler',
    screenshot: join(root, 'test-results/bundler.png'),
    check: (result, paths) => {
      assert.equal(result.unknown, 'UNKNOWN_ITEM', 'an unknown history item rejects with its code');
      assert.ok(paths.includes(`/app/${wasm[0]}`), `the page fetched ${wasm[0]}`);
    },
  });
  console.log(
    `ok bundled page: ${result.recs.length} recommendations on ${result.backend}, ` +
      `parity max |Δscore| ${worst.toExponential(2)}, unknown item → ${result.unknown} (${seconds(started)} s)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
