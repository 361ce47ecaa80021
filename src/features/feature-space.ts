/**
 * The matching space: where the matcher compares tracks and identities. A raw re-ID
 * embedding f seen by camera c is projected to normalise(f − μ_c) (camera centring, see
 * camera-centring.ts). Identities keep their appearance in the raw space (a weighted sum of
 * raw embeddings and the weight each camera contributed), so any projection can be applied
 * to them too: the projection of Σ α_i f_i is Σ α_i f_i − Σ_c W_c μ_c with W_c the weight of
 * camera c's embeddings. When the camera means have moved, a new set of offsets is published
 * (version + 1) and the gallery re-projects its identities with it: queries and gallery are
 * always projected with the same offsets.
 *
 * An on-site adapter A (adapt/residual-adapter.ts, linear) applies after centring:
 * normalise(A·(f − μ_c)), and to appearances as A·(Σ α_i f_i − Σ_c W_c μ_c); a change of
 * offsets δ_c moves a prototype by −Σ_c W_c·A·δ_c. Swapping the adapter changes
 * `adapterVersion`, and the gallery re-projects every identity from its raw appearance.
 */
import { normalised, normaliseInPlace } from '../core/vectors.js';
import type { ResidualAdapter } from '../adapt/residual-adapter.js';
import type { CameraCentring } from './camera-centring.js';

export interface FeatureSpaceOptions {
  centring: CameraCentring;
  /** New offsets are published once some camera's mean has moved this far (L2) from the published one. */
  republishDistance: number;
}

/** The weighted sum of raw embeddings behind an identity's prototype. */
export interface RawAppearance {
  sum: Float32Array;
  /** Weight of each camera's embeddings in `sum`. */
  weights: Readonly<Record<string, number>>;
}

/** What the gallery and the matcher need of the matching space. */
export interface MatchingSpace {
  /** Changes whenever projections change. */
  readonly version: number;
  /** Changes when the adapter is swapped (every projection changes, not only offsets). */
  readonly adapterVersion: number;
  /** Whether decisions can trust the space (camera statistics warmed up). */
  readonly ready: boolean;
  /** Unit vector of a raw embedding seen by `cameraId`. */
  project(cameraId: string, raw: Float32Array): Float32Array;
  /**
   * The (unnormalised) projection of a raw appearance, with the offsets `offsetOf` gives (by
   * default this version's): the gallery passes the offsets its index was projected with.
   */
  projectAppearance(appearance: RawAppearance, offsetOf?: (cameraId: string) => Float32Array | undefined): Float32Array;
  /** The offset subtracted for a camera's embeddings in this version (undefined: none). */
  offset(cameraId: string): Float32Array | undefined;
  /** The adapter's linear map alone (no centring, no normalisation), in place; identity without one. */
  adapt(vector: Float32Array): Float32Array;
  /** Learns from one ended track's raw embedding (the matcher calls it inside the decision's transaction). */
  observe(cameraId: string, raw: Float32Array): void;
}

/** The raw space: no projection at all (centring off, tools that only need raw vectors). */
export const RAW_SPACE: MatchingSpace = {
  version: 0,
  adapterVersion: 0,
  ready: true,
  project: (_cameraId, raw) => normalised(raw),
  projectAppearance: (appearance) => Float32Array.from(appearance.sum),
  offset: () => undefined,
  adapt: (vector) => vector,
  observe: () => undefined,
};

export class FeatureSpace implements MatchingSpace {
  private published = new Map<string, Float32Array>();
  private publishedSite: Float32Array | undefined;
  private currentVersion = 0;
  private currentAdapter: ResidualAdapter | undefined;
  private currentAdapterVersion = 0;

  constructor(private readonly options: FeatureSpaceOptions) {
    this.publish();
  }

  get version(): number {
    return this.currentVersion;
  }

  get ready(): boolean {
    return this.options.centring.ready;
  }

  get adapterVersion(): number {
    return this.currentAdapterVersion;
  }

  /** Swaps the adapter (undefined: none); queries and the gallery see the new one from the next refresh. */
  useAdapter(adapter: ResidualAdapter | undefined): void {
    this.currentAdapter = adapter;
    this.currentAdapterVersion += 1;
    this.currentVersion += 1;
  }

  adapt(vector: Float32Array): Float32Array {
    // An adapter trained for another model's embeddings (the re-ID model was changed) does not
    // apply: the embedding passes as it is until a run trains one for the new model.
    if (this.currentAdapter === undefined || vector.length !== this.currentAdapter.dimension) return vector;
    return this.currentAdapter.apply(vector, vector);
  }

  /** Records one ended track's raw embedding; publishes new offsets when the means have moved enough. */
  observe(cameraId: string, raw: Float32Array): void {
    const { centring } = this.options;
    if (!centring.enabled) return;
    centring.observe(cameraId, raw);
    const moved = (current: Float32Array | undefined, published: Float32Array | undefined) =>
      current !== undefined && (published === undefined || distance(current, published) > this.options.republishDistance);
    const site = centring.siteMean();
    if (moved(site, this.publishedSite) || centring.cameras().some((id) => moved(centring.meanOf(id), this.published.get(id)))) this.publish();
  }

  offset(cameraId: string): Float32Array | undefined {
    return this.published.get(cameraId) ?? this.publishedSite;
  }

  project(cameraId: string, raw: Float32Array): Float32Array {
    const offset = this.offset(cameraId);
    const out = Float32Array.from(raw);
    if (offset !== undefined) for (let i = 0; i < out.length; i++) out[i]! -= offset[i]!;
    return normaliseInPlace(this.adapt(out));
  }

  projectAppearance(appearance: RawAppearance, offsetOf: (cameraId: string) => Float32Array | undefined = (id) => this.offset(id)): Float32Array {
    const out = Float32Array.from(appearance.sum);
    for (const [cameraId, weight] of Object.entries(appearance.weights)) {
      const offset = offsetOf(cameraId);
      if (offset !== undefined) for (let i = 0; i < out.length; i++) out[i]! -= weight * offset[i]!;
    }
    return this.adapt(out);
  }

  private publish(): void {
    const { centring } = this.options;
    this.published = new Map(centring.cameras().map((id) => [id, centring.meanOf(id)!]));
    this.publishedSite = centring.siteMean();
    this.currentVersion += 1;
  }
}

function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(sum);
}
