// The webpack entry of tests/browser/bundler.mjs: an app that imports wasm-pack's bundler build
// (`--target bundler`, wasm as an ES module) and calls its raw API on the main thread:
// `Recommender.load(manifest bytes, { name: bytes }, device)`, then `recommend(history, options)`.
// ?bundle=<folder URL>&history=<id,id,…>; the answer (or the error) goes to window.result.
import { Recommender } from '../../../pkg/bundler/fusionrec.js';

async function bytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function run() {
  const params = new URLSearchParams(location.search);
  const base = new URL(params.get('bundle'), location.href);
  const history = params.get('history').split(',').map((item) => ({ item }));
  const manifest = await bytes(new URL('manifest.json', base));
  const files = {};
  for (const name of Object.keys(JSON.parse(new TextDecoder().decode(manifest)).files)) {
    files[name] = await bytes(new URL(name, base));
  }
  const rec = await Recommender.load(manifest, files, 'cpu');
  const recs = await rec.recommend(history, { k: 10 });
  const unknown = await rec.recommend([{ item: 'no-such-item' }], {}).then(
    () => 'resolved',
    (e) => (e instanceof Error ? e.code : `not an Error: ${e}`),
  );
  document.querySelector('#status').textContent = `top 10 on ${rec.backend}`;
  document.querySelector('#recs').replaceChildren(
    ...recs.map((r) => Object.assign(document.createElement('li'), { textContent: `${r.item} ${r.title} (${r.score.toFixed(4)})` })),
  );
  return { backend: rec.backend, recs, unknown };
}

run().then(
  (result) => (window.result = result),
  (e) => (window.result = { error: `${e.code}: ${e.message}` }),
);
