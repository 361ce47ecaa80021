/**
 * What the gallery stores: identities (the cluster memory of DESIGN seed 000) and
 * sightings (one per decided track), and how they are laid out in LMDB. Vectors are
 * kept as raw float32 bytes (host byte order; every supported target is little-endian),
 * never as JSON arrays.
 */
import type { ObjectClass } from '../core/types.js';
import type { MatchDecision, SightingRef } from '../match/decision.js';

/** A stored appearance of an identity: a track embedding with the quality of its best crop. */
export interface Exemplar {
  embedding: Float32Array;
  quality: number;
  /** Wall-clock end of the track it came from (ms since epoch); newer wins among equals. */
  at: number;
}

export interface IdentityRecord {
  /** Readable and stable, e.g. `person-000042`. */
  id: string;
  objectClass: ObjectClass;
  /** Unit-length centroid of the identity's appearances. */
  prototype: Float32Array;
  exemplars: Exemplar[];
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

/** An identity without its vectors: what the in-memory index keeps per identity. */
export type IdentitySummary = Omit<IdentityRecord, 'prototype' | 'exemplars'>;

/** The first decision taken for a track, kept so that later calls for the same track can refer to it. */
export type StoredDecision = Omit<MatchDecision, 'sighting' | 'identityId' | 'objectClass' | 'updateOf'>;

export interface SightingRecord extends SightingRef {
  identityId: string;
  /** The track embedding (unit length). */
  embedding: Float32Array;
  decision: StoredDecision;
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
  /** Id counters per class and the write generation. */
  meta: 'gallery-meta',
} as const;

export type SightingKey = [lastSeenAt: number, cameraId: string, trackId: number];

export function sightingKey(sighting: SightingRef): SightingKey {
  return [sighting.lastSeenAt, sighting.cameraId, sighting.trackId];
}

export function trackKeyOf(sighting: TrackKey): [string, number, number] {
  return [sighting.cameraId, sighting.trackId, sighting.firstSeenAt];
}

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

type Stored<T> = Omit<T, 'embedding' | 'prototype' | 'exemplars'>;
export interface StoredIdentity extends Stored<IdentityRecord> {
  prototype: Uint8Array;
  exemplars: { embedding: Uint8Array; quality: number; at: number }[];
}
export interface StoredSighting extends Stored<SightingRecord> {
  embedding: Uint8Array;
}

/** A byte view of the vector (msgpack copies it when encoding). */
export function vectorBytes(vector: Float32Array): Uint8Array {
  return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** A fresh, aligned Float32Array from stored bytes (the decoder's buffer may be shared or unaligned). */
export function vectorFromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`stored vector has ${bytes.byteLength} bytes, not a multiple of 4`);
  const vector = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(vector.buffer).set(bytes);
  return vector;
}

export function encodeIdentity(record: IdentityRecord): StoredIdentity {
  return {
    ...record,
    prototype: vectorBytes(record.prototype),
    exemplars: record.exemplars.map((exemplar) => ({ ...exemplar, embedding: vectorBytes(exemplar.embedding) })),
  };
}

export function decodeIdentity(stored: StoredIdentity): IdentityRecord {
  return {
    ...stored,
    prototype: vectorFromBytes(stored.prototype),
    exemplars: stored.exemplars.map((exemplar) => ({ ...exemplar, embedding: vectorFromBytes(exemplar.embedding) })),
  };
}

export function encodeSighting(record: SightingRecord): StoredSighting {
  return { ...record, embedding: vectorBytes(record.embedding) };
}

export function decodeSighting(stored: StoredSighting): SightingRecord {
  return { ...stored, embedding: vectorFromBytes(stored.embedding) };
}

export function summaryOf(record: IdentityRecord): IdentitySummary {
  const { prototype: _prototype, exemplars: _exemplars, ...summary } = record;
  return summary;
}

/**
 * Adds an exemplar, keeping at most `max`: the best by quality, the most recent among
 * equals. Returns a new array; the input is not changed.
 */
export function withExemplar(exemplars: readonly Exemplar[], exemplar: Exemplar, max: number): Exemplar[] {
  return bestExemplars([...exemplars, exemplar], max);
}

/** The `max` best exemplars (quality first, then recency), best first. */
export function bestExemplars(exemplars: readonly Exemplar[], max: number): Exemplar[] {
  return [...exemplars].sort((a, b) => b.quality - a.quality || b.at - a.at).slice(0, max);
}
