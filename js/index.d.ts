export type Device = 'auto' | 'webgpu' | 'cpu';

/** Stable error codes, e.g. 'BUNDLE_CHECKSUM', 'UNKNOWN_ITEM', 'DEVICE', 'NETWORK'. */
export interface FusionrecError extends Error {
  code: string;
}

export interface Progress {
  loaded: number;
  total: number;
  file: string;
}

export interface LoadOptions {
  device?: Device;
  onProgress?: (progress: Progress) => void;
  /** Where `addItem`/`encode` fetch the encoders on first use: MiniLM's folder (tokenizer.json,
   * model.safetensors) and the EfficientNet-Lite0 .pth. Checked against the bundle's sha256. */
  encoders?: { text?: string | URL; image?: string | URL };
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

export interface BundleBytes {
  manifest: Uint8Array;
  files: Record<string, Uint8Array>;
}

export interface HistoryEvent {
  item: string;
  rating?: number;
}

export interface Recommendation {
  item: string;
  score: number;
  title: string | null;
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
  static load(urlOrBytes: string | URL | BundleBytes, options?: LoadOptions): Promise<Recommender>;
  static restore(key?: string, options?: { device?: Device; encoders?: LoadOptions['encoders'] }): Promise<Recommender>;
  readonly backend: 'webgpu' | 'cpu';
  readonly content: string[];
  recommend(
    query: { history: HistoryEvent[] } | HistoryEvent[],
    options?: { k?: number; exclude?: 'seen' | 'none' },
  ): Promise<Recommendation[]>;
  similar(item: string, options?: { k?: number }): Promise<Recommendation[]>;
  explain(query: { history: HistoryEvent[] } | HistoryEvent[], item: string): Promise<Explanation>;
  addItem(item: NewItem, options?: { onProgress?: (p: TaskProgress) => void }): Promise<AddedItem>;
  personalize(
    events: HistoryEvent[],
    options?: PersonalizeOptions,
  ): Promise<{ steps: number; pairs: number; loss_before: number; loss_after: number }>;
  encode(input: { text?: string; image?: NewItem['image'] }): Promise<{ text?: number[]; image?: number[]; top1?: number }>;
  save(key?: string): Promise<{ key: string; bytes: number }>;
  dispose(): void;
}
