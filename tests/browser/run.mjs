// Browser tests in Debian's Chromium (headless), driven by playwright-core: once with WebGPU
// (SwiftShader) and once with WebGPU unavailable, for each CI bundle (EASE and BPR-MF).
//   node tests/browser/run.mjs [models/ci]
// Expects the built package (pkg/web), the bundles `<dir>/{ease-mm,bpr}` and the native CLI's
// answers for HISTORY in `<dir>/<name>.reference.json` (see scripts/test.sh).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './chromium.mjs';
import { assertParity, HISTORY, TOLERANCE } from './parity.mjs';
import { serve } from './server.mjs';

const dir = process.argv[2] ?? 'models/ci';
const CONTENT_BUNDLE = 'ease-mm'; // stores MiniLM text + tabular catalog content
const ENCODERS = { text: '/data/minilm/', image: '/data/efficientnet-lite0/efficientnet-lite0-57934424.pth' };
const GOLDEN_TEXT = JSON.parse(readFileSync('tests/golden/minilm.json', 'utf8')).sentences[0];

/** ML-100K items of `genre`, most interacted first (ties by id): as tests/on_device.rs picks them. */
function genreItems(genre) {
  const counts = new Map();
  for (const line of readFileSync('data/ml-100k/ml-100k.inter', 'utf8').split('\n').slice(1)) {
    const item = line.split('\t')[1];
    if (item) counts.set(item, (counts.get(item) ?? 0) + 1);
  }
  const genres = new Map();
  for (const line of readFileSync('data/ml-100k/ml-100k.item', 'utf8').split('\n').slice(1)) {
    const [id, , , classes] = line.split('\t');
    if (id) genres.set(id, (classes ?? '').split(' '));
  }
  return [...genres]
    .filter(([, g]) => g.includes(genre))
    .map(([id]) => id)
    .sort((a, b) => (counts.get(b) ?? 0) - (counts.get(a) ?? 0) || (a < b ? -1 : a > b ? 1 : 0))
    .map((id) => ({ id, genres: genres.get(id) }));
}
const HORROR = genreItems('Horror');
const COMEDY = genreItems('Comedy');
const isHorror = new Set(HORROR.map((x) => x.id));
// The f16/int8 variants (format 3) must agree with native exactly as the f32 bundles do.
// The serving bundle (no training users) must answer a visitor exactly as its full bundle.
const BUNDLES = ['ease-mm', 'bpr', 'bpr-f16', 'bpr-int8', 'ease-mm-int8', 'bpr-int8-serving', 'sasrec', 'mult-dae', 'blend'];
// The sequential bundle: its answers depend on the history's order (`sasrec.reversed.json`).
const SEQUENTIAL = 'sasrec';
// Those whose MMR re-ranking (diversity 0.5) the native CLI wrote to `<name>.diverse.json`.
const DIVERSE = ['ease-mm', 'bpr'];
// Last.fm-2K EASE + Whisper audio, with the audio stored as catalog content (scripts/test.sh).
const AUDIO_BUNDLE = 'lfm2k-audio';
const LFM2K_WHISPER = join(process.env.FUSIONREC_SHARED ?? '../shared', 'data/lfm2k/whisper.npy');

/** Row `r` of a 2-d little-endian float32 .npy file (format 1.0). */
function npyRow(path, r) {
  const bytes = readFileSync(path);
  const headerLen = bytes.readUInt16LE(8);
  const header = bytes.subarray(10, 10 + headerLen).toString('latin1');
  assert.match(header, /'descr': '<f4'.*'fortran_order': False/, path);
  const dim = Number(/'shape': \(\d+, (\d+)\)/.exec(header)[1]);
  const start = 10 + headerLen + r * dim * 4;
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + start + dim * 4));
}
const RUNS = [
  { backend: 'webgpu', args: ['--enable-unsafe-webgpu'] },
  { backend: 'cpu', args: ['--disable-webgpu'] },
];

const { server, log, url } = await serve();
mkdirSync('test-results', { recursive: true });
let failed = false;
for (const run of RUNS) {
  const { context, close } = await launch(run.args);
  try {
    const page = await context.newPage();
    const seen = [];
    context.on('request', (r) => seen.push({ url: r.url(), body: r.postData() ?? '' }));
    page.on('pageerror', (e) => console.error(`[${run.backend}] page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && console.error(`[${run.backend}] console: ${m.text()}`));
    await page.goto(`${url}/tests/browser/page.html`);
    await page.waitForFunction(() => window.ready === true);
    const adapter = await page.evaluate(async () => !!(navigator.gpu && (await navigator.gpu.requestAdapter())));
    assert.equal(adapter, run.backend === 'webgpu', `WebGPU adapter present: ${adapter}`);

    for (const name of BUNDLES) {
      const label = `${run.backend}/${name}`;
      const native = JSON.parse(readFileSync(join(dir, `${name}.reference.json`), 'utf8'));
      const loaded = await page.evaluate(async (bundleUrl) => {
        let progress;
        const started = performance.now();
        window.rec?.dispose();
        window.rec = await Recommender.load(bundleUrl, { device: 'auto', onProgress: (p) => (progress = p) });
        return { backend: window.rec.backend, progress, ms: performance.now() - started };
      }, `/${dir}/${name}/`);
      const afterLoad = { server: log.length, browser: seen.length };
      assert.equal(loaded.backend, run.backend, label);
      assert.ok(loaded.progress && loaded.progress.loaded === loaded.progress.total, `${label}: progress`);

      const out = await page.evaluate(async ({ history, label }) => {
        const code = (p) => p.then(() => 'resolved', (e) => (e instanceof Error ? e.code : `not an Error: ${e}`));
        const events = history.map((item) => ({ item }));
        const started = performance.now();
        const recs = await window.rec.recommend({ history: events }, { k: 10, exclude: 'seen' });
        const ms = performance.now() - started;
        window.show(`${label}: top 10 for history ${history.join(', ')} on ${window.rec.backend}`, recs);
        const similar = await window.rec.similar(history[0], { k: 10 });
        const unknown = await code(window.rec.recommend({ history: [{ item: 'no-such-item' }] }));
        const unknownSimilar = await code(window.rec.similar('no-such-item'));
        const kZero = await code(window.rec.recommend({ history: events }, { k: 0 }));
        const firstVisit = await window.rec.recommend({ history: [] }, { k: 5 });
        const after = await window.rec.recommend(events, { k: 10 });
        const explained = await window.rec.explain({ history: events }, recs[0].item);
        // Re-ranking: MMR diversity, a score threshold, and bad values of both.
        const diverse = await window.rec.recommend({ history: events }, { k: 10, diversity: 0.5 });
        const thresholded = await window.rec.recommend({ history: events }, { k: 10, minScore: recs[4].score });
        const badDiversity = await code(window.rec.recommend({ history: events }, { diversity: 2 }));
        const badMinScore = await code(window.rec.recommend({ history: events }, { minScore: 'high' }));
        return {
          recs, ms, similar, unknown, unknownSimilar, kZero, firstVisit, after, explained,
          diverse, thresholded, badDiversity, badMinScore,
        };
      }, { history: HISTORY, label });

      const ids = out.recs.map((r) => r.item);
      assert.equal(new Set(ids).size, 10, `${label}: 10 distinct items`);
      assert.ok(ids.every((i) => !HISTORY.includes(i)), `${label}: history excluded`);
      assert.ok(out.recs.every((r) => typeof r.title === 'string' && r.title.length > 0), `${label}: titles`);
      const worst = assertParity(out.recs, native);
      assert.equal(out.similar.length, 10, `${label}: similar k`);
      assert.equal(new Set(out.similar.map((r) => r.item)).size, 10, `${label}: similar distinct`);
      assert.ok(out.similar.every((r) => r.item !== HISTORY[0]), `${label}: similar excludes the item`);
      assert.equal(out.unknown, 'UNKNOWN_ITEM', label);
      assert.equal(out.unknownSimilar, 'UNKNOWN_ITEM', label);
      assert.equal(out.kZero, 'BAD_CONFIG', `${label}: k 0`);
      // A first visit gets the most popular items: scores are shares of the top count.
      assert.equal(new Set(out.firstVisit.map((r) => r.item)).size, 5, `${label}: first visit`);
      assert.equal(out.firstVisit[0].score, 1, `${label}: first visit top score`);
      assert.ok(out.firstVisit.every((r, i) => i === 0 || r.score <= out.firstVisit[i - 1].score), `${label}: first visit order`);
      assert.deepEqual(out.after, out.recs, `${label}: still working after errors`);
      const e = out.explained;
      const total = e.base + e.influences.reduce((sum, x) => sum + x.contribution, 0);
      assert.equal(e.item, out.recs[0].item, `${label}: explain item`);
      assert.ok(Math.abs(e.score - out.recs[0].score) <= TOLERANCE, `${label}: explain score ${e.score}`);
      assert.ok(Math.abs(total - e.score) <= TOLERANCE, `${label}: explanation adds up (${total} vs ${e.score})`);
      assert.deepEqual(e.influences.map((x) => x.item).sort(), [...HISTORY].sort(), `${label}: influences`);
      // MMR picks the native CLI's items (`recommend --diversity 0.5`), each with its own score;
      // a threshold keeps exactly the items scoring at least it, in order.
      if (DIVERSE.includes(name)) {
        const nativeDiverse = JSON.parse(readFileSync(join(dir, `${name}.diverse.json`), 'utf8'));
        assertParity(out.diverse, nativeDiverse);
        assert.notDeepEqual(out.diverse.map((r) => r.item), ids, `${label}: diversity changes the list`);
      }
      assert.equal(new Set(out.diverse.map((r) => r.item)).size, 10, `${label}: diverse list distinct`);
      assert.ok(out.diverse.every((r) => !HISTORY.includes(r.item)), `${label}: diverse list excludes history`);
      if (name === SEQUENTIAL) {
        const seq = await page.evaluate(async (history) => {
          const code = (p) => p.then(() => 'resolved', (e) => (e instanceof Error ? e.code : `not an Error: ${e}`));
          const reversed = await window.rec.recommend([...history].reverse().map((item) => ({ item })), { k: 10 });
          // Times put a backwards array back in order.
          const timed = history.map((item, t) => ({ item, time: 1700000000000 + t })).reverse();
          const byTime = await window.rec.recommend(timed, { k: 10 });
          const someTimed = await code(window.rec.recommend([{ item: history[0], time: 1 }, { item: history[1] }]));
          return { reversed, byTime, someTimed };
        }, HISTORY);
        assertParity(seq.reversed, JSON.parse(readFileSync(join(dir, `${name}.reversed.json`), 'utf8')));
        assert.notDeepEqual(seq.reversed.map((r) => r.item), ids, `${label}: order changes the list`);
        assertParity(seq.byTime, native);
        assert.equal(seq.someTimed, 'BAD_DATA', `${label}: times on some events only`);
      }
      const kept = out.recs.filter((r) => r.score >= out.recs[4].score);
      assert.deepEqual(out.thresholded, kept, `${label}: minScore`);
      assert.equal(out.badDiversity, 'BAD_CONFIG', `${label}: diversity 2`);
      assert.equal(out.badMinScore, 'BAD_CONFIG', `${label}: minScore 'high'`);

      // Nothing the page sent after loading carries the history: no bodies, no ids in URLs.
      const sent = [...log.slice(afterLoad.server), ...seen.slice(afterLoad.browser)];
      for (const r of sent) {
        const where = new URL(r.url, url);
        assert.equal(r.body, '', `${label}: request with a body ${r.url}`);
        const path = where.pathname + where.search;
        assert.ok(!HISTORY.some((h) => new RegExp(`\\b${h}\\b`).test(path)), `${label}: ${r.url}`);
      }
      await page.screenshot({ path: `test-results/browser-${run.backend}-${name}.png` });
      console.log(
        `ok ${label}: loaded ${loaded.progress.total} bytes in ${loaded.ms.toFixed(0)} ms, ` +
          `recommend ${out.ms.toFixed(1)} ms, parity max |Δscore| ${worst.toExponential(2)}, ` +
          `requests after load ${sent.length}`,
      );
    }

    // On the device: encoders (golden text vector, a photo's class), addItem, personalize,
    // explain's modality shares, save → restore; a bad photo is BAD_IMAGE.
    {
      const label = `${run.backend}/${CONTENT_BUNDLE} on-device`;
      const afterLoad = { server: log.length, browser: seen.length };
      const out = await page.evaluate(
        async ({ bundleUrl, encoders, golden, liked, disliked }) => {
          const code = (p) => p.then(() => 'resolved', (e) => (e instanceof Error ? e.code : `not an Error: ${e}`));
          window.rec?.dispose();
          const rec = (window.rec = await Recommender.load(bundleUrl, { device: 'auto', encoders }));
          const t0 = performance.now();
          const encoded = await rec.encode({ text: golden, image: '/data/photos/coffee.png' });
          const encodeMs = performance.now() - t0;
          // Several texts at once (batches of similar length): each row as encoded alone.
          const several = [golden, 'Heat', golden.split(' ').slice(0, 3).join(' ')];
          const batched = (await rec.encode({ texts: several })).texts;
          const alone = [];
          for (const text of several) alone.push((await rec.encode({ text })).text);
          const badTexts = await code(rec.encode({ texts: 'not an array' }));
          const history = [{ item: '50', rating: 5 }, { item: '1', rating: 5 }, { item: '100', rating: 4 }];
          const before = await rec.recommend({ history });
          const progress = [];
          const events = [...liked.map((item) => ({ item, rating: 5 })), ...disliked.map((item) => ({ item, rating: 1 }))];
          const t1 = performance.now();
          const tuned = await rec.personalize(events, { steps: 20, onProgress: (p) => progress.push(p.step) });
          const personalizeMs = performance.now() - t1;
          const after = await rec.recommend({ history });
          const explained = await rec.explain({ history }, after[0].item);
          const exported = await rec.exportUpdate({ epsilon: 1, seed: 7 });
          const sameSeed = await rec.exportUpdate({ epsilon: 1, seed: 7 });
          // Without a seed the noise is keyed by crypto.getRandomValues: two releases differ.
          const secret = [await rec.exportUpdate({ epsilon: 1 }), await rec.exportUpdate({ epsilon: 1 })];
          const badExport = await code(rec.exportUpdate({ epsilon: 0 }));
          const photo = await (await fetch('/data/photos/rocket.jpg')).blob();
          const badPhoto = await code(rec.addItem({ id: 'bad', title: 'Broken', image: new Uint8Array([1, 2, 3, 4]) }));
          const t2 = performance.now();
          const added = await rec.addItem({
            id: 'new-1',
            title: 'Rebels of the Outer Rim',
            year: 1998,
            categories: ['Action', 'Adventure', 'Sci-Fi'],
            description: 'Jedi knights and rebel pilots fight the Galactic Empire and its new Death Star.',
            image: photo,
          });
          const addMs = performance.now() - t2;
          const duplicate = await code(rec.addItem({ id: 'new-1', title: 'Again' }));
          // The film it was placed by lists it among its most similar; fans of the films most
          // like that one get it recommended.
          const first = added.neighbors[0].item;
          const similar = (await rec.similar(first, { k: 10 })).map((r) => r.item);
          const fans = (await rec.similar(first, { k: 6 }))
            .filter((r) => r.item !== 'new-1')
            .slice(0, 5)
            .map((r) => ({ item: r.item, rating: 5 }));
          const fanRecs = await rec.recommend({ history: fans });
          const saved = await rec.save('ci');
          const beforeSave = await rec.recommend({ history });
          return {
            encoded: { text: encoded.text, top1: encoded.top1, dim: encoded.image.length }, batched, alone, badTexts,
            encodeMs, before, after, tuned, progress, personalizeMs, explained, exported, sameSeed, secret, badExport, badPhoto, added, addMs,
            duplicate, first, similar, fanRecs, saved, beforeSave,
          };
        },
        {
          bundleUrl: `/${dir}/${CONTENT_BUNDLE}/`,
          encoders: ENCODERS,
          golden: GOLDEN_TEXT.text,
          liked: HORROR.slice(0, 8).map((x) => x.id),
          disliked: COMEDY.slice(0, 4).map((x) => x.id),
        },
      );
      // Reload the page: the session comes back from IndexedDB, without the network.
      await page.reload();
      await page.waitForFunction(() => window.ready === true);
      const beforeRestore = { server: log.length, browser: seen.length };
      Object.assign(
        out,
        await page.evaluate(async ({ history, first, encoders, golden }) => {
          const code = (p) => p.then(() => 'resolved', (e) => (e instanceof Error ? e.code : `not an Error: ${e}`));
          const restored = (window.rec = await Recommender.restore('ci', { encoders }));
          return {
            afterRestore: await restored.recommend({ history }),
            // The encoder comes from the Cache API, filled before the reload.
            reencoded: (await restored.encode({ text: golden })).text,
            similarRestored: (await restored.similar(first, { k: 10 })).map((r) => r.item),
            missing: await code(Recommender.restore('no-such-key')),
          };
        }, { history: [{ item: '50', rating: 5 }, { item: '1', rating: 5 }, { item: '100', rating: 4 }], first: out.first, encoders: ENCODERS, golden: GOLDEN_TEXT.text }),
      );
      const restoreFetches = [...log.slice(beforeRestore.server), ...seen.slice(beforeRestore.browser)]
        .map((r) => new URL(r.url, url).pathname)
        .filter((p) => p.startsWith('/models/'));
      assert.deepEqual(restoreFetches, [], `${label}: restore fetched the bundle`);
      const encoderFetches = log.slice(beforeRestore.server).map((r) => new URL(r.url, url).pathname).filter((p) => p.startsWith('/data/minilm/'));
      assert.deepEqual(encoderFetches, [], `${label}: the second page load downloaded the encoder again`);
      assert.deepEqual(out.reencoded, out.encoded.text, `${label}: the cached encoder encodes the same`);
      // Encoders on the device: MiniLM matches the independent NumPy golden vector; the photo of
      // an espresso is an espresso (967) or a cup (968) to EfficientNet-Lite0.
      const g = GOLDEN_TEXT.embedding;
      const dot = out.encoded.text.reduce((s, x, i) => s + x * g[i], 0);
      const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      const distance = 1 - dot / (norm(out.encoded.text) * norm(g));
      assert.ok(distance < 1e-4, `${label}: MiniLM cosine distance to golden ${distance}`);
      assert.ok([967, 968].includes(out.encoded.top1), `${label}: coffee.png → ${out.encoded.top1}`);
      assert.equal(out.batched.length, out.alone.length, `${label}: encode({ texts }) rows`);
      out.batched.forEach((row, r) => {
        const worst = Math.max(...row.map((x, i) => Math.abs(x - out.alone[r][i])));
        assert.ok(row.length === 384 && worst < 1e-5, `${label}: encode({ texts }) row ${r} vs alone: max |Δ| ${worst}`);
      });
      assert.equal(out.badTexts, 'BAD_DATA', `${label}: encode({ texts: 'not an array' })`);
      assert.equal(out.encoded.dim, 1280);
      // Personalize on horror-favouring events moves horror's share of the top 10 up.
      const share = (recs) => recs.filter((r) => isHorror.has(r.item)).length / recs.length;
      assert.ok(share(out.after) > share(out.before), `${label}: horror share ${share(out.before)} → ${share(out.after)}`);
      assert.deepEqual(out.progress, Array.from({ length: 20 }, (_, i) => i + 1), `${label}: progress`);
      assert.ok(out.tuned.lossAfter < out.tuned.lossBefore, `${label}: loss ${out.tuned.lossBefore} → ${out.tuned.lossAfter}`);
      const e = out.explained;
      const total = e.base + e.personal + e.influences.reduce((sum, x) => sum + x.contribution, 0);
      assert.ok(Math.abs(total - e.score) <= TOLERANCE, `${label}: explanation with personal term adds up`);
      assert.notEqual(e.personal, 0, `${label}: personal term`);
      assert.deepEqual(e.modalities.map((m) => m.modality).sort(), ['tabular', 'text']);
      assert.ok(Math.abs(e.modalities.reduce((s, m) => s + m.share, 0) - 1) < 1e-5, `${label}: shares sum to 1`);
      // addItem: a corrupt photo is BAD_IMAGE; the real one is decoded but this catalog has no
      // images, so the item is placed by its MiniLM text — among the Star Wars films.
      assert.equal(out.badPhoto, 'BAD_IMAGE', label);
      // The private export: one noisy θ of the adaptor's width; ε = 0 is refused.
      assert.ok(out.exported.dim > 0 && out.exported.delta.length === out.exported.dim, `${label}: export ${out.exported.dim}`);
      assert.ok(Number.isFinite(out.exported.sigma) && out.exported.sigma > 0, `${label}: sigma ${out.exported.sigma}`);
      assert.ok(out.exported.delta.every(Number.isFinite), `${label}: finite export`);
      assert.equal(out.badExport, 'BAD_CONFIG', `${label}: exportUpdate({ epsilon: 0 })`);
      assert.deepEqual(out.sameSeed.delta, out.exported.delta, `${label}: a fixed seed reproduces the noise`);
      assert.equal(out.secret[0].delta.length, out.exported.dim, `${label}: secret export width`);
      assert.notDeepEqual(out.secret[0].delta, out.secret[1].delta, `${label}: secret noise differs per release`);
      assert.notDeepEqual(out.secret[0].delta, out.exported.delta, `${label}: secret noise is not the seeded stream`);
      assert.equal(out.duplicate, 'BAD_DATA', label);
      assert.deepEqual(out.added.used, ['text']);
      assert.deepEqual(out.added.unused, ['image']);
      assert.ok(['50', '172', '181', '271'].includes(out.added.neighbors[0].item), `${label}: ${JSON.stringify(out.added.neighbors)}`);
      assert.ok(out.similar.includes('new-1'), `${label}: new item among the 10 most similar to ${out.first}: ${out.similar}`);
      assert.ok(out.fanRecs.some((r) => r.item === 'new-1'), `${label}: recommended to fans of films like ${out.first}`);
      // save → reload → restore (a new page and worker, from IndexedDB): same recommendations.
      assert.deepEqual(out.afterRestore, out.beforeSave, `${label}: restored recommendations`);
      assert.deepEqual(out.similarRestored, out.similar, `${label}: restored added item`);
      assert.equal(out.missing, 'NOT_FOUND', label);
      // After load, only static files were fetched (encoders, the photo, the package): GETs
      // without bodies or query strings — no event, rating or added item left the page.
      const sent = [...log.slice(afterLoad.server), ...seen.slice(afterLoad.browser)];
      for (const r of sent) {
        const where = new URL(r.url, url);
        assert.equal(r.body, '', `${label}: request with a body ${r.url}`);
        assert.equal(where.search, '', `${label}: request with a query ${r.url}`);
        assert.ok(/^\/(data\/(minilm|photos|efficientnet-lite0)|js|pkg|models|tests\/browser)\//.test(where.pathname), `${label}: ${r.url}`);
      }
      console.log(
        `ok ${label}: encode (MiniLM + EfficientNet, first call with loading) ${out.encodeMs.toFixed(0)} ms, ` +
          `personalize 20 steps ${out.personalizeMs.toFixed(0)} ms (horror ${share(out.before)} → ${share(out.after)}), ` +
          `addItem ${out.addMs.toFixed(0)} ms, save ${out.saved.bytes} bytes → restore same top 10; ` +
          `MiniLM distance ${distance.toExponential(2)}`,
      );
    }

    // Bring-your-own features: a Last.fm-2K bundle that stores Whisper audio embeddings as
    // catalog content; a new song is placed by its own audio vector (here the vector of artist
    // 5, read from the shared .npy), and bad vectors are BAD_DATA without breaking the page.
    {
      const label = `${run.backend}/${AUDIO_BUNDLE}`;
      const out = await page.evaluate(
        async ({ bundleUrl, vector }) => {
          const code = (p) => p.then(() => 'resolved', (e) => (e instanceof Error ? e.code : `not an Error: ${e}`));
          window.rec?.dispose();
          const rec = (window.rec = await Recommender.load(bundleUrl, { device: 'auto' }));
          const audio = new Float32Array(vector);
          const before = await rec.recommend({ history: [{ item: '5' }] }, { k: 10 });
          const short = await code(rec.addItem({ id: 'song-short', features: { whisper: audio.slice(0, 100) } }));
          const unknown = await code(rec.addItem({ id: 'song-x', features: { lyrics: audio } }));
          const nan = await code(rec.addItem({ id: 'song-nan', features: { whisper: audio.map(() => NaN) } }));
          const added = await rec.addItem({ id: 'song-new', features: { whisper: audio } });
          const recs = await rec.recommend({ history: [{ item: 'song-new' }] }, { k: 10 });
          const after = await rec.recommend({ history: [{ item: '5' }] }, { k: 10 });
          return { short, unknown, nan, added, recs, before, after };
        },
        { bundleUrl: `/${dir}/${AUDIO_BUNDLE}/`, vector: Array.from(npyRow(LFM2K_WHISPER, 5)) },
      );
      assert.equal(out.short, 'BAD_DATA', `${label}: wrong length`);
      assert.equal(out.unknown, 'BAD_DATA', `${label}: a modality the bundle lacks`);
      assert.equal(out.nan, 'BAD_DATA', `${label}: NaN vector`);
      assert.deepEqual(out.added.used, ['whisper'], label);
      assert.equal(out.added.neighbors[0].item, '5', `${label}: ${JSON.stringify(out.added.neighbors.slice(0, 3))}`);
      // Whisper rows are nearly parallel (mean pairwise cosine 0.975), so the softmax over the 10
      // nearest spreads its weight; the artist's own row still weighs most, above uniform.
      assert.ok(out.added.neighbors[0].score > 1 / out.added.neighbors.length, `${label}: weight ${out.added.neighbors[0].score}`);
      assert.equal(new Set(out.recs.map((r) => r.item)).size, 10, `${label}: 10 distinct`);
      assert.ok(!out.recs.some((r) => r.item === 'song-new'), `${label}: the history is excluded`);
      assert.deepEqual(
        out.after.filter((r) => r.item !== 'song-new').map((r) => r.item),
        out.before.map((r) => r.item).slice(0, out.after.filter((r) => r.item !== 'song-new').length),
        `${label}: the catalog's own ranking is unchanged by the added song`,
      );
      console.log(`ok ${label}: addItem by audio features → nearest artist ${out.added.neighbors[0].item} (weight ${out.added.neighbors[0].score.toFixed(3)})`);
    }

    // The JS API's contract (once, on the CPU run): no public constructor; `fetch` and `signal`
    // options; caller's bytes are copied, not detached, even when files share one buffer;
    // dispose() and a crashed worker reject pending and later calls instead of hanging.
    if (run.backend === 'cpu') {
      const label = `${run.backend} JS API`;
      const out = await page.evaluate(async ({ bundleUrl, history }) => {
        const code = (p) => p.then(() => 'resolved', (e) => (e instanceof Error ? e.code : `not an Error: ${e}`));
        const events = history.map((item) => ({ item }));
        let constructed;
        try {
          new Recommender();
          constructed = 'constructed';
        } catch (e) {
          constructed = e.code;
        }
        const fetched = [];
        const viaFetch = await Recommender.load(bundleUrl, { fetch: (u, init) => (fetched.push(String(u)), fetch(u, init)) });
        const expected = await viaFetch.recommend(events);
        viaFetch.dispose();
        // Every file as a view into one shared buffer.
        const manifest = new Uint8Array(await (await fetch(`${bundleUrl}manifest.json`)).arrayBuffer());
        const names = Object.keys(JSON.parse(new TextDecoder().decode(manifest)).files);
        const parts = [manifest, ...(await Promise.all(names.map(async (n) => new Uint8Array(await (await fetch(bundleUrl + n)).arrayBuffer()))))];
        const shared = new Uint8Array(parts.reduce((s, x) => s + x.length, 0));
        const views = [];
        let at = 0;
        for (const x of parts) {
          shared.set(x, at);
          views.push(shared.subarray(at, at + x.length));
          at += x.length;
        }
        const fromBytes = await Recommender.load({ manifest: views[0], files: Object.fromEntries(names.map((n, i) => [n, views[i + 1]])) });
        const bytesRecs = await fromBytes.recommend(events);
        const intact = shared.byteLength === at && views.every((v, i) => v.length === parts[i].length);
        const pending = fromBytes.recommend(events);
        fromBytes.dispose();
        const disposed = { pending: await code(pending), later: await code(fromBytes.recommend(events)) };
        // A worker that fails (here: an error event dispatched on it) ends the recommender.
        const RealWorker = window.Worker;
        const workers = [];
        window.Worker = class extends RealWorker {
          constructor(...args) {
            super(...args);
            workers.push(this);
          }
        };
        const crashing = await Recommender.load(bundleUrl).finally(() => (window.Worker = RealWorker));
        const inflight = crashing.recommend(events);
        workers[0].dispatchEvent(new ErrorEvent('error', { message: 'simulated crash' }));
        const crashed = { pending: await code(inflight), later: await code(crashing.recommend(events)) };
        const early = new AbortController();
        early.abort();
        const late = new AbortController();
        const loading = Recommender.load(bundleUrl, { signal: late.signal });
        late.abort();
        const aborted = { before: await code(Recommender.load(bundleUrl, { signal: early.signal })), during: await code(loading) };
        // recommend with explanations and filters; the catalog getter.
        const lists = await Recommender.load(bundleUrl);
        const plain = await lists.recommend(events, { k: 10 });
        const explained = await lists.recommend(events, { k: 10, explain: true });
        const someIds = plain.slice(3, 8).map((r) => r.item);
        const byIds = await lists.recommend(events, { k: 10, filter: { items: [...someIds, history[0]] } });
        const horror = await lists.recommend(events, { k: 10, filter: { category: 'Horror' } });
        const horrorFirstVisit = await lists.recommend([], { k: 5, filter: { category: 'Horror' } });
        const badCategory = await code(lists.recommend(events, { filter: { category: 'No such genre' } }));
        const badId = await code(lists.recommend(events, { filter: { items: ['no-such-item'] } }));
        const items = await lists.items();
        lists.dispose();
        return {
          constructed, fetched, expected, bytesRecs, intact, disposed, crashed, aborted,
          plain, explained, someIds, byIds, horror, horrorFirstVisit, badCategory, badId,
          nItems: items.length, toy: items.find((x) => x.item === '1'),
        };
      }, { bundleUrl: `/${dir}/bpr/`, history: HISTORY });
      assert.equal(out.constructed, 'BAD_CALL', `${label}: new Recommender()`);
      assert.ok(out.fetched.some((u) => u.endsWith('/manifest.json')) && out.fetched.some((u) => u.endsWith('.safetensors')), `${label}: custom fetch ${out.fetched}`);
      assert.deepEqual(out.bytesRecs, out.expected, `${label}: bytes sharing one buffer load like the URL`);
      assert.ok(out.intact, `${label}: the caller's buffer is not detached`);
      assert.deepEqual(out.disposed, { pending: 'DISPOSED', later: 'DISPOSED' }, `${label}: dispose`);
      assert.deepEqual(out.crashed, { pending: 'WORKER', later: 'WORKER' }, `${label}: worker error`);
      assert.deepEqual(out.aborted, { before: 'ABORTED', during: 'ABORTED' }, `${label}: AbortSignal`);
      assert.deepEqual(out.explained.map((r) => r.item), out.plain.map((r) => r.item), `${label}: explain keeps the list`);
      for (const r of out.explained) {
        assert.equal(r.explanation.item, r.item, `${label}: explanation of ${r.item}`);
        assert.ok(Math.abs(r.explanation.score - r.score) <= TOLERANCE, `${label}: explained score ${r.explanation.score} vs ${r.score}`);
        const total = r.explanation.base + r.explanation.personal + r.explanation.influences.reduce((x, i) => x + i.contribution, 0);
        assert.ok(Math.abs(total - r.score) <= TOLERANCE, `${label}: explanation adds up`);
      }
      assert.ok(out.plain.every((r) => !('explanation' in r)), `${label}: no explanation unless asked`);
      // An id filter keeps its (unseen) items, in the unfiltered order.
      assert.deepEqual(out.byIds.map((r) => r.item), out.someIds, `${label}: filter by ids`);
      assert.equal(out.horror.length, 10, `${label}: horror list length`);
      assert.ok(out.horror.every((r) => isHorror.has(r.item)), `${label}: category filter ${out.horror.map((r) => r.item)}`);
      assert.ok(out.horrorFirstVisit.length === 5 && out.horrorFirstVisit.every((r) => isHorror.has(r.item)), `${label}: category filter, first visit`);
      assert.equal(out.badCategory, 'BAD_CONFIG', `${label}: unknown category`);
      assert.equal(out.badId, 'UNKNOWN_ITEM', `${label}: unknown id in a filter`);
      assert.equal(out.nItems, 1682, `${label}: items()`);
      assert.deepEqual(out.toy, { item: '1', title: 'Toy Story', categories: ['Animation', "Children's", 'Comedy'] }, `${label}: items()`);
      console.log(`ok ${label}: private constructor, fetch option (${out.fetched.length} requests), shared-buffer bytes, dispose/crash reject, abort, explain + filter, items()`);
    }

    // A cut weights file is a checksum error, and the page keeps working afterwards.
    const cut = await page.evaluate(async ({ dir, history }) => {
      const code = await Recommender.load(`/truncated/${dir}/ease-mm/`).then(() => 'resolved', (e) => e.code);
      const webgpu = await Recommender.load(`/${dir}/ease-mm/`, { device: 'webgpu' }).then(
        (r) => (r.dispose(), r.backend),
        (e) => e.code,
      );
      const recs = await window.rec.recommend({ history: history.map((item) => ({ item })) });
      return { code, webgpu, n: recs.length };
    }, { dir, history: HISTORY });
    assert.equal(cut.code, 'BUNDLE_CHECKSUM');
    assert.equal(cut.webgpu, run.backend === 'webgpu' ? 'webgpu' : 'DEVICE', "device: 'webgpu'");
    assert.equal(cut.n, 10, 'recommend after a failed load');
    console.log(`ok ${run.backend}: truncated bundle → BUNDLE_CHECKSUM, device 'webgpu' → ${cut.webgpu}, page still works`);
  } catch (e) {
    failed = true;
    console.error(`FAIL ${run.backend}: ${e.stack ?? e}`);
  } finally {
    await close();
  }
}
// The demo page (www/): search, rate, see recommendations; nothing about the ratings is sent.
{
  const { context, close } = await launch(RUNS[0].args, { viewport: { width: 1100, height: 800 } });
  try {
    const page = await context.newPage();
    const seen = [];
    context.on('request', (r) => seen.push({ url: r.url(), body: r.postData() ?? '' }));
    await page.goto(`${url}/www/?bundle=/${dir}/ease-mm/`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.getAttribute('body', 'data-backend'), 'webgpu', 'demo backend');
    assert.match(await page.textContent('#backend'), /WebGPU/);
    assert.match(await page.textContent('#privacy'), /never leave this page/);
    const afterReady = seen.length;
    await page.fill('#search', 'star wars');
    await page.click('#results li:first-child button:last-child'); // 5★
    await page.waitForSelector('body[data-recommendations="10"]');
    const recs = await page.$$eval('#recs li', (li) => li.map((x) => x.textContent));
    const rated = await page.textContent('#rated');
    assert.equal(recs.length, 10, 'demo: 10 recommendations');
    assert.ok(recs.every((r) => r.includes('because you liked Star Wars')), 'demo: explanations');
    assert.match(rated, /Star Wars/);
    assert.ok(!recs.some((r) => /^Star Wars\d/.test(r)), 'demo: the rated movie is excluded');
    const sent = seen.slice(afterReady);
    assert.ok(sent.every((r) => r.body === '' && !/\b50\b/.test(new URL(r.url).pathname + new URL(r.url).search)), 'demo: requests after load');
    // Explanation bars, personalization with progress, and a movie added on the device.
    assert.equal(await page.$$eval('#recs .bars', (b) => b.filter((x) => x.children.length > 0).length), 10, 'demo: modality bars');
    await page.click('#personalize');
    await page.waitForSelector('body[data-personalized="true"]');
    assert.equal(await page.$eval('#tune-progress', (p) => p.value), 1, 'demo: personalize progress');
    assert.match(await page.textContent('#tune-status'), /20 steps/);
    await page.fill('#add-title', 'Rebels of the Outer Rim');
    await page.fill('#add-description', 'Jedi knights and rebel pilots fight the Galactic Empire and its new Death Star.');
    await page.click('#add button[type=submit]');
    await page.waitForSelector('body[data-added="new-1"]');
    assert.match(await page.textContent('#add-status'), /placed by text near/);
    await page.fill('#search', 'rebels of the');
    assert.match(await page.textContent('#results'), /Rebels of the Outer Rim/, 'demo: the added movie is searchable');
    const sentAll = seen.slice(afterReady);
    assert.ok(
      sentAll.every((r) => r.body === '' && new URL(r.url).search === '' && /^\/(data|js|pkg|models|www)\//.test(new URL(r.url).pathname)),
      'demo: only static files after load',
    );
    await page.screenshot({ path: 'test-results/demo.png', fullPage: true });
    console.log(`ok demo: rated Star Wars, 10 recommendations (first: ${recs[0]}), ${sent.length} requests after load`);
  } catch (e) {
    failed = true;
    console.error(`FAIL demo: ${e.stack ?? e}`);
  } finally {
    await close();
  }
}
server.close();
process.exit(failed ? 1 : 0);
