// The package entry: fetches a bundle (with download progress) on the main thread and runs the
// wasm recommender in a Web Worker (worker.js), forwarding each call by message. Errors come back
// as `Error`s with the crate's stable `code`. The visitor's history goes to the worker only.

const MANIFEST = 'manifest.json';

function codedError({ message, code }) {
  const error = new Error(message);
  error.code = code;
  return error;
}

async function fetchBytes(url, onChunk) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw codedError({ message: `download failed: ${url}: ${e.message}`, code: 'NETWORK' });
  }
  if (!response.ok) {
    throw codedError({ message: `download failed: ${url}: HTTP ${response.status}`, code: 'NETWORK' });
  }
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    onChunk(value.length);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** Fetches `manifest.json` and every file it lists from a bundle folder URL. */
async function fetchBundle(url, onProgress) {
  const base = new URL(url.endsWith('/') ? url : `${url}/`, globalThis.location?.href);
  let loaded = 0;
  let total = 0;
  const report = (file) => (n) => {
    loaded += n;
    onProgress?.({ loaded, total, file });
  };
  const manifest = await fetchBytes(new URL(MANIFEST, base), report(MANIFEST));
  let listed;
  try {
    listed = JSON.parse(new TextDecoder().decode(manifest)).files ?? {};
  } catch (e) {
    throw codedError({ message: `invalid bundle: ${MANIFEST}: ${e.message}`, code: 'BUNDLE_INVALID' });
  }
  total = manifest.length + Object.values(listed).reduce((s, f) => s + (f.bytes ?? 0), 0);
  const files = {};
  await Promise.all(
    Object.keys(listed).map(async (name) => {
      files[name] = await fetchBytes(new URL(name, base), report(name));
    }),
  );
  return { manifest, files };
}

export class Recommender {
  #worker;
  #pending = new Map();
  #next = 0;
  #backend;

  constructor(worker) {
    this.#worker = worker;
    worker.onmessage = ({ data: { id, ok, value, error } }) => {
      const call = this.#pending.get(id);
      if (!call) return;
      this.#pending.delete(id);
      if (ok) call.resolve(value);
      else call.reject(codedError(error));
    };
    worker.onerror = (event) => {
      const error = codedError({ message: `worker failed: ${event.message}`, code: 'WORKER' });
      for (const call of this.#pending.values()) call.reject(error);
      this.#pending.clear();
    };
  }

  #call(method, args, transfer = []) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, method, args }, transfer);
    });
  }

  /**
   * Loads a bundle: a folder URL (fetched here) or `{ manifest, files }` bytes.
   * Options: `device` ('auto' | 'webgpu' | 'cpu'), `onProgress({ loaded, total, file })`.
   */
  static async load(urlOrBytes, { device = 'auto', onProgress } = {}) {
    const bundle =
      typeof urlOrBytes === 'string' || urlOrBytes instanceof URL
        ? await fetchBundle(String(urlOrBytes), onProgress)
        : urlOrBytes;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    const rec = new Recommender(worker);
    const transfer = [bundle.manifest.buffer, ...Object.values(bundle.files).map((b) => b.buffer)];
    try {
      const { backend } = await rec.#call('load', { ...bundle, device }, transfer);
      rec.#backend = backend;
    } catch (e) {
      worker.terminate();
      throw e;
    }
    return rec;
  }

  /** 'webgpu' or 'cpu'. */
  get backend() {
    return this.#backend;
  }

  /** Top-k items for a history: `{ history: [{ item, rating? }] }` (or the array itself). */
  recommend(query, { k = 10, exclude = 'seen' } = {}) {
    const history = Array.isArray(query) ? query : query?.history;
    return this.#call('recommend', { history, options: { k, exclude } });
  }

  /** The k items most similar to `item`, itself excluded. */
  similar(item, { k = 10 } = {}) {
    return this.#call('similar', { item, options: { k } });
  }

  /**
   * Why `item` scores what it does for a history: `{ item, title, score, base, influences }`,
   * the influences being the history's items with their exact share of the score.
   */
  explain(query, item) {
    const history = Array.isArray(query) ? query : query?.history;
    return this.#call('explain', { history, item });
  }

  /** Stops the worker. */
  dispose() {
    this.#worker.terminate();
  }
}
