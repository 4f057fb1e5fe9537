export type Device = 'auto' | 'webgpu' | 'cpu';

/** The stable error codes: a rejected Promise's `Error` has one as `code`. */
export type ErrorCode =
  // From the crate (`Error::code`).
  | 'IO'
  | 'PARSE'
  | 'BUNDLE_CHECKSUM'
  | 'BUNDLE_VERSION'
  | 'BUNDLE_INVALID'
  | 'UNKNOWN_USER'
  | 'UNKNOWN_ITEM'
  | 'BAD_CONFIG'
  | 'BAD_DATA'
  | 'BAD_IMAGE'
  | 'BAD_AUDIO'
  | 'BAD_WEIGHTS'
  | 'NETWORK'
  | 'DEVICE'
  | 'ENCODER'
  | 'TOO_LARGE'
  // From the JavaScript package.
  | 'ABORTED'
  | 'BAD_CALL'
  | 'DISPOSED'
  | 'NOT_FOUND'
  | 'STORAGE'
  | 'WORKER'
  | 'INTERNAL';

export interface FusionrecError extends Error {
  code: ErrorCode;
}

export interface Progress {
  loaded: number;
  total: number;
  file: string;
}

export interface EncoderUrls {
  /** MiniLM's folder (tokenizer.json, model.safetensors). */
  text?: string | URL;
  /** The EfficientNet-Lite0 `.pth`. */
  image?: string | URL;
  /** Keep the downloaded weights in the Cache API for later page loads (default true). */
  cache?: boolean;
}

export interface LoadOptions {
  device?: Device;
  onProgress?: (progress: Progress) => void;
  /** Where `addItem`/`encode` fetch the encoders on first use; checked against the bundle's
   * sha256. */
  encoders?: EncoderUrls;
  /** Aborts the download and the load: the Promise rejects with code 'ABORTED'. */
  signal?: AbortSignal;
  /** Used for every download (bundle, encoders, image URLs) instead of the global `fetch`. */
  fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  /** The largest bundle (manifest and files, in bytes) this page takes: a larger one is refused
   * with 'TOO_LARGE' once its manifest is read, before its weights are downloaded. The page's
   * memory follows: the weights are held as loaded, plus at most four times their size decoded. */
  maxBytes?: number;
}

export interface TaskProgress {
  phase: 'download' | 'encoders' | 'encoding' | 'fine-tuning';
  file?: string;
  loaded?: number;
  step?: number;
  steps?: number;
}

export interface NewItem {
  id: string;
  title?: string;
  /** Another name for `description`. */
  text?: string;
  year?: number;
  categories?: string[];
  description?: string;
  /** A photo: JPEG, PNG or WebP. */
  image?: Blob | ArrayBuffer | ArrayBufferView | string | URL;
  /** Precomputed vectors for modalities the bundle stores from files (`train --item-features
   * audio=whisper.npy`), made by the same embedder as the catalog's: `{ audio: Float32Array }`. */
  features?: Record<string, Float32Array | Float64Array | number[]>;
}

export interface AddedItem {
  item: string;
  /** Modalities the item was placed by. */
  used: string[];
  /** Given but not comparable with this bundle's catalog (e.g. an image for a text-only catalog). */
  unused: string[];
  /** Nearest catalog items; `score` is the weight in the new item's mixture (sums to 1). */
  neighbors: Recommendation[];
}

export interface PersonalizeOptions {
  steps?: number;
  lr?: number;
  l2?: number;
  negatives?: number;
  /** Weight of the adaptor's term in units of the score's standard deviation (1). */
  strength?: number;
  seed?: number;
  onProgress?: (progress: TaskProgress) => void;
}

/** A bundle's bytes; copied on load, so the caller's buffers stay usable. */
export interface BundleBytes {
  manifest: Uint8Array | ArrayBuffer;
  files: Record<string, Uint8Array | ArrayBuffer>;
}

export interface HistoryEvent {
  item: string;
  rating?: number;
  /** When it happened (any increasing number, e.g. `Date.now()`). A sequential bundle (SASRec)
   * reads the history in time order when every event has a time, in array order when none has;
   * a history with times on only some events is rejected (`BAD_DATA`). Other models ignore it. */
  time?: number;
}

export interface Recommendation {
  item: string;
  score: number;
  title: string | null;
  /** With `recommend(…, { explain: true })`: why the item scores what it does. */
  explanation?: Explanation;
}

/** Restricts a list to some items: by id, or by a category the bundle records. */
export type Filter = { items: string[] } | { category: string };

export interface RecommendOptions {
  k?: number;
  exclude?: 'seen' | 'none';
  explain?: boolean;
  filter?: Filter;
  /** MMR's weight of diversity, 0 (relevance order, the default) to 1. */
  diversity?: number;
  /** Leave out items scoring below this (the list may be shorter than k). */
  minScore?: number;
}

export interface CatalogItem {
  item: string;
  title: string | null;
  categories: string[];
}

export interface Explanation {
  item: string;
  title: string | null;
  score: number;
  /** The part of the score that does not depend on the history (biases, popularity). */
  base: number;
  /** The personal adaptor's term (0 before `personalize`). */
  personal: number;
  /** Each history item's exact contribution (score = base + Σ contribution + personal), largest first. */
  influences: { item: string; title: string | null; contribution: number }[];
  /** Which content links the item to the history: shares of positive cosine per modality. */
  modalities: { modality: string; share: number }[];
}

export declare class Recommender {
  /** Made only by `load` and `restore`. */
  private constructor();
  static load(urlOrBytes: string | URL | BundleBytes, options?: LoadOptions): Promise<Recommender>;
  static restore(
    key?: string,
    options?: Pick<LoadOptions, 'device' | 'encoders' | 'signal' | 'fetch'>,
  ): Promise<Recommender>;
  readonly backend: 'webgpu' | 'cpu';
  readonly content: string[];
  recommend(query: { history: HistoryEvent[] } | HistoryEvent[], options?: RecommendOptions): Promise<Recommendation[]>;
  /** The catalog, added items included. */
  items(): Promise<CatalogItem[]>;
  /** The worker's WebAssembly memory in bytes (it grows to its peak and never shrinks). */
  memory(): Promise<{ wasmBytes: number }>;
  similar(item: string, options?: { k?: number }): Promise<Recommendation[]>;
  explain(query: { history: HistoryEvent[] } | HistoryEvent[], item: string): Promise<Explanation>;
  addItem(item: NewItem, options?: { onProgress?: (p: TaskProgress) => void }): Promise<AddedItem>;
  personalize(
    events: HistoryEvent[],
    options?: PersonalizeOptions,
  ): Promise<{ steps: number; pairs: number; lossBefore: number; lossAfter: number }>;
  /** The (ε, δ)-DP release of the personal adaptor (see `ExportUpdateOptions`); rejects with
   * 'BAD_CONFIG' for bad options or before `personalize`. One call is one release: calls compose. */
  exportUpdate(options: ExportUpdateOptions): Promise<PrivateUpdate>;
  encode(input: { text?: string; texts?: string[]; image?: NewItem['image'] }): Promise<{ text?: number[]; texts?: number[][]; image?: number[]; top1?: number }>;
  save(key?: string): Promise<{ key: string; bytes: number }>;
  /** Ends the worker; pending and later calls reject with 'DISPOSED'. */
  dispose(): void;
}

/** Options of `exportUpdate`. */
export interface ExportUpdateOptions {
  /** Privacy loss of this release: a finite number > 0. */
  epsilon: number;
  /** The release's δ, in (0, 1); default 1e-5. */
  delta?: number;
  /** L2 norm θ is clipped to (sensitivity 2·clip); default 1. */
  clip?: number;
  /** Tests only: a fixed seed (a whole number in [0, 2^53)) makes the noise reproducible, and
   * whoever knows it can remove it. Default: a ChaCha20 stream keyed by 256 bits from
   * crypto.getRandomValues. */
  seed?: number;
}

/** What `exportUpdate` resolves to. */
export interface PrivateUpdate {
  /** The clipped θ plus Gaussian noise, `dim` values. */
  delta: number[];
  dim: number;
  clip: number;
  /** Per-coordinate standard deviation of the noise (analytic Gaussian mechanism). */
  sigma: number;
  epsilon: number;
  /** The release's δ (`delta` is the update itself). */
  deltaDp: number;
  /** sha256 of the bundle's weights: only updates for one bundle are averaged. */
  bundle: string;
}
