// The npm package as a web app gets it: `npm pack`, the tarball installed offline into a fresh
// project (the package has no runtime dependencies), and that project's own page importing
// `{ Recommender } from 'fusionrec'` through an import map, in Chromium without WebGPU. Checks
// what the tarball holds, that Node resolves 'fusionrec' where the import map points, that the
// worker and the wasm load from inside the installed package, and the native CLI's answer.
//   node tests/browser/package.mjs [models/ci]
// Expects the built package (pkg/web), the bundle `<dir>/ease-mm` and `<dir>/ease-mm.reference.json`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runAppPage } from './parity.mjs';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const dir = resolve(process.argv[2] ?? 'models/ci');
const BUNDLE = 'ease-mm';
// Exactly what a web app needs: the JS entry with its types and worker, the web build's glue and
// wasm, and what npm always adds. No Rust sources, data, models, tests or other wasm builds.
const CONTENTS = [
  'README.md',
  'js/index.d.ts',
  'js/index.js',
  'js/worker.js',
  'package.json',
  'pkg/web/fusionrec.js',
  'pkg/web/fusionrec_bg.wasm',
];

const seconds = (since) => ((performance.now() - since) / 1000).toFixed(1);
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

function filesUnder(folder, prefix = '') {
  return readdirSync(folder, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(join(folder, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

const work = mkdtempSync(join(tmpdir(), 'fusionrec-package-'));
try {
  let started = performance.now();
  const [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root));
  const tarball = join(work, packed.filename);
  const listed = run('tar', ['-tzf', tarball], work).trim().split('\n');
  assert.deepEqual(listed.map((p) => p.replace(/^package\//, '')).sort(), CONTENTS, 'tarball contents');
  console.log(`ok npm pack: ${packed.filename}, ${packed.size} bytes, ${listed.length} files (${seconds(started)} s)`);

  started = performance.now();
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fusionrec-app', version: '0.0.0', private: true }));
  copyFileSync(join(root, 'tests/browser/package/index.html'), join(app, 'index.html'));
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], app);
  const installed = join(app, 'node_modules/fusionrec');
  assert.deepEqual(readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.')), ['fusionrec'], 'no dependencies');
  assert.deepEqual(filesUnder(installed).sort(), CONTENTS, 'installed files');
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  for (const types of [manifest.types, manifest.exports['.'].types]) {
    assert.ok(CONTENTS.includes(types.replace(/^\.\//, '')), `types ${types} shipped`);
  }
  // Node resolves the bare specifier through `exports`; the page's import map must say the same.
  const entry = run(process.execPath, ['--input-type=module', '-e', "process.stdout.write(import.meta.resolve('fusionrec'))"], app);
  assert.equal(entry, pathToFileURL(join(installed, 'js/index.js')).href, "Node's resolution of 'fusionrec'");
  const importMap = JSON.parse(readFileSync(join(app, 'index.html'), 'utf8').match(/<script type="importmap">([^]*?)<\/script>/)[1]);
  assert.equal(importMap.imports.fusionrec, `/app/${relative(app, fileURLToPath(entry))}`, 'import map');
  console.log(`ok npm install (offline) into a fresh project; 'fusionrec' resolves to ${relative(app, fileURLToPath(entry))} (${seconds(started)} s)`);

  // The server knows only the app's folder and the bundles: nothing can come from the repository.
  started = performance.now();
  const pkg = '/app/node_modules/fusionrec/';
  const { result, paths, worst } = await runAppPage({
    app,
    dir,
    bundle: BUNDLE,
    label: 'package',
    screenshot: join(root, 'test-results/package.png'),
    check: (_, paths) => {
      for (const file of ['js/index.js', 'js/worker.js', 'pkg/web/fusionrec.js', 'pkg/web/fusionrec_bg.wasm']) {
        assert.ok(paths.includes(pkg + file), `${file} loaded from the installed package`);
      }
      const outside = paths.filter((p) => !p.startsWith(pkg) && !p.startsWith(`/bundles/${BUNDLE}/`) && p !== '/app/');
      assert.deepEqual(outside, [], 'requests outside the package and the bundle');
    },
  });
  console.log(
    `ok page imports 'fusionrec': ${result.recs.length} recommendations on ${result.backend}, ` +
      `parity max |Δscore| ${worst.toExponential(2)}, ${paths.length} requests (${seconds(started)} s)`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
