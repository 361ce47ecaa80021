/**
 * Camera colour normalisation: each camera renders colours its own way (white balance,
 * gamma, saturation, exposure), and a re-ID network trained elsewhere reads those differences
 * as differences between people. The people a camera sees are, over time, the same population
 * as its neighbours see, so the colour distribution of the pixels inside its person crops is
 * the camera's signature: each camera's distribution is mapped onto the site's (the mean of
 * the cameras' distributions), per channel, by a 256-entry table the crop graph applies before
 * the re-ID network (embed/crop-preprocess.ts).
 *
 * - `histogram`: histogram matching, table_c(v) = F_site⁻¹(F_c(v)), with F the cumulative
 *   distributions (mid-level, inverse interpolated linearly);
 * - `affine`: per-channel mean and deviation, table_c(v) = μ_site + (v − μ_c)·σ_site/σ_c.
 *
 * A camera's table moves from the identity to its mapping as its crops come in,
 * v + w·(table_c(v) − v) with w = n/(n + warmup_crops), and the site's distribution is formed
 * by the cameras past their warm-up, so a single camera, or a site that has not seen enough
 * people yet, keeps its colours. After `window_crops` crops a camera's distribution follows
 * changes exponentially (day and night). Distributions are sampled on a grid of points in
 * each crop (cheap, and a crop weighs the same at any size) and kept in LMDB, so a restart
 * keeps them.
 */
import { clipBox, type Box } from '../core/geometry.js';
import { openDatabase, type Database, type RootDatabase } from '../core/state-store.js';
import type { Frame } from '../core/types.js';
import { COLOUR_TABLE_SIZE } from '../embed/crop-preprocess.js';

export type ColourMethod = 'histogram' | 'affine';

export interface CameraColourOptions {
  store: RootDatabase;
  method: ColourMethod;
  /** Crops after which a camera's mapping weighs as much as the identity; cameras past it form the site's distribution. */
  warmupCrops: number;
  /** A camera's distribution becomes an exponential mean (rate 1/window) after this many crops. */
  windowCrops: number;
}

/** What a camera pipeline needs: the table for its crops, and its crops' colours to learn from. */
export type ColourNormaliser = Pick<CameraColour, 'table' | 'observe'>;

/** Sample points per crop: a COLUMNS × ROWS grid (people are tall). */
const GRID_COLUMNS = 8;
const GRID_ROWS = 16;
/** Margins of the box left out of the samples (fractions of its width and height): mostly background. */
const INNER = { x: 0.3, y: 0.15 };
/** Boxes smaller than this (pixels) are mostly background and blur: not sampled. */
const MIN_BOX_HEIGHT = 48;
/** Tables are recomputed after this many observed crops (of any camera), not at every crop. */
const REFRESH_CROPS = 20;

interface CameraDistribution {
  crops: number;
  /** Per channel, the share of samples at each level (each channel sums to 1). */
  histogram: Float64Array;
}

/** One camera's learnt distribution as stored (and as `crosscam eval crosscam` saves it). */
export interface StoredDistribution {
  crops: number;
  histogram: number[];
}

export class CameraColour {
  private readonly db: Database<StoredDistribution, string>;
  private readonly cameras = new Map<string, CameraDistribution>();
  private tables = new Map<string, Float32Array>();
  private readonly sample = new Float64Array(COLOUR_TABLE_SIZE);
  private sinceRefresh = 0;

  constructor(private readonly options: CameraColourOptions) {
    this.db = openDatabase(options.store, { name: 'colour-distributions' });
    for (const { key, value } of this.db.getRange()) {
      if (value.histogram.length === COLOUR_TABLE_SIZE) this.cameras.set(key, { crops: value.crops, histogram: Float64Array.from(value.histogram) });
    }
    this.refresh();
  }

  /** The camera's colour table (COLOUR_TABLE_SIZE levels, R, G, B); undefined while it is the identity. Replaced, never changed in place. */
  table(cameraId: string): Float32Array | undefined {
    return this.tables.get(cameraId);
  }

  /** Every camera's distribution, as stored. */
  snapshot(): Record<string, StoredDistribution> {
    return Object.fromEntries([...this.cameras].map(([cameraId, camera]) => [cameraId, { crops: camera.crops, histogram: Array.from(camera.histogram) }]));
  }

  /** Starts from distributions learnt elsewhere (an earlier run over the same cameras). */
  restore(snapshot: Record<string, StoredDistribution>): void {
    for (const [cameraId, stored] of Object.entries(snapshot)) {
      if (stored.histogram.length === COLOUR_TABLE_SIZE) this.cameras.set(cameraId, { crops: stored.crops, histogram: Float64Array.from(stored.histogram) });
    }
    this.refresh();
    this.persist();
  }

  /** Crops a camera has contributed. */
  crops(cameraId: string): number {
    return this.cameras.get(cameraId)?.crops ?? 0;
  }

  /** Learns from the colours inside `boxes` (person crops of one frame, frame pixels, packed RGB). */
  observe(cameraId: string, frame: Pick<Frame, 'width' | 'height' | 'data'>, boxes: readonly Box[]): void {
    let camera = this.cameras.get(cameraId);
    for (const box of boxes) {
      if (!this.sampleCrop(frame, box)) continue;
      if (!camera) this.cameras.set(cameraId, (camera = { crops: 0, histogram: new Float64Array(COLOUR_TABLE_SIZE) }));
      camera.crops += 1;
      const rate = 1 / Math.min(camera.crops, this.options.windowCrops);
      for (let i = 0; i < COLOUR_TABLE_SIZE; i++) camera.histogram[i]! += (this.sample[i]! - camera.histogram[i]!) * rate;
      this.sinceRefresh += 1;
    }
    if (this.sinceRefresh >= REFRESH_CROPS) {
      this.refresh();
      this.persist();
    } else if (this.tables.size === 0 && this.sinceRefresh > 0) {
      // Until the tables exist, every crop may be the one that brings them.
      this.refresh();
    }
  }

  /** The grid samples of one crop as per-channel shares in `this.sample`; false for a box with no pixels. */
  private sampleCrop(frame: Pick<Frame, 'width' | 'height' | 'data'>, box: Box): boolean {
    const clipped = clipBox(box, frame.width, frame.height);
    // The person's body, not the background around it: the middle of the box.
    const cw = clipped.x2 - clipped.x1;
    const ch = clipped.y2 - clipped.y1;
    const b = { x1: clipped.x1 + INNER.x * cw, x2: clipped.x2 - INNER.x * cw, y1: clipped.y1 + INNER.y * ch, y2: clipped.y2 - INNER.y * ch };
    const width = b.x2 - b.x1;
    const height = b.y2 - b.y1;
    if (!(width >= 1 && height >= 1) || ch < MIN_BOX_HEIGHT) return false;
    this.sample.fill(0);
    const share = 1 / (GRID_COLUMNS * GRID_ROWS);
    const { data } = frame;
    for (let row = 0; row < GRID_ROWS; row++) {
      const y = Math.min(frame.height - 1, Math.floor(b.y1 + ((row + 0.5) * height) / GRID_ROWS));
      for (let column = 0; column < GRID_COLUMNS; column++) {
        const x = Math.min(frame.width - 1, Math.floor(b.x1 + ((column + 0.5) * width) / GRID_COLUMNS));
        const at = (y * frame.width + x) * 3;
        this.sample[data[at]!]! += share;
        this.sample[256 + data[at + 1]!]! += share;
        this.sample[512 + data[at + 2]!]! += share;
      }
    }
    return true;
  }

  /** Recomputes every camera's table against the site's distribution of the moment. */
  private refresh(): void {
    const settled = [...this.cameras.values()].filter((camera) => camera.crops >= this.options.warmupCrops);
    const tables = new Map<string, Float32Array>();
    if (settled.length >= 2) {
      const site = new Float64Array(COLOUR_TABLE_SIZE);
      for (const camera of settled) for (let i = 0; i < COLOUR_TABLE_SIZE; i++) site[i]! += camera.histogram[i]! / settled.length;
      for (const [cameraId, camera] of this.cameras) {
        const weight = camera.crops / (camera.crops + this.options.warmupCrops);
        tables.set(cameraId, colourTable(camera.histogram, site, this.options.method, weight));
      }
    }
    this.tables = tables;
  }

  private persist(): void {
    this.sinceRefresh = 0;
    for (const [cameraId, camera] of this.cameras) void this.db.put(cameraId, { crops: camera.crops, histogram: Array.from(camera.histogram) });
  }
}

/**
 * The table mapping a camera's per-channel distribution onto the site's, blended with the
 * identity: v + weight·(mapping(v) − v). Both distributions hold 256 shares per channel.
 */
export function colourTable(camera: Float64Array, site: Float64Array, method: ColourMethod, weight: number): Float32Array {
  const table = new Float32Array(COLOUR_TABLE_SIZE);
  for (let channel = 0; channel < 3; channel++) {
    const from = camera.subarray(channel * 256, channel * 256 + 256);
    const to = site.subarray(channel * 256, channel * 256 + 256);
    const mapping = method === 'histogram' ? matchHistogram(from, to) : matchMoments(from, to);
    for (let v = 0; v < 256; v++) table[channel * 256 + v] = v + weight * (mapping[v]! - v);
  }
  return table;
}

/** F_to⁻¹(F_from(v)) per level, with mid-level cumulative shares and a linear inverse. */
export function matchHistogram(from: Float64Array, to: Float64Array): Float64Array {
  const fromTotal = from.reduce((a, b) => a + b, 0);
  const toTotal = to.reduce((a, b) => a + b, 0);
  const mapping = new Float64Array(256);
  if (!(fromTotal > 0 && toTotal > 0)) {
    for (let v = 0; v < 256; v++) mapping[v] = v;
    return mapping;
  }
  // The target's cumulative share at each level's middle, non-decreasing.
  const targetAt = new Float64Array(256);
  let below = 0;
  for (let u = 0; u < 256; u++) {
    targetAt[u] = (below + to[u]! / 2) / toTotal;
    below += to[u]!;
  }
  let seen = 0;
  let u = 0;
  for (let v = 0; v < 256; v++) {
    const quantile = (seen + from[v]! / 2) / fromTotal;
    seen += from[v]!;
    while (u < 255 && targetAt[u + 1]! < quantile) u++;
    if (quantile <= targetAt[0]!) mapping[v] = 0;
    else if (u >= 255) mapping[v] = 255;
    else {
      const span = targetAt[u + 1]! - targetAt[u]!;
      mapping[v] = span > 0 ? u + (quantile - targetAt[u]!) / span : u;
    }
  }
  return mapping;
}

/** μ_to + (v − μ_from)·σ_to/σ_from per level, clamped to 0..255. */
export function matchMoments(from: Float64Array, to: Float64Array): Float64Array {
  const [fromMean, fromDeviation] = moments(from);
  const [toMean, toDeviation] = moments(to);
  const gain = fromDeviation > 0 ? toDeviation / fromDeviation : 1;
  const mapping = new Float64Array(256);
  for (let v = 0; v < 256; v++) mapping[v] = Math.min(255, Math.max(0, toMean + (v - fromMean) * gain));
  return mapping;
}

function moments(shares: Float64Array): [number, number] {
  let total = 0;
  let sum = 0;
  for (let v = 0; v < 256; v++) {
    total += shares[v]!;
    sum += v * shares[v]!;
  }
  if (!(total > 0)) return [127.5, 0];
  const mean = sum / total;
  let squares = 0;
  for (let v = 0; v < 256; v++) squares += (v - mean) ** 2 * shares[v]!;
  return [mean, Math.sqrt(squares / total)];
}

/** The daemon's colour normalisation from its config section; undefined when it is off. */
export function openCameraColour(
  settings: { enabled: boolean; method: ColourMethod; warmup_crops: number; window_crops: number },
  store: RootDatabase,
): CameraColour | undefined {
  if (!settings.enabled) return undefined;
  return new CameraColour({ store, method: settings.method, warmupCrops: settings.warmup_crops, windowCrops: settings.window_crops });
}
