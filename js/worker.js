// Runs the wasm recommender off the main thread: one `Recommender` per worker, calls by message
// `{ id, method, args }`, answers `{ id, ok, value }` or `{ id, ok: false, error: { message, code } }`,
// and `{ id, progress }` while a call runs. Saved sessions live in IndexedDB (database
// `fusionrec`, store `sessions`): the bundle's bytes and the session state, so that a restore
// needs no network.
import init, { BundleLoader, Recommender } from '../pkg/web/fusionrec.js';

const ready = init();
let wasmMemory;
ready.then(
  (exports) => {
    wasmMemory = exports.memory;
  },
  () => {}, // reported by each call, which awaits `ready`
);
let recommender;
let device;
let pending; // the BundleLoader of a bundle being streamed in (`open`, `chunk`, `load`)

const DB = 'fusionrec';
const STORE = 'sessions';

function coded(message, code) {
  return Object.assign(new Error(message), { code });
}

function database() {
  return new Promise((resolve, reject) => {
    if (!self.indexedDB) return reject(coded('IndexedDB is not available here', 'STORAGE'));
    const open = self.indexedDB.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(coded(`IndexedDB: ${open.error?.message}`, 'STORAGE'));
  });
}

async function transaction(mode, run) {
  const db = await database();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = run(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(coded(`IndexedDB: ${tx.error?.message}`, 'STORAGE'));
      tx.onabort = () => reject(coded(`IndexedDB: ${tx.error?.message ?? 'aborted'}`, 'STORAGE'));
    });
  } finally {
    db.close();
  }
}

// The bundle's bytes are not kept here once loaded: the crate holds the weights file (it serves
// int8 rows from it in place) and gives it back for `save`.
async function loadBundle(b, dev) {
  const next = await Recommender.load(b.manifest, b.files, dev);
  recommender?.free();
  recommender = next;
  device = dev;
  return { backend: recommender.backend, content: recommender.content };
}

async function loadStreamed(dev) {
  if (!pending) throw coded('no bundle is being streamed in', 'BAD_CALL');
  const loader = pending;
  pending = undefined;
  const next = await Recommender.fromLoader(loader, dev);
  recommender?.free();
  recommender = next;
  device = dev;
  return { backend: recommender.backend, content: recommender.content };
}

const methods = {
  begin() {
    pending?.free();
    pending = new BundleLoader();
  },
  manifestChunk({ bytes }) {
    if (!pending) throw coded('no bundle is being streamed in', 'BAD_CALL');
    pending.pushManifest(bytes);
  },
  open({ maxBytes }) {
    if (!pending) throw coded('no bundle is being streamed in', 'BAD_CALL');
    return pending.open(maxBytes);
  },
  chunk({ name, bytes }) {
    if (!pending) throw coded('no bundle is being streamed in', 'BAD_CALL');
    pending.push(name, bytes);
  },
  load: ({ manifest, files, device, streamed }) => (streamed ? loadStreamed(device) : loadBundle({ manifest, files }, device)),
  recommend: ({ history, options }) => recommender.recommend(history, options),
  similar: ({ item, options }) => recommender.similar(item, options),
  items: () => recommender.items(),
  memory: () => ({ wasmBytes: wasmMemory?.buffer.byteLength ?? 0 }),
  explain: ({ history, item }) => recommender.explain(history, item),
  loadEncoders: ({ files }) => recommender.loadEncoders(files),
  addItem: ({ item, image }) => recommender.addItem(item, image),
  encode: ({ text, texts, image }) => recommender.encode(text, image, texts),
  personalize: ({ events, options }, progress) =>
    recommender.personalize(events, options, (step, steps) => progress({ phase: 'fine-tuning', step, steps })),
  exportUpdate: ({ options }) => recommender.exportUpdate(options),
  async save({ key }) {
    const state = await recommender.exportState();
    const { manifest, files } = await recommender.exportBundle();
    await transaction('readwrite', (store) => store.put({ manifest, files, state, device, saved: Date.now() }, key));
    return { key, bytes: state.length };
  },
  async restore({ key, device: wanted }) {
    const saved = await transaction('readonly', (store) => store.get(key));
    if (!saved) throw coded(`no saved session '${key}'`, 'NOT_FOUND');
    // A record this package did not write (or a damaged one) is refused before the crate sees it.
    const isBytes = (v) => v instanceof Uint8Array;
    if (
      !isBytes(saved.manifest) ||
      !isBytes(saved.state) ||
      typeof saved.files !== 'object' ||
      saved.files === null ||
      !Object.values(saved.files).every(isBytes)
    ) {
      throw coded(`invalid data: not a saved session: the record '${key}' lacks its bundle or state bytes`, 'BAD_DATA');
    }
    const loaded = await loadBundle({ manifest: saved.manifest, files: saved.files }, wanted ?? saved.device);
    await recommender.importState(saved.state);
    return loaded;
  },
};

self.onmessage = async ({ data: { id, method, args } }) => {
  try {
    await ready;
    if (!methods[method]) throw coded(`unknown method ${method}`, 'BAD_CALL');
    const needsBundle = !['load', 'restore', 'begin', 'manifestChunk', 'open', 'chunk'].includes(method);
    if (needsBundle && !recommender) throw coded('no bundle loaded', 'BAD_CALL');
    const progress = (p) => self.postMessage({ id, progress: p });
    self.postMessage({ id, ok: true, value: await methods[method](args, progress) });
  } catch (e) {
    // A wasm trap (a bug, never an input) has no code of its own.
    self.postMessage({ id, ok: false, error: { message: String(e?.message ?? e), code: e?.code ?? 'INTERNAL' } });
  }
};
