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

function abortError(signal) {
  const reason = signal?.reason;
  return codedError({ message: `aborted${reason?.message ? `: ${reason.message}` : ''}`, code: 'ABORTED' });
}

/** Reads `url` through `options.fetch` (default: the global one) chunk by chunk, awaiting
 * `consume(chunk)` for each; `options.signal` aborts it (ABORTED). Download failures are
 * NETWORK errors; an error `consume` throws passes through as it is. */
async function readChunks(url, consume, { fetch: fetchImpl = globalThis.fetch, signal } = {}) {
  if (signal?.aborted) throw abortError(signal);
  let response;
  try {
    response = await fetchImpl(url, { signal });
  } catch (e) {
    if (signal?.aborted) throw abortError(signal);
    throw codedError({ message: `download failed: ${url}: ${e.message}`, code: 'NETWORK' });
  }
  if (!response.ok) {
    throw codedError({ message: `download failed: ${url}: HTTP ${response.status}`, code: 'NETWORK' });
  }
  if (!response.body) {
    throw codedError({ message: `download failed: ${url}: the response has no body`, code: 'NETWORK' });
  }
  const reader = response.body.getReader();
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw codedError({ message: `download failed: ${url}: ${e.message}`, code: 'NETWORK' });
    }
    if (step.done) return response;
    try {
      await consume(step.value, response);
    } catch (e) {
      reader.cancel().catch(() => {});
      throw e;
    }
  }
}

/** The bytes of `url` (see `readChunks`), reporting each chunk's length to `onChunk`. With a
 * Content-Length the chunks go straight into one buffer of that size: no list of chunks and
 * then a second, whole copy. */
async function fetchBytes(url, onChunk, options = {}) {
  let buffer;
  const chunks = [];
  let length = 0;
  await readChunks(
    url,
    (value, response) => {
      if (buffer === undefined) {
        // Trusted up to 256 MB (a server may lie; a larger body just gathers chunks).
        const expected = Number(response.headers.get('content-length'));
        try {
          buffer = Number.isSafeInteger(expected) && expected > 0 && expected <= 2 ** 28 ? new Uint8Array(expected) : null;
        } catch {
          buffer = null;
        }
      }
      if (buffer && length + value.length <= buffer.length) {
        buffer.set(value, length);
      } else {
        // Longer than announced: gather chunks instead.
        if (buffer) chunks.push(buffer.subarray(0, length));
        buffer = null;
        chunks.push(value);
      }
      length += value.length;
      onChunk(value.length);
    },
    options,
  );
  if (buffer) return length === buffer.length ? buffer : buffer.slice(0, length);
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** Encoder weights are large and never change under one URL's sha256 check, so they are kept
 * in the Cache API ('fusionrec-encoders') and reused across page loads; without the Cache API
 * (an insecure context) they are fetched every time. Returns `{ bytes, cached }`. */
const ENCODER_CACHE = 'fusionrec-encoders';

async function cachedBytes(url, onChunk, options) {
  const cache = options.cache !== false && globalThis.caches ? await globalThis.caches.open(ENCODER_CACHE).catch(() => null) : null;
  const hit = await cache?.match(String(url)).catch(() => undefined);
  if (hit) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onChunk(bytes.length);
    return { bytes, cached: true };
  }
  const bytes = await fetchBytes(url, onChunk, options);
  // A full cache (quota) only costs the next page load a download.
  await cache?.put(String(url), new Response(bytes.slice())).catch(() => {});
  return { bytes, cached: false };
}

async function evictEncoder(urls) {
  const cache = globalThis.caches ? await globalThis.caches.open(ENCODER_CACHE).catch(() => null) : null;
  await Promise.all(urls.map((u) => cache?.delete(String(u)).catch(() => {})));
}

/** A caller's bytes as a Uint8Array of their own: copied, so that transferring it to the
 * worker never detaches the caller's buffer (nor fails when two files share one buffer). */
function ownBytes(value, name) {
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength).slice();
  throw codedError({ message: `invalid bundle: ${name} must be bytes (Uint8Array or ArrayBuffer)`, code: 'BUNDLE_INVALID' });
}

/** Streams a bundle folder URL into the worker: `manifest.json` first, chunk by chunk
 * (`manifestChunk`), which the crate then parses (`open`: it answers the listed files and
 * sizes), then each listed file chunk by chunk (`chunk`), then `load`. Each chunk is
 * transferred, never gathered here: at 10⁶ items the page holds neither a 30 MB manifest (let
 * alone a parsed one) nor a 70 MB copy of the weights. */
async function streamBundle(url, onProgress, options, call, device, maxBytes) {
  const base = new URL(url.endsWith('/') ? url : `${url}/`, globalThis.location?.href);
  let loaded = 0;
  let total = 0;
  const report = (file, n) => {
    loaded += n;
    onProgress?.({ loaded, total, file });
  };
  // Transferred, not copied — unless a chunk is a view into a larger buffer.
  const own = (chunk) => (chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength ? chunk : chunk.slice());
  await call('begin', {});
  await readChunks(
    new URL(MANIFEST, base),
    async (chunk) => {
      report(MANIFEST, chunk.length);
      if (maxBytes !== undefined && loaded > maxBytes) throw tooLarge(`its ${MANIFEST} alone`, maxBytes);
      const bytes = own(chunk);
      await call('manifestChunk', { bytes }, [bytes.buffer]);
    },
    options,
  );
  const manifestBytes = loaded;
  const listed = await call('open', { maxBytes });
  total = manifestBytes + listed.reduce((s, f) => s + f.bytes, 0);
  // A listed file is a plain name inside the bundle's folder: a manifest may not send the page
  // to other paths or origins ("../x", "/x", "https://elsewhere/x").
  const outside = listed.find(({ name }) => !/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name) || name.includes('..'));
  if (outside !== undefined) {
    throw codedError({
      message: `invalid bundle: ${MANIFEST} lists '${outside.name}', which is not a file name inside the bundle`,
      code: 'BUNDLE_INVALID',
    });
  }
  for (const { name } of listed) {
    await readChunks(
      new URL(name, base),
      async (chunk) => {
        report(name, chunk.length);
        const bytes = own(chunk);
        await call('chunk', { name, bytes }, [bytes.buffer]);
      },
      options,
    );
  }
  return call('load', { streamed: true, device });
}

function tooLarge(what, maxBytes) {
  return codedError({ message: `too large: ${what} is over this page's maxBytes of ${maxBytes}`, code: 'TOO_LARGE' });
}

/** `maxBytes` as given: a positive number of bytes, or undefined (no limit). */
function checkMaxBytes(maxBytes) {
  if (maxBytes === undefined) return undefined;
  if (typeof maxBytes !== 'number' || !(maxBytes > 0)) {
    throw codedError({ message: `invalid configuration: maxBytes must be a positive number, not ${String(maxBytes)}`, code: 'BAD_CONFIG' });
  }
  return maxBytes;
}

/** Bytes of an image given as a Blob/File, ArrayBuffer, typed array or URL. */
async function imageBytes(image, network = {}) {
  if (image == null) return undefined;
  if (image instanceof Uint8Array) return image;
  if (image instanceof ArrayBuffer) return new Uint8Array(image);
  if (ArrayBuffer.isView(image)) return new Uint8Array(image.buffer, image.byteOffset, image.byteLength);
  if (typeof Blob !== 'undefined' && image instanceof Blob) return new Uint8Array(await image.arrayBuffer());
  if (typeof image === 'string' || image instanceof URL) {
    return fetchBytes(new URL(String(image), globalThis.location?.href), () => {}, network);
  }
  throw codedError({ message: 'image: expected a Blob, ArrayBuffer, typed array or URL', code: 'BAD_IMAGE' });
}

/** `k` as the crate takes it: a whole number ≥ 1, else BAD_CONFIG (as for k = 0). A k past the
 * catalog's size means all of it, so it is capped at wasm32's largest usize. */
function checkK(k) {
  if (!Number.isInteger(k) || k < 1) {
    const shown = typeof k === 'string' ? JSON.stringify(k) : String(k);
    throw codedError({ message: `invalid configuration: k must be a whole number ≥ 1, not ${shown}`, code: 'BAD_CONFIG' });
  }
  return Math.min(k, 0xffffffff);
}

/** `recommend`'s re-ranking options: `diversity` in [0, 1], `minScore` a finite number. */
function checkRerank(diversity, minScore) {
  if (diversity !== undefined && !(typeof diversity === 'number' && diversity >= 0 && diversity <= 1)) {
    throw codedError({ message: `invalid configuration: diversity must be a number from 0 to 1, not ${String(diversity)}`, code: 'BAD_CONFIG' });
  }
  if (minScore !== undefined && !(typeof minScore === 'number' && Number.isFinite(minScore))) {
    throw codedError({ message: `invalid configuration: minScore must be a finite number, not ${String(minScore)}`, code: 'BAD_CONFIG' });
  }
}

/** `exportUpdate`'s options: ε > 0 finite, 0 < δ < 1, clip > 0 finite, seed a whole number in
 * [0, 2^53) (else BAD_CONFIG, as the crate says for the first three). */
function checkPrivacy({ epsilon, delta, clip, seed }) {
  const bad = (what, v) =>
    codedError({ message: `invalid configuration: ${what}, not ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`, code: 'BAD_CONFIG' });
  if (!(typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon > 0)) throw bad('epsilon must be a finite number > 0', epsilon);
  if (!(typeof delta === 'number' && delta > 0 && delta < 1)) throw bad('delta must be a number in (0, 1)', delta);
  if (!(typeof clip === 'number' && Number.isFinite(clip) && clip > 0)) throw bad('clip must be a finite number > 0', clip);
  if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0)) throw bad('seed must be a whole number ≥ 0', seed);
}

/** The fields `addItem` reads; any other is a mistake (BAD_CALL) rather than silently dropped. */
const NEW_ITEM_FIELDS = ['id', 'title', 'text', 'description', 'year', 'categories', 'image', 'features'];

function newWorker() {
  return new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
}

// Constructed only by `load` and `restore`: the token keeps `new Recommender()` out of reach.
const INTERNAL = Symbol('fusionrec.internal');

export class Recommender {
  #worker;
  #pending = new Map();
  #next = 0;
  #backend;
  #content = [];
  #encoders; // { text?: folder URL, image?: .pth URL }
  #encoderLoads = {}; // kind → Promise of its load
  #network; // { fetch?, cache? } for encoders and image URLs
  #closed = null; // the error every call rejects with once disposed or crashed

  constructor(token, worker, encoders = {}, network = {}) {
    if (token !== INTERNAL) {
      throw codedError({ message: 'use Recommender.load(…) or Recommender.restore(…)', code: 'BAD_CALL' });
    }
    this.#worker = worker;
    this.#network = { fetch: network.fetch, cache: encoders.cache };
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
      event.preventDefault?.();
      const message = event.message ?? 'the worker script could not be loaded';
      this.#close(codedError({ message: `worker failed: ${message}`, code: 'WORKER' }));
    };
    worker.onmessageerror = () => {
      this.#close(codedError({ message: 'worker failed: a message could not be read', code: 'WORKER' }));
    };
  }

  /** Ends the worker: every pending and later call rejects with `error`. */
  #close(error) {
    this.#closed ??= error;
    this.#worker.terminate();
    for (const call of this.#pending.values()) call.reject(this.#closed);
    this.#pending.clear();
  }

  #call(method, args, transfer = [], onProgress) {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      try {
        this.#worker.postMessage({ id, method, args }, transfer);
      } catch (e) {
        this.#pending.delete(id);
        reject(codedError({ message: `${method}: ${e.message}`, code: 'BAD_CALL' }));
      }
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

  async #loadEncoder(kind, onProgress, fromNetwork = false) {
    const url = this.#encoders[kind];
    if (!url) {
      throw codedError({ message: `no ${kind} encoder: pass load(…, { encoders: { ${kind}: URL } })`, code: 'ENCODER' });
    }
    let loaded = 0;
    const report = (file) => (n) => {
      loaded += n;
      onProgress?.({ phase: 'download', file, loaded });
    };
    const options = { ...this.#network, cache: fromNetwork ? false : this.#network.cache };
    const sources =
      kind === 'text'
        ? { tokenizer: new URL('tokenizer.json', url), text: new URL('model.safetensors', url) }
        : { image: url };
    const files = {};
    let cached = false;
    for (const [name, source] of Object.entries(sources)) {
      const got = await cachedBytes(source, report(source.pathname.split('/').pop()), options);
      files[name] = got.bytes;
      cached ||= got.cached;
    }
    onProgress?.({ phase: 'encoders' });
    try {
      await this.#call('loadEncoders', { files }, Object.values(files).map((b) => b.buffer));
    } catch (e) {
      // Cached bytes the bundle's checksum rejects (the file changed under its URL): drop them
      // and download once more.
      if (!cached || e.code !== 'ENCODER') throw e;
      await evictEncoder(Object.values(sources));
      return this.#loadEncoder(kind, onProgress, true);
    }
  }

  /**
   * Loads a bundle: a folder URL (fetched here) or `{ manifest, files }` bytes (copied, never
   * detached). Options: `device` ('auto' | 'webgpu' | 'cpu'), `onProgress({ loaded, total,
   * file })`, `encoders` (see `addItem`), `signal` (an AbortSignal: rejects with ABORTED and
   * stops the downloads and the worker), `fetch` (used for every download, e.g. to add headers).
   */
  static async load(urlOrBytes, { device = 'auto', onProgress, encoders, signal, fetch, maxBytes } = {}) {
    let bundle;
    maxBytes = checkMaxBytes(maxBytes);
    if (typeof urlOrBytes === 'string' || urlOrBytes instanceof URL) {
      return Recommender.#start(encoders, { fetch }, signal, (rec) =>
        streamBundle(String(urlOrBytes), onProgress, { fetch, signal }, (...a) => rec.#call(...a), device, maxBytes),
      );
    } else if (urlOrBytes?.manifest != null && urlOrBytes?.files != null) {
      // The budget before any copy (a refused bundle must not double the page's memory first).
      const given = [urlOrBytes.manifest, ...Object.values(urlOrBytes.files)].reduce((s, b) => s + (b?.byteLength ?? 0), 0);
      if (maxBytes !== undefined && given > maxBytes) throw tooLarge(`the bundle (${given} bytes)`, maxBytes);
      const files = {};
      for (const [name, b] of Object.entries(urlOrBytes.files)) files[name] = ownBytes(b, name);
      bundle = { manifest: ownBytes(urlOrBytes.manifest, MANIFEST), files };
    } else {
      throw codedError({ message: 'load: expected a bundle URL or { manifest, files } bytes', code: 'BAD_CALL' });
    }
    return Recommender.#start(encoders, { fetch }, signal, (rec) => {
      const transfer = [bundle.manifest.buffer, ...Object.values(bundle.files).map((b) => b.buffer)];
      return rec.#call('load', { ...bundle, device }, transfer);
    });
  }

  /** A new worker-backed recommender once `begin(rec)` resolves with `{ backend, content }`;
   * on failure or abort the worker is ended and the error passed on. */
  static async #start(encoders, network, signal, begin) {
    if (signal?.aborted) throw abortError(signal);
    const rec = new Recommender(INTERNAL, newWorker(), encoders, network);
    const onAbort = () => rec.#close(abortError(signal));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { backend, content } = await begin(rec);
      rec.#backend = backend;
      rec.#content = content;
      return rec;
    } catch (e) {
      rec.#close(e);
      throw e;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The catalog content modalities of the bundle (e.g. ['tabular', 'text']). */
  get content() {
    return [...this.#content];
  }

  /** 'webgpu' or 'cpu'. */
  get backend() {
    return this.#backend;
  }

  /** Top-k items for a history: `{ history: [{ item, rating?, time? }] }` (or the array itself;
   * a sequential bundle reads it in order: by `time` when given, else as listed). An
   * empty history (a first visit) gets the catalog's most popular items; `k` must be ≥ 1
   * (BAD_CONFIG otherwise). Options: `exclude` ('seen' | 'none'), `explain` (attach each
   * item's `explanation`, as `explain` gives it), `filter` (`{ items: [ids] }` or
   * `{ category }`: only those items are ranked), `diversity` (MMR's weight of diversity, 0 to
   * 1: 0 keeps the relevance order; items compared by the bundle's content and item vectors,
   * else its categories), `minScore` (leave out items scoring below it: the list may be
   * shorter than k). */
  recommend(query, { k = 10, exclude = 'seen', explain = false, filter, diversity, minScore } = {}) {
    const history = Array.isArray(query) ? query : query?.history;
    try {
      k = checkK(k);
      checkRerank(diversity, minScore);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#call('recommend', { history, options: { k, exclude, explain, filter, diversity, minScore } });
  }

  /** The catalog, added items included: `[{ item, title, categories }]`. */
  items() {
    return this.#call('items', {});
  }

  /** Memory the recommender's worker holds: `{ wasmBytes }`, its WebAssembly memory (which
   * grows to its peak and never shrinks), for pages that budget large catalogs. */
  memory() {
    return this.#call('memory', {});
  }

  /** The k items most similar to `item`, itself excluded. */
  similar(item, { k = 10 } = {}) {
    try {
      k = checkK(k);
    } catch (e) {
      return Promise.reject(e);
    }
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
   * bad photo rejects with BAD_IMAGE), and its nearest catalog items with their weights. Any
   * other field is BAD_CALL; blank text counts as none.
   */
  async addItem(item, { onProgress } = {}) {
    const unknown = Object.keys(item ?? {}).filter((key) => !NEW_ITEM_FIELDS.includes(key));
    if (unknown.length > 0) {
      throw codedError({
        message:
          `addItem: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `'${key}'`).join(', ')} ` +
          `(an item has ${NEW_ITEM_FIELDS.join(', ')}; audio and other modalities go in features, ` +
          "as vectors made by the catalog's embedder)",
        code: 'BAD_CALL',
      });
    }
    const { image, features, ...fields } = item ?? {};
    // Blank text describes nothing: left out, so that an item with nothing else to go by is
    // BAD_DATA ("no content") instead of being placed by the embedding of an empty string.
    const blank = (v) => typeof v === 'string' && v.trim() === '';
    for (const key of ['title', 'text', 'description']) if (blank(fields[key])) delete fields[key];
    if (Array.isArray(fields.categories)) fields.categories = fields.categories.filter((c) => !blank(c));
    const bytes = await imageBytes(image, this.#network);
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
   * Resolves to `{ steps, pairs, lossBefore, lossAfter }`.
   */
  personalize(events, { onProgress, ...options } = {}) {
    return this.#call('personalize', { events, options }, [], onProgress);
  }

  /**
   * The (ε, δ)-differentially private release of the personal adaptor θ, for a server that
   * averages many visitors' updates: θ clipped to L2 norm `clip` plus Gaussian noise calibrated
   * by the analytic Gaussian mechanism (sensitivity 2·clip, replace-one). One call is one
   * release; repeated calls compose (their ε add up). Nothing is sent anywhere: the page decides.
   * Options: `epsilon` (required), `delta` (1e-5), `clip` (1), `seed` (tests only: a fixed
   * seed makes the noise reproducible, and anyone who knows it can remove it; by default the
   * noise is a ChaCha20 stream keyed by 256 bits from `crypto.getRandomValues`). Resolves to
   * `{ delta: number[], dim, clip, sigma, epsilon, deltaDp, bundle }`. Rejects with BAD_CONFIG
   * for bad options or before `personalize` (no adaptor to export).
   */
  async exportUpdate({ epsilon, delta = 1e-5, clip = 1, seed } = {}) {
    checkPrivacy({ epsilon, delta, clip, seed });
    return this.#call('exportUpdate', { options: { epsilon, delta, clip, seed } });
  }

  /** Raw on-device encoder outputs: `{ text?: number[], texts?: number[][], image?: number[],
   * top1?: number }`; `texts` (an array of strings) are encoded in batches. */
  async encode({ text, texts, image } = {}) {
    if (texts != null && (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string'))) {
      throw codedError({ message: 'encode: texts must be an array of strings', code: 'BAD_DATA' });
    }
    const bytes = await imageBytes(image, this.#network);
    const needsText = text != null || texts != null;
    await this.#ensureEncoders([...(needsText ? ['text'] : []), ...(bytes ? ['image'] : [])]);
    return this.#call('encode', { text, texts, image: bytes });
  }

  /** Saves the bundle and this session (added items, adaptor) in IndexedDB under `key`. */
  save(key = 'default') {
    return this.#call('save', { key });
  }

  /** A recommender restored from IndexedDB (see `save`); no network needed. Options: `device`,
   * `encoders`, `signal`, `fetch` (as for `load`). */
  static async restore(key = 'default', { device, encoders, signal, fetch } = {}) {
    return Recommender.#start(encoders, { fetch }, signal, (rec) => rec.#call('restore', { key, device }));
  }

  /** Stops the worker. Pending calls and every later call reject with code DISPOSED. */
  dispose() {
    this.#close(codedError({ message: 'this Recommender was disposed', code: 'DISPOSED' }));
  }
}
