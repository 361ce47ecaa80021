/**
 * Camera-aware features (DESIGN seed 001): every camera adds its own offset to the re-ID
 * embedding (colour, light, sharpness, viewpoint), so each camera's running mean embedding is
 * subtracted before matching, and the result renormalised. The mean of camera c is
 *
 *   μ_c = (n_c·m_c + k·m_site) / (n_c + k)
 *
 * where m_c is the camera's own running mean over its tracks (one vector per track, so a
 * long track weighs like a short one), m_site the mean of all cameras' tracks, n_c the
 * camera's track count and k = warmup_tracks: a new camera starts from the site's mean and
 * moves to its own as its tracks arrive. Each update is robust: a track far from the mean
 * (more than `clip` times the typical distance, e.g. a false detection) moves it as if it
 * were at that distance. After `window_tracks` tracks the running mean becomes exponential,
 * so the mean follows slow changes (seasons, day and night).
 *
 * The statistics are kept in LMDB (one named database of the daemon's state store), written
 * in the caller's transaction when one is open, so a restart keeps them.
 */
import { openDatabase, type Database, type RootDatabase } from '../core/state-store.js';
import { vectorBytes, vectorFromBytes } from '../core/vectors.js';

export interface CameraCentringOptions {
  store: RootDatabase;
  enabled: boolean;
  /** k: tracks after which a camera's own mean weighs as much as the site's. */
  warmupTracks: number;
  /** The site must have seen this many tracks before centred features are trusted. */
  siteWarmupTracks: number;
  /** The running mean becomes exponential (rate 1/window) after this many tracks. */
  windowTracks: number;
  /** A track further than clip × the typical distance from the mean moves it as if it were at that distance. */
  clip: number;
}

/** Running statistics of one camera's (or the site's) track embeddings. */
export interface RunningMean {
  count: number;
  mean: Float32Array;
  /** Running mean of the tracks' distance to the mean (the typical distance). */
  spread: number;
}

interface StoredMean {
  count: number;
  mean: Uint8Array;
  spread: number;
}

/** Key of the site-wide statistics: not a valid camera id. */
const SITE = '*site';

export class CameraCentring {
  private readonly db: Database<StoredMean, string>;
  private readonly stats = new Map<string, RunningMean>();
  private dimension = 0;

  constructor(private readonly options: CameraCentringOptions) {
    this.db = openDatabase(options.store, { name: 'feature-camera-means' });
    for (const { key, value } of this.db.getRange()) {
      const mean = vectorFromBytes(value.mean);
      this.stats.set(key, { count: value.count, mean, spread: value.spread });
      this.dimension = mean.length;
    }
  }

  get enabled(): boolean {
    return this.options.enabled;
  }

  /** Tracks seen by the whole site. */
  get siteTracks(): number {
    return this.stats.get(SITE)?.count ?? 0;
  }

  /** Centred features are trusted once the site has seen enough tracks (always, when centring is off). */
  get ready(): boolean {
    return !this.options.enabled || this.siteTracks >= this.options.siteWarmupTracks;
  }

  /** Tracks seen by one camera. */
  tracksOf(cameraId: string): number {
    return this.stats.get(cameraId)?.count ?? 0;
  }

  /**
   * Adds one track's unit embedding to its camera's and the site's statistics. Writes to
   * LMDB with putSync: inside an open transaction (a decision's) it commits with it.
   */
  observe(cameraId: string, embedding: Float32Array): void {
    if (!this.options.enabled) return;
    if (this.dimension !== 0 && embedding.length !== this.dimension) {
      throw new RangeError(`embedding has ${embedding.length} dimensions, the camera means ${this.dimension}`);
    }
    this.dimension = embedding.length;
    for (const key of [cameraId, SITE]) {
      const updated = robustUpdate(this.stats.get(key), embedding, this.options);
      this.stats.set(key, updated);
      this.db.putSync(key, { count: updated.count, mean: vectorBytes(updated.mean), spread: updated.spread });
    }
  }

  /**
   * μ_c as defined above, or undefined when nothing is to be subtracted (centring off, no
   * track yet). A camera never seen (e.g. an enrolment image) gets the site's mean.
   */
  meanOf(cameraId: string): Float32Array | undefined {
    if (!this.options.enabled) return undefined;
    const site = this.stats.get(SITE);
    if (site === undefined) return undefined;
    const own = this.stats.get(cameraId);
    if (own === undefined) return site.mean;
    const k = this.options.warmupTracks;
    const ownWeight = own.count / (own.count + k);
    const mean = new Float32Array(site.mean.length);
    for (let i = 0; i < mean.length; i++) mean[i] = ownWeight * own.mean[i]! + (1 - ownWeight) * site.mean[i]!;
    return mean;
  }

  /** The mean of all cameras' tracks, undefined before the first (or with centring off). */
  siteMean(): Float32Array | undefined {
    return this.options.enabled ? this.stats.get(SITE)?.mean : undefined;
  }

  /** Every camera with statistics (not the site). */
  cameras(): string[] {
    return [...this.stats.keys()].filter((key) => key !== SITE);
  }
}

/**
 * One robust step of a running mean: δ = f − m is clipped to `clip` × the running mean
 * distance, then m ← m + δ / min(n, window); the distance follows the same rule.
 */
export function robustUpdate(
  previous: RunningMean | undefined,
  embedding: Float32Array,
  options: { windowTracks: number; clip: number },
): RunningMean {
  if (previous === undefined) return { count: 1, mean: Float32Array.from(embedding), spread: 0 };
  const count = previous.count + 1;
  const rate = 1 / Math.min(count, options.windowTracks);
  let distance = 0;
  for (let i = 0; i < embedding.length; i++) distance += (embedding[i]! - previous.mean[i]!) ** 2;
  distance = Math.sqrt(distance);
  // Until there is a typical distance (second track), the step is not clipped.
  const limit = previous.spread > 0 ? options.clip * previous.spread : Infinity;
  const scale = distance > limit ? limit / distance : 1;
  const mean = new Float32Array(embedding.length);
  for (let i = 0; i < mean.length; i++) mean[i] = previous.mean[i]! + rate * scale * (embedding[i]! - previous.mean[i]!);
  const spread = previous.spread + rate * (Math.min(distance, limit) - previous.spread);
  return { count, mean, spread };
}
