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
  /** Each history item's exact contribution (score = base + Σ contribution), largest first. */
  influences: { item: string; title: string | null; contribution: number }[];
}

export declare class Recommender {
  static load(urlOrBytes: string | URL | BundleBytes, options?: LoadOptions): Promise<Recommender>;
  readonly backend: 'webgpu' | 'cpu';
  recommend(
    query: { history: HistoryEvent[] } | HistoryEvent[],
    options?: { k?: number; exclude?: 'seen' | 'none' },
  ): Promise<Recommendation[]>;
  similar(item: string, options?: { k?: number }): Promise<Recommendation[]>;
  explain(query: { history: HistoryEvent[] } | HistoryEvent[], item: string): Promise<Explanation>;
  dispose(): void;
}
