// Runs the wasm recommender off the main thread: one `Recommender` per worker, calls by message
// `{ id, method, args }`, answers `{ id, ok, value }` or `{ id, ok: false, error: { message, code } }`.
import init, { Recommender } from '../pkg/web/fusionrec.js';

const ready = init();
let recommender;

const methods = {
  async load({ manifest, files, device }) {
    recommender = await Recommender.load(manifest, files, device);
    return { backend: recommender.backend };
  },
  recommend: ({ history, options }) => recommender.recommend(history, options),
  similar: ({ item, options }) => recommender.similar(item, options),
  explain: ({ history, item }) => recommender.explain(history, item),
};

self.onmessage = async ({ data: { id, method, args } }) => {
  try {
    await ready;
    if (!methods[method]) throw Object.assign(new Error(`unknown method ${method}`), { code: 'BAD_CALL' });
    if (method !== 'load' && !recommender) throw Object.assign(new Error('no bundle loaded'), { code: 'BAD_CALL' });
    self.postMessage({ id, ok: true, value: await methods[method](args) });
  } catch (e) {
    // A wasm trap (a bug, never an input) has no code of its own.
    self.postMessage({ id, ok: false, error: { message: String(e?.message ?? e), code: e?.code ?? 'INTERNAL' } });
  }
};
