/**
 * The adaptation's training data: every ended track with an embedding, as the camera pipeline
 * gave it (camera, time span, raw embedding and the embeddings of its two halves), kept in
 * LMDB in time order so the nightly run trains on the site's recent tracks. No labels, no
 * identities: only what the cameras saw. The oldest are dropped beyond `maxTracks` (checked every
 * TRIM_EVERY records, so a busy day cannot grow the log past its bound until the night's run).
 */
import { openDatabase, type Database, type RootDatabase } from '../core/state-store.js';
import { halfVectorBytes, vectorFromBytes, vectorFromHalfBytes } from '../core/vectors.js';
import type { AdaptationTrack } from './trainer.js';

/** An ended track as the bus's track events carry it. */
export interface EndedTrackEvent {
  type: string;
  sighting: { cameraId: string; trackId: number; objectClass: string; firstSeenAt: number; lastSeenAt: number };
  embedding?: Float32Array;
  halves?: [Float32Array, Float32Array];
}

interface StoredTrack {
  key: string;
  cameraId: string;
  startMs: number;
  endMs: number;
  embedding: Uint8Array;
  halves?: [Uint8Array, Uint8Array];
  /**
   * Vectors in half precision (halfVectorBytes): a track's three then take one 4 KiB overflow
   * page instead of two. Absent: float32, as written before 2026-12-07.
   */
  half?: true;
}

/** Records between two trims. */
const TRIM_EVERY = 100;

export class AdaptationTrackLog {
  private readonly db: Database<StoredTrack, [number, string]>;
  private recorded = 0;

  constructor(private readonly options: { store: RootDatabase; maxTracks: number; objectClass: string }) {
    this.db = openDatabase(options.store, { name: 'adapt-tracks' });
  }

  /** Keeps an ended track of the adapted class (other events are ignored); resolves once committed. */
  async record(event: EndedTrackEvent): Promise<void> {
    const { sighting, embedding, halves } = event;
    if (event.type !== 'end' || embedding === undefined || sighting.objectClass !== this.options.objectClass) return;
    const key = `${sighting.cameraId}#${sighting.trackId}@${sighting.firstSeenAt}`;
    await this.db.put([sighting.lastSeenAt, key], {
      key,
      cameraId: sighting.cameraId,
      startMs: sighting.firstSeenAt,
      endMs: sighting.lastSeenAt,
      embedding: halfVectorBytes(embedding),
      ...(halves ? { halves: [halfVectorBytes(halves[0]), halfVectorBytes(halves[1])] as [Uint8Array, Uint8Array] } : {}),
      half: true,
    });
    if (++this.recorded % TRIM_EVERY === 0) this.trim();
  }

  get count(): number {
    return this.db.getCount();
  }

  /** Drops the oldest tracks beyond the limit; returns how many. */
  trim(): number {
    const excess = this.count - this.options.maxTracks;
    if (excess <= 0) return 0;
    let removed = 0;
    this.db.transactionSync(() => {
      for (const key of this.db.getKeys({ limit: excess })) {
        this.db.removeSync(key);
        removed += 1;
      }
    });
    return removed;
  }

  /** The most recent tracks, oldest first. */
  recent(limit = this.options.maxTracks): AdaptationTrack[] {
    const tracks: AdaptationTrack[] = [];
    for (const { value } of this.db.getRange({ reverse: true, limit })) {
      const vector = value.half ? vectorFromHalfBytes : vectorFromBytes;
      tracks.push({
        key: value.key,
        cameraId: value.cameraId,
        startMs: value.startMs,
        endMs: value.endMs,
        embedding: vector(value.embedding),
        ...(value.halves ? { halves: [vector(value.halves[0]), vector(value.halves[1])] as [Float32Array, Float32Array] } : {}),
      });
    }
    return tracks.reverse();
  }
}
