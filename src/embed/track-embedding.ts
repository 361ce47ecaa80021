/**
 * A track's appearance: the best K crops by quality with their embeddings. The
 * track embedding is their quality-weighted mean, renormalised, so a few sharp,
 * unoccluded views dominate and bad frames cannot drag the track's identity.
 */
import type { Box } from '../core/geometry.js';
import { normaliseInPlace } from '../core/vectors.js';
import { layoutOf, trackParts, type PartEmbedding } from './part-embedding.js';

export interface TrackCrop {
  /** L2-normalised embedding of the crop; kept by reference, so the caller must not reuse it. */
  embedding: Float32Array;
  /** The crop's parts, from a part model (kept by reference too). */
  parts?: PartEmbedding;
  quality: number;
  pts: number;
  frameIndex: number;
  box: Box;
}

export type BestCrop = Omit<TrackCrop, 'embedding' | 'parts'>;

export interface TrackEmbeddingOptions {
  /** How many crops to keep (default 5). */
  k?: number;
  /** Media seconds between two embedded crops of the track (default 0: any frame). */
  minIntervalS?: number;
}

/**
 * Weight floor: a track seen only in zero-quality crops still gets an embedding
 * (the plain mean of what it has) instead of none.
 */
const MIN_WEIGHT = 1e-3;

export class TrackEmbedding {
  readonly k: number;
  /** Sorted by quality, best first. */
  private readonly crops: TrackCrop[] = [];
  private cached: Float32Array | undefined;
  private readonly minIntervalS: number;
  /** Media time of the last crop that entered; crops closer to it than minIntervalS are not embedded. */
  private lastAddedPts = -Infinity;

  constructor(options: TrackEmbeddingOptions = {}) {
    this.k = options.k ?? 5;
    this.minIntervalS = options.minIntervalS ?? 0;
    if (!Number.isInteger(this.k) || this.k < 1) throw new RangeError(`k must be a positive integer, got ${this.k}`);
  }

  get size(): number {
    return this.crops.length;
  }

  /**
   * Whether a crop of this quality at media time `pts` would enter the top K: embed it only
   * if so. Within minIntervalS of the last crop taken it would not: consecutive frames show
   * the same view, and re-ID is the costliest step per frame.
   */
  shouldEmbed(quality: number, pts: number): boolean {
    if (this.minIntervalS > 0 && pts - this.lastAddedPts < this.minIntervalS) return false;
    return this.crops.length < this.k || quality > this.crops[this.crops.length - 1]!.quality;
  }

  /** Adds the crop if it enters the top K (evicting the worst); returns whether it did. */
  add(crop: TrackCrop): boolean {
    if (!this.shouldEmbed(crop.quality, crop.pts)) return false;
    this.lastAddedPts = crop.pts;
    if (this.crops.length === this.k) this.crops.pop();
    // Insert after equal qualities so that, on ties, earlier crops rank first.
    let at = this.crops.findIndex((c) => c.quality < crop.quality);
    if (at === -1) at = this.crops.length;
    this.crops.splice(at, 0, crop);
    this.cached = undefined;
    return true;
  }

  /** Quality-weighted mean of the kept embeddings, L2-normalised; undefined before the first crop. */
  embedding(): Float32Array | undefined {
    if (this.crops.length === 0) return undefined;
    if (this.cached) return this.cached;
    this.cached = weightedMean(this.crops);
    return this.cached;
  }

  /** The track's parts from its kept crops (see trackParts); undefined unless every kept crop has parts. */
  parts(): PartEmbedding | undefined {
    const first = this.crops[0]?.parts;
    if (first === undefined || this.crops.some((crop) => crop.parts === undefined)) return undefined;
    return trackParts(
      this.crops.map((crop) => ({ parts: crop.parts!, quality: crop.quality })),
      layoutOf(first),
      MIN_WEIGHT,
    );
  }

  /**
   * Two embeddings of the track from disjoint crops: the earlier half of the kept crops (by
   * media time) and the later half, each weighted as in embedding(). On-site adaptation checks
   * a candidate by whether one half still finds the other among all tracks. Undefined below
   * two crops.
   */
  halves(): [Float32Array, Float32Array] | undefined {
    if (this.crops.length < 2) return undefined;
    const byTime = [...this.crops].sort((a, b) => a.pts - b.pts);
    const middle = Math.floor(byTime.length / 2);
    return [weightedMean(byTime.slice(0, middle)), weightedMean(byTime.slice(middle))];
  }

  /** The highest-quality crop kept (e.g. for a snapshot); undefined before the first crop. */
  bestCrop(): BestCrop | undefined {
    const best = this.crops[0];
    return best && { quality: best.quality, pts: best.pts, frameIndex: best.frameIndex, box: best.box };
  }

  /** The kept crops, best first. */
  keptCrops(): readonly TrackCrop[] {
    return this.crops;
  }
}

/** Quality-weighted mean of crops' embeddings, L2-normalised. */
function weightedMean(crops: readonly TrackCrop[]): Float32Array {
  const sum = new Float32Array(crops[0]!.embedding.length);
  for (const crop of crops) {
    const weight = Math.max(crop.quality, MIN_WEIGHT);
    for (let i = 0; i < sum.length; i++) sum[i]! += weight * crop.embedding[i]!;
  }
  return normaliseInPlace(sum);
}
