// The package entry: fetches a bundle (with download progress) on the main thread and runs the
// wasm recommender in a Web Worker (worker.js), forwarding each call by message. Errors come back
// as `Error`s with the crate's stable `code`. The visitor's history, ratings, added items and
// personal adaptor go to the worker (and IndexedDB on `save`) only: nothing is ever uploaded.

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

/** Bytes of an image given as a Blob/File, ArrayBuffer, typed array or URL. */
async function imageBytes(image) {
  if (image == null) return undefined;
  if (image instanceof Uint8Array) return image;
  if (image instanceof ArrayBuffer) return new Uint8Array(image);
  if (ArrayBuffer.isView(image)) return new Uint8Array(image.buffer, image.byteOffset, image.byteLength);
  if (typeof Blob !== 'undefined' && image instanceof Blob) return new Uint8Array(await image.arrayBuffer());
  if (typeof image === 'string' || image instanceof URL) {
    return fetchBytes(new URL(String(image), globalThis.location?.href), () => {});
  }
  throw codedError({ message: 'image: expected a Blob, ArrayBuffer, typed array or URL', code: 'BAD_IMAGE' });
}

function newWorker() {
  return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
}

export class Recommender {
  #worker;
  #pending = new Map();
  #next = 0;
  #backend;
  #content = [];
  #encoders; // { text?: folder URL, image?: .pth URL }
  #encoderLoads = {}; // kind → Promise of its load

  constructor(worker, encoders = {}) {
    this.#worker = worker;
    const base = globalThis.location?.href;
    this.#encoders = {
      text: encoders.text && new URL(String(encoders.text).replace(/\/?$/, '/'), base),
      image: encoders.image && new URL(String(encoders.image), base),
    };
    worker.onmessage = ({ data: { id, ok, value, error, progress } }) => {
      const call = this.#pending.get(id);
      if (!call) return;
      if (progress) {
        call.onProgress?.(progress);
        return;
      }
      this.#pending.delete(id);
      if (ok) call.resolve(value);
      else call.reject(codedError(error));
    };
    worker.onerror = (event) => {
      const message = event.message ?? 'the worker script could not be loaded';
      const error = codedError({ message: `worker failed: ${message}`, code: 'WORKER' });
      for (const call of this.#pending.values()) call.reject(error);
      this.#pending.clear();
    };
  }

  #call(method, args, transfer = [], onProgress) {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ id, method, args }, transfer);
    });
  }

  /** Fetches and loads the encoders `needs` names ('text', 'image'), each once (concurrent
   * calls share the download; a failed one is retried by the next call). */
  #ensureEncoders(needs, onProgress) {
    return Promise.all(
      needs.map((kind) => {
        this.#encoderLoads[kind] ??= this.#loadEncoder(kind, onProgress).catch((e) => {
          delete this.#encoderLoads[kind];
          throw e;
        });
        return this.#encoderLoads[kind];
      }),
    );
  }

  async #loadEncoder(kind, onProgress) {
    const url = this.#encoders[kind];
    if (!url) {
      throw codedError({ message: `no ${kind} encoder: pass load(…, { encoders: { ${kind}: URL } })`, code: 'ENCODER' });
    }
    let loaded = 0;
    const report = (file) => (n) => {
      loaded += n;
      onProgress?.({ phase: 'download', file, loaded });
    };
    const files = {};
    if (kind === 'text') {
      files.tokenizer = await fetchBytes(new URL('tokenizer.json', url), report('tokenizer.json'));
      files.text = await fetchBytes(new URL('model.safetensors', url), report('model.safetensors'));
    } else {
      files.image = await fetchBytes(url, report(url.pathname.split('/').pop()));
    }
    onProgress?.({ phase: 'encoders' });
    await this.#call('loadEncoders', { files }, Object.values(files).map((b) => b.buffer));
  }

  /**
   * Loads a bundle: a folder URL (fetched here) or `{ manifest, files }` bytes.
   * Options: `device` ('auto' | 'webgpu' | 'cpu'), `onProgress({ loaded, total, file })`.
   */
  static async load(urlOrBytes, { device = 'auto', onProgress, encoders } = {}) {
    const bundle =
      typeof urlOrBytes === 'string' || urlOrBytes instanceof URL
        ? await fetchBundle(String(urlOrBytes), onProgress)
        : urlOrBytes;
    const rec = new Recommender(newWorker(), encoders);
    const worker = rec.#worker;
    const transfer = [bundle.manifest.buffer, ...Object.values(bundle.files).map((b) => b.buffer)];
    try {
      const { backend, content } = await rec.#call('load', { ...bundle, device }, transfer);
      rec.#backend = backend;
      rec.#content = content;
    } catch (e) {
      worker.terminate();
      throw e;
    }
    return rec;
  }

  /** The catalog content modalities of the bundle (e.g. ['tabular', 'text']). */
  get content() {
    return [...this.#content];
  }

  /** 'webgpu' or 'cpu'. */
  get backend() {
    return this.#backend;
  }

  /** Top-k items for a history: `{ history: [{ item, rating? }] }` (or the array itself). An
   * empty history (a first visit) gets the catalog's most popular items; `k` must be ≥ 1
   * (BAD_CONFIG otherwise). */
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

  /**
   * Adds an item encoded on this device: `{ id, title?, year?, categories?, description?,
   * image?, features? }` (image: Blob/File, bytes or URL; features: precomputed vectors by
   * modality, e.g. `{ audio: Float32Array }`, for modalities the bundle stores from files). The encoders are fetched on first use from the
   * `encoders` URLs given to `load`. Resolves to `{ item, used, unused, neighbors }`: the
   * modalities it was placed by, those the bundle's catalog cannot compare (still decoded, so a
   * bad photo rejects with BAD_IMAGE), and its nearest catalog items with their weights.
   */
  async addItem(item, { onProgress } = {}) {
    const { image, features, ...fields } = item ?? {};
    const bytes = await imageBytes(image);
    if (features != null) {
      // Plain arrays: typed arrays of any kind (Float32Array, Float64Array…) or number[].
      fields.features = Object.fromEntries(Object.entries(features).map(([name, v]) => [name, Array.from(v ?? [])]));
    }
    const hasText = ['title', 'description', 'text', 'categories'].some((k) => fields[k] != null);
    const needs = [...(hasText ? ['text'] : []), ...(bytes ? ['image'] : [])];
    await this.#ensureEncoders(needs.filter((m) => this.#content.includes(m)), onProgress);
    onProgress?.({ phase: 'encoding' });
    return this.#call('addItem', { item: fields, image: bytes }, [], onProgress);
  }

  /**
   * A few autodiff steps of the personal adaptor on local `events` (`[{ item, rating? }]`: ≥ 4
   * or no rating = liked, ≤ 2 = disliked), on WebGPU when the recommender runs there. Options:
   * `steps` (20), `lr`, `l2`, `negatives`, `strength`, `seed`, `onProgress({ phase, step, steps })`.
   * Resolves to `{ steps, pairs, loss_before, loss_after }`.
   */
  personalize(events, { onProgress, ...options } = {}) {
    return this.#call('personalize', { events, options }, [], onProgress);
  }

  /** Raw on-device encoder outputs: `{ text?: number[], image?: number[], top1?: number }`. */
  async encode({ text, image } = {}) {
    const bytes = await imageBytes(image);
    await this.#ensureEncoders([...(text != null ? ['text'] : []), ...(bytes ? ['image'] : [])]);
    return this.#call('encode', { text, image: bytes });
  }

  /** Saves the bundle and this session (added items, adaptor) in IndexedDB under `key`. */
  save(key = 'default') {
    return this.#call('save', { key });
  }

  /** A recommender restored from IndexedDB (see `save`); no network needed. */
  static async restore(key = 'default', { device, encoders } = {}) {
    const rec = new Recommender(newWorker(), encoders);
    try {
      const { backend, content } = await rec.#call('restore', { key, device });
      rec.#backend = backend;
      rec.#content = content;
    } catch (e) {
      rec.#worker.terminate();
      throw e;
    }
    return rec;
  }

  /** Stops the worker. */
  dispose() {
    this.#worker.terminate();
  }
}
