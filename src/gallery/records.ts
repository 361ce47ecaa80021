/**
 * What the gallery stores: identities (the cluster memory of DESIGN seed 000), sightings (one
 * per decided track) and merges, and how they are laid out in LMDB. Every vector is kept in
 * the raw re-ID space, as the model produced it, and as raw float32 bytes (host byte order;
 * every supported target is little-endian), never as JSON arrays: the matching space
 * (camera centring, features/) is applied when the gallery indexes them, so it can change
 * without rewriting a record.
 */
import type { Box } from '../core/geometry.js';
import type { ObjectClass } from '../core/types.js';
import { halfVectorBytes, vectorBytes, vectorFromBytes, vectorFromHalfBytes } from '../core/vectors.js';
import type { RawAppearance } from '../features/feature-space.js';
import type { PartEmbedding } from '../embed/part-embedding.js';

/** One side of a decision: a track on one camera, as stored in the gallery. */
export interface SightingRef {
  cameraId: string;
  trackId: number;
  objectClass: ObjectClass;
  /** Wall-clock times (ms since epoch) of the track's first and last detection. */
  firstSeenAt: number;
  lastSeenAt: number;
  /** Media time (s) and box (frame pixels) of the track's best crop. */
  pts: number;
  box: Box;
  quality: number;
}

/**
 * What was decided for a track:
 * - `new-identity`: nothing close enough, a new identity was created;
 * - `matched`: attached to an identity last seen on another camera (published on `matches`);
 * - `reappeared`: attached to an identity last seen on the same camera after a gap.
 */
export type MatchOutcome = 'new-identity' | 'matched' | 'reappeared';

/** The first decision taken for a track, kept with its sighting so that later calls for the same track refer to it. */
export interface SightingDecision {
  /** Unique id of the decision (the `matches` event id). */
  eventId: string;
  outcome: MatchOutcome;
  /** For matched/reappeared: the identity's earlier sighting that the track matched (absent on a first watch-list hit). */
  matched?: SightingRef;
  /** Set when the identity is on the operator's watch list: its label. */
  watchlistLabel?: string;
  /** The matcher's score of the chosen identity (matched/reappeared). */
  similarity?: number;
  /** Lead over the runner-up, or over the threshold when that is higher. */
  margin?: number;
  /** Identities the track was compared with (after class, time-window and topology filters). */
  candidates: number;
  /** 1 − normalised entropy of the softmax over candidate scores, in [0,1]. */
  confidence?: number;
  /** High-confidence decisions move the identity's prototype; low-confidence ones do not. */
  highConfidence?: boolean;
  /** Wall-clock time of the decision (ms since epoch). */
  decidedAt: number;
}

/** A stored view of an identity: one track's raw embedding with the quality of its best crop. */
export interface Exemplar {
  embedding: Float32Array;
  /** Camera that saw it (its offset is subtracted when projected); '' for an enrolment image. */
  cameraId: string;
  quality: number;
  /** Wall-clock end of the track it came from (ms since epoch). */
  at: number;
}

export interface IdentityRecord {
  /** Readable and stable, e.g. `person-000042`. */
  id: string;
  objectClass: ObjectClass;
  /**
   * The identity's centroid in the raw space: momentum-weighted sum of its tracks' embeddings
   * (unit length) and each camera's weight in it. Its projection is the matching prototype.
   */
  appearance: RawAppearance;
  /** Diverse views (see withExemplar), best kept when there are more than the gallery keeps. */
  exemplars: Exemplar[];
  /** From a part model: the identity's parts and their visibility (momentum per part, src/embed/part-embedding.ts). */
  parts?: PartEmbedding;
  /** Sightings attached over the identity's life (kept when retention drops old sightings). */
  count: number;
  createdAt: number;
  /** Absent for a watch-list identity that no camera has seen yet. */
  firstSeenAt?: number;
  lastSeenAt?: number;
  /** Latest sighting per camera id. */
  cameras: Record<string, SightingRef>;
  /** Operator's name for a watch-list identity. */
  label?: string;
  /** Enrolled by an operator: never expires and is a candidate for every track of its class. */
  watchlist: boolean;
}

/** An identity without its vectors (what the in-memory index keeps per identity), with its cameras' weights. */
export type IdentitySummary = Omit<IdentityRecord, 'appearance' | 'exemplars' | 'parts'> & { appearanceWeights: RawAppearance['weights'] };

export interface SightingRecord extends SightingRef {
  identityId: string;
  /** The track embedding (raw, unit length). */
  embedding: Float32Array;
  decision: SightingDecision;
}

/** Identities found to be one and merged into the one kept. */
export interface IdentityMerge {
  objectClass: ObjectClass;
  /** Surviving id: the watch-list identity if one is in the group, else the oldest. */
  kept: string;
  /** Ids merged into it (now gone). */
  merged: string[];
  /** The evidence: matching-space similarity of the merged prototypes (the lowest link for a group). */
  similarity: number;
  /** `online`: a decision showed the identities are one; `scheduled`: re-clustering. */
  reason: 'online' | 'scheduled';
  /** Sightings moved to the kept identity. */
  movedSightings: number;
  /** Wall-clock time of the merge (ms since epoch). */
  at: number;
}

/** Which live track a sighting belongs to: track ids restart with the daemon, the start time does not. */
export interface TrackKey {
  cameraId: string;
  trackId: number;
  firstSeenAt: number;
}

// ---- LMDB layout: named databases of the shared state environment and their keys

export const DB_NAMES = {
  identities: 'gallery-identities',
  /** Key [lastSeenAt, cameraId, trackId]: retention by age is a range scan from the start. */
  sightings: 'gallery-sightings',
  /** Key [cameraId, trackId, firstSeenAt] → sightings key. */
  sightingsByTrack: 'gallery-sightings-by-track',
  /** Key [identityId, lastSeenAt, cameraId, trackId] (identity id + sightings key) → 1. */
  sightingsByIdentity: 'gallery-sightings-by-identity',
  /** Key [at, kept]: the merge log, oldest first. */
  merges: 'gallery-merges',
  /** Id counters per class and the write generation. */
  meta: 'gallery-meta',
} as const;

export type SightingKey = [lastSeenAt: number, cameraId: string, trackId: number];

export function sightingKey(sighting: SightingRef): SightingKey {
  return [sighting.lastSeenAt, sighting.cameraId, sighting.trackId];
}

/** A track key as one string, `<camera>-<track>-<first seen ms>` (file names, URLs). */
export const trackKeyId = (track: TrackKey): string => `${track.cameraId}-${track.trackId}-${track.firstSeenAt}`;

export function trackKeyOf(sighting: TrackKey): [string, number, number] {
  return [sighting.cameraId, sighting.trackId, sighting.firstSeenAt];
}

/** When and where a track was seen: what the co-occurrence checks read. */
export type SightingSpan = Pick<SightingRef, 'cameraId' | 'trackId' | 'firstSeenAt' | 'lastSeenAt'>;

/**
 * The value beside an identity's sighting key: the rest of its span, so that co-occurrence
 * checks read this small index and decode no sighting record. 1: written before 2026-12-07,
 * when the value carried nothing.
 */
export type IdentitySightingEntry = { firstSeenAt: number } | 1;

export function identitySightingKey(identityId: string, sighting: SightingRef): [string, ...SightingKey] {
  return [identityId, ...sightingKey(sighting)];
}

/** Range bounds covering every key that starts with `prefix` (strings sort after numbers in ordered-binary). */
export function prefixRange(prefix: string): { start: [string]; end: [string, string] } {
  return { start: [prefix], end: [prefix, '\uffff'] };
}

export function sameTrack(a: TrackKey, b: TrackKey): boolean {
  return a.cameraId === b.cameraId && a.trackId === b.trackId && a.firstSeenAt === b.firstSeenAt;
}

// ---- value encoding: the same objects with vectors as bytes

export interface StoredIdentity extends Omit<IdentityRecord, 'appearance' | 'exemplars' | 'parts'> {
  appearance?: { sum: Uint8Array; weights: Record<string, number> };
  exemplars: { embedding: Uint8Array; cameraId?: string; quality: number; at: number }[];
  parts?: { features: Uint8Array; visibility: Uint8Array };
  /** Galleries written before appearances were kept raw (0.1): the prototype, taken as the appearance. */
  prototype?: Uint8Array;
}
export interface StoredSighting extends Omit<SightingRecord, 'embedding'> {
  embedding: Uint8Array;
  /**
   * The embedding is in half precision (halfVectorBytes): a sighting's embedding is only
   * exported, and so the record fits in a page. Absent: float32, as written before 2026-12-07.
   */
  half?: true;
}

export function encodeIdentity(record: IdentityRecord): StoredIdentity {
  const { parts, ...rest } = record;
  return {
    ...rest,
    appearance: { sum: vectorBytes(rest.appearance.sum), weights: rest.appearance.weights },
    exemplars: rest.exemplars.map((exemplar) => ({ ...exemplar, embedding: vectorBytes(exemplar.embedding) })),
    ...(parts ? { parts: { features: vectorBytes(parts.features), visibility: vectorBytes(parts.visibility) } } : {}),
  };
}

export function decodeIdentity(stored: StoredIdentity): IdentityRecord {
  const { prototype, appearance, parts, ...rest } = stored;
  const sum = appearance ? vectorFromBytes(appearance.sum) : vectorFromBytes(prototype!);
  return {
    ...rest,
    appearance: { sum, weights: appearance?.weights ?? {} },
    ...(parts ? { parts: { features: vectorFromBytes(parts.features), visibility: vectorFromBytes(parts.visibility) } } : {}),
    exemplars: stored.exemplars.map((exemplar) => ({ ...exemplar, cameraId: exemplar.cameraId ?? '', embedding: vectorFromBytes(exemplar.embedding) })),
  };
}

export function encodeSighting(record: SightingRecord): StoredSighting {
  return { ...record, embedding: halfVectorBytes(record.embedding), half: true };
}

export function decodeSighting(stored: StoredSighting): SightingRecord {
  const { half, ...rest } = stored;
  return { ...rest, embedding: half ? vectorFromHalfBytes(stored.embedding) : vectorFromBytes(stored.embedding) };
}

export function summaryOf(record: IdentityRecord): IdentitySummary {
  const { appearance, exemplars: _exemplars, parts: _parts, ...summary } = record;
  return { ...summary, appearanceWeights: appearance.weights };
}

// ---- the cluster memory's maths (DESIGN seed 000)

/** A raw appearance made of one unit embedding seen by one camera. */
export function singleAppearance(embedding: Float32Array, cameraId: string): RawAppearance {
  return { sum: Float32Array.from(embedding), weights: { [cameraId]: 1 } };
}

/**
 * The momentum update c ← m·c + (1−m)·f (renormalised) applied to the raw appearance: the
 * sum and the camera weights are scaled together, so that the projected prototype is the
 * same update seen in the matching space.
 */
export function momentumAppearance(appearance: RawAppearance, embedding: Float32Array, cameraId: string, momentum: number): RawAppearance {
  const { sum } = appearance;
  if (sum.length !== embedding.length) throw new RangeError(`appearance has ${sum.length} dimensions, embedding ${embedding.length}`);
  const next = new Float32Array(sum.length);
  for (let i = 0; i < next.length; i++) next[i] = momentum * sum[i]! + (1 - momentum) * embedding[i]!;
  const weights: Record<string, number> = {};
  for (const [id, weight] of Object.entries(appearance.weights)) weights[id] = momentum * weight;
  weights[cameraId] = (weights[cameraId] ?? 0) + (1 - momentum);
  return scaledToUnit({ sum: next, weights });
}

/** Count-weighted union of appearances (every identity weighs at least 1), renormalised. */
export function mergedAppearance(parts: readonly { appearance: RawAppearance; count: number }[]): RawAppearance {
  const sum = new Float32Array(parts[0]!.appearance.sum.length);
  const weights: Record<string, number> = {};
  for (const { appearance, count } of parts) {
    const w = Math.max(1, count);
    for (let i = 0; i < sum.length; i++) sum[i]! += w * appearance.sum[i]!;
    for (const [id, weight] of Object.entries(appearance.weights)) weights[id] = (weights[id] ?? 0) + w * weight;
  }
  return scaledToUnit({ sum, weights });
}

function scaledToUnit(appearance: { sum: Float32Array; weights: Record<string, number> }): RawAppearance {
  let norm = 0;
  for (const v of appearance.sum) norm += v * v;
  norm = Math.sqrt(norm);
  if (norm === 0) return appearance;
  for (let i = 0; i < appearance.sum.length; i++) appearance.sum[i]! /= norm;
  for (const id of Object.keys(appearance.weights)) appearance.weights[id]! /= norm;
  return appearance;
}

/**
 * Adds a view, keeping at most `max` diverse ones: when there are too many, of the two most
 * similar views the lower-quality one (the older among equals) goes, so the set spreads over
 * the identity's looks instead of holding `max` copies of its best one. Returns a new array.
 */
export function withExemplar(exemplars: readonly Exemplar[], exemplar: Exemplar, max: number): Exemplar[] {
  return diverseExemplars([...exemplars, exemplar], max);
}

/** Drops the most redundant views until `max` remain (see withExemplar). */
export function diverseExemplars(exemplars: readonly Exemplar[], max: number): Exemplar[] {
  const kept = [...exemplars];
  while (kept.length > max) {
    let worst = { i: 0, j: 1, similarity: -Infinity };
    for (let i = 0; i < kept.length; i++) {
      for (let j = i + 1; j < kept.length; j++) {
        let similarity = 0;
        const a = kept[i]!.embedding;
        const b = kept[j]!.embedding;
        for (let k = 0; k < a.length; k++) similarity += a[k]! * b[k]!;
        if (similarity > worst.similarity) worst = { i, j, similarity };
      }
    }
    const [a, b] = [kept[worst.i]!, kept[worst.j]!];
    const dropB = b.quality < a.quality || (b.quality === a.quality && b.at < a.at);
    kept.splice(dropB ? worst.j : worst.i, 1);
  }
  return kept;
}
