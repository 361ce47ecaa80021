/**
 * Query/gallery split for re-ID ranking on a MOT ground truth, so that query and
 * gallery crops of one identity are far apart in time:
 *   - frames f with f mod step = 1 mod step are sampled (MOT frames are 1-based);
 *   - ground-truth rows with consider flag 0 are ignored, the rest are clipped to the
 *     frame and kept when the ground-truth box is at least minHeight px tall;
 *   - per identity, span = [first, last] frame of its kept samples;
 *   - an identity with at least minSamples samples has one query: of its samples with
 *     frame ≤ first + queryFraction·(last − first), sorted by frame, the one at index
 *     floor(n/2);
 *   - the gallery holds, for every identity (with or without a query), each sample with
 *     frame ≥ first + galleryFromFraction·(last − first).
 * With queryFraction < galleryFromFraction, query and gallery are disjoint.
 */
import { boxHeight, clipBox, type Box } from '../core/geometry.js';
import type { MotRecord } from './mot-ground-truth.js';

export interface ReidSample {
  /** 1-based MOT frame number. */
  frame: number;
  identity: number;
  box: Box;
}

export interface ReidProtocolOptions {
  step: number;
  frameWidth: number;
  frameHeight: number;
  /** Default 50 px. */
  minHeight?: number;
  /** Default 4. */
  minSamples?: number;
  /** Default 0.3. */
  queryFraction?: number;
  /** Default 0.5. */
  galleryFromFraction?: number;
}

export interface ReidSplit {
  queries: ReidSample[];
  gallery: ReidSample[];
}

export function selectReidSamples(records: readonly MotRecord[], options: ReidProtocolOptions): ReidSplit {
  const { step, minHeight = 50, minSamples = 4, queryFraction = 0.3, galleryFromFraction = 0.5 } = options;
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`step must be a positive integer, got ${step}`);
  const byIdentity = new Map<number, ReidSample[]>();
  for (const r of records) {
    if (!r.consider || (r.frame - 1) % step !== 0 || boxHeight(r.box) < minHeight) continue;
    let samples = byIdentity.get(r.id);
    if (!samples) byIdentity.set(r.id, (samples = []));
    samples.push({ frame: r.frame, identity: r.id, box: clipBox(r.box, options.frameWidth, options.frameHeight) });
  }
  const queries: ReidSample[] = [];
  const gallery: ReidSample[] = [];
  for (const identity of [...byIdentity.keys()].sort((a, b) => a - b)) {
    const samples = byIdentity.get(identity)!.sort((a, b) => a.frame - b.frame);
    const first = samples[0]!.frame;
    const span = samples.at(-1)!.frame - first;
    if (samples.length >= minSamples) {
      const early = samples.filter((s) => s.frame <= first + queryFraction * span);
      queries.push(early[Math.floor(early.length / 2)]!);
    }
    gallery.push(...samples.filter((s) => s.frame >= first + galleryFromFraction * span));
  }
  return { queries, gallery };
}

/** Samples grouped by frame, in frame order, so one pass over the video embeds them all. */
export function samplesByFrame(split: ReidSplit): Map<number, { sample: ReidSample; role: 'query' | 'gallery' }[]> {
  const byFrame = new Map<number, { sample: ReidSample; role: 'query' | 'gallery' }[]>();
  const add = (sample: ReidSample, role: 'query' | 'gallery') => {
    let list = byFrame.get(sample.frame);
    if (!list) byFrame.set(sample.frame, (list = []));
    list.push({ sample, role });
  };
  split.queries.forEach((s) => add(s, 'query'));
  split.gallery.forEach((s) => add(s, 'gallery'));
  return new Map([...byFrame.entries()].sort((a, b) => a[0] - b[0]));
}
