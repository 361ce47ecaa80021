/**
 * The identity gallery: identities, sightings and merges in named databases of the daemon's
 * LMDB environment (src/core/state-store.ts), with an in-memory search index per class
 * rebuilt at start and kept in step with every committed write.
 *
 * Records hold raw re-ID vectors; the index holds each identity's prototype projected into
 * the matching space (features/feature-space.ts). When the space publishes new offsets, the
 * index is re-projected from the identities' camera weights, without reading LMDB.
 *
 * Every multi-record change goes through `write`, one LMDB transaction: a crash or an
 * error leaves either all of it or none of it, and the in-memory index is only touched
 * once the transaction has committed.
 */
import { openDatabase, putNewest, type Database, type RootDatabase } from '../core/state-store.js';
import { OBJECT_CLASSES, type ObjectClass } from '../core/types.js';
import type { MatchingSpace } from '../features/feature-space.js';
import type { AnnBuildReport, AnnSettings } from '../search/ann-index.js';
import { PrototypeIndex, type SearchHit } from './prototype-index.js';
import { RecentIdentities } from './recent-identities.js';
import { spansCoOccur } from './co-occurrence.js';
import { layoutOf, mergedParts, momentumParts, type PartEmbedding } from '../embed/part-embedding.js';
import {
  DB_NAMES,
  decodeIdentity,
  decodeSighting,
  diverseExemplars,
  encodeIdentity,
  encodeSighting,
  identitySightingKey,
  mergedAppearance,
  momentumAppearance,
  prefixRange,
  sameTrack,
  singleAppearance,
  sightingKey,
  summaryOf,
  trackKeyOf,
  withExemplar,
  type IdentityMerge,
  type IdentityRecord,
  type IdentitySummary,
  type IdentitySightingEntry,
  type SightingDecision,
  type SightingKey,
  type SightingRecord,
  type SightingRef,
  type SightingSpan,
  type StoredIdentity,
  type StoredSighting,
  type TrackKey,
} from './records.js';

export interface GalleryOptions {
  /** The shared state environment; the gallery opens its own named databases in it and never closes it. */
  store: RootDatabase;
  /** Where prototypes are compared (default: the raw space). */
  space: MatchingSpace;
  /** Views kept per identity. */
  exemplarsPerIdentity: number;
  /** m in c ← m·c + (1−m)·f. */
  momentum: number;
  retention: { sightingsDays: number; identitiesDays: number };
  /** Records deleted per retention transaction (default 500). */
  retentionBatch?: number;
  /** Search of large classes (see prototype-index.ts); default: the int8 scan at any size. */
  search?: GallerySearchOptions;
}

export interface GallerySearchOptions {
  /** Identities of one class from which an HNSW graph serves its searches. */
  annFrom?: number;
  ann?: AnnSettings;
  /** Told when a class's graph has been built in the background, or could not be. */
  onAnnBuilt?: (objectClass: ObjectClass, report: AnnBuildReport) => void;
  onAnnFailed?: (objectClass: ObjectClass, error: Error) => void;
}

/** A track's sighting as the matcher hands it over: where and when, its raw embedding, what was decided. */
export interface NewSighting {
  sighting: SightingRef;
  /** Raw unit embedding of the track. */
  embedding: Float32Array;
  /** The track's parts, from a part model. */
  parts?: PartEmbedding;
  decision: SightingDecision;
}

/** Writes inside one gallery transaction; the index follows once it commits. */
export interface GalleryTransaction {
  /** The identity as stored now (sees this transaction's own writes). */
  readIdentity(id: string): IdentityRecord | undefined;
  /** A new identity made of one sighting. */
  createIdentity(first: NewSighting): IdentityRecord;
  /** A watch-list identity from an operator's image (never seen by a camera). */
  enrolIdentity(enrolment: { objectClass: ObjectClass; embedding: Float32Array; label: string; at: number }): IdentityRecord;
  /**
   * Attaches a new sighting to an identity; `learn` (a confident decision) also moves its
   * prototype by momentum and offers the embedding as a view.
   */
  attachSighting(identityId: string, next: NewSighting, options: { learn: boolean }): IdentityRecord;
  /**
   * A later decision for an already stored track: its sighting brought up to date (time span,
   * best crop, embedding). An identity the track alone makes follows its latest embedding.
   */
  updateSighting(earlier: SightingRecord, next: Omit<NewSighting, 'decision'>): IdentityRecord;
  /** Folds `others` into `keptId` (sightings moved, appearances merged) and records the merge. */
  mergeIdentities(keptId: string, others: readonly string[], evidence: { similarity: number; reason: IdentityMerge['reason']; at: number }): IdentityMerge;
  deleteIdentity(id: string): void;
  deleteSighting(record: SightingRecord): void;
}

export interface RetentionResult {
  sightings: number;
  identities: number;
  /** The tracks of the deleted sightings (their snapshots go with them). */
  removedTracks: TrackKey[];
}

export interface GalleryStats {
  classes: Partial<Record<ObjectClass, { identities: number; watchlist: number }>>;
  identities: number;
  sightings: number;
  merges: number;
  oldestSightingAt?: number;
  newestSightingAt?: number;
  /** Pages the gallery's databases occupy, in bytes. */
  usedBytes: number;
}

const DAY_MS = 86_400_000;
const GENERATION_KEY = 'generation';

export class Gallery {
  readonly exemplarsPerIdentity: number;
  private readonly identitiesDb: Database<StoredIdentity, string>;
  private readonly sightingsDb: Database<StoredSighting, SightingKey>;
  private readonly byTrackDb: Database<SightingKey, [string, number, number]>;
  private readonly byIdentityDb: Database<IdentitySightingEntry, [string, ...SightingKey]>;
  private readonly mergesDb: Database<IdentityMerge, [number, string]>;
  private readonly metaDb: Database<number, string | [string, string]>;
  private readonly summaries = new Map<string, IdentitySummary>();
  private readonly indexes = new Map<ObjectClass, PrototypeIndex>();
  private readonly recent = new Map<ObjectClass, RecentIdentities>();
  /** Write generation the in-memory index reflects (another process may write too, e.g. the CLI). */
  private generation = 0;
  /** Space version the index is projected in, and the offsets it used per camera. */
  private spaceVersion = 0;
  private adapterVersion = 0;
  private readonly offsetsUsed = new Map<string, Float32Array | undefined>();

  constructor(private readonly options: GalleryOptions) {
    const { store } = options;
    this.exemplarsPerIdentity = options.exemplarsPerIdentity;
    this.identitiesDb = openDatabase(store, { name: DB_NAMES.identities });
    this.sightingsDb = openDatabase(store, { name: DB_NAMES.sightings });
    this.byTrackDb = openDatabase(store, { name: DB_NAMES.sightingsByTrack });
    this.byIdentityDb = openDatabase(store, { name: DB_NAMES.sightingsByIdentity });
    this.mergesDb = openDatabase(store, { name: DB_NAMES.merges });
    this.metaDb = openDatabase(store, { name: DB_NAMES.meta });
    this.rebuildIndex();
  }

  get space(): MatchingSpace {
    return this.options.space;
  }

  // ---- in-memory reads (matching space)

  identity(id: string): IdentitySummary | undefined {
    return this.summaries.get(id);
  }

  /** Identities of one class (summaries, no vectors). */
  *identitiesOf(objectClass: ObjectClass): Generator<IdentitySummary> {
    const index = this.indexes.get(objectClass);
    if (index === undefined) return;
    for (const id of index.identityIds()) yield this.summaries.get(id)!;
  }

  get identityCount(): number {
    return this.summaries.size;
  }

  /** Stops background index builds (before the store closes). */
  close(): void {
    for (const index of this.indexes.values()) index.dispose();
  }

  /** Identities of one class. */
  classSize(objectClass: ObjectClass): number {
    return this.indexes.get(objectClass)?.size ?? 0;
  }

  /** Ids of a class's identities last seen at or after `since` (ms; a few earlier ones too) and its watch list. */
  recentIdentities(objectClass: ObjectClass, since: number): Iterable<string> {
    return this.recent.get(objectClass)?.since(since) ?? [];
  }

  /** Unit prototype of an identity in the matching space. */
  prototype(id: string): Float32Array | undefined {
    const summary = this.summaries.get(id);
    return summary && this.indexes.get(summary.objectClass)!.prototype(id);
  }

  similarity(id: string, query: Float32Array): number {
    return this.indexOf(id).similarity(id, query);
  }

  /** c_i of seed 002: the identity's highest prototype similarity to another identity of its class. */
  difficulty(id: string): number {
    return this.indexOf(id).difficulty(id);
  }

  /** c_i leaving out some identities (ones about to be merged with it). */
  difficultyExcluding(id: string, excluded: ReadonlySet<string>): number {
    return this.indexOf(id).difficultyExcluding(id, excluded);
  }

  /**
   * Similarity of a unit query to every identity of a class in one pass over the prototype
   * matrix: `similarities[i]` belongs to `ids[i]` (a live list, valid until the next write).
   */
  similarities(objectClass: ObjectClass, query: Float32Array): { ids: readonly string[]; similarities: Float32Array } {
    const index = this.indexes.get(objectClass);
    if (index === undefined) return { ids: [], similarities: new Float32Array(0) };
    return { ids: index.identityIds(), similarities: index.similarities(query) };
  }

  /** Exact top-k cosine search among one class's identities. */
  search(objectClass: ObjectClass, query: Float32Array, k: number): SearchHit[] {
    return this.indexes.get(objectClass)?.search(query, k) ?? [];
  }

  /** Ids and a copy of the prototype matrix of one class (row i = ids[i]), for batch work such as re-clustering. */
  snapshot(objectClass: ObjectClass): { ids: string[]; matrix: Float32Array; dimension: number } | undefined {
    const index = this.indexes.get(objectClass);
    if (index === undefined) return undefined;
    return { ids: [...index.identityIds()], matrix: index.matrixView().slice(), dimension: index.dimension };
  }

  classes(): ObjectClass[] {
    return [...this.indexes.keys()];
  }

  // ---- LMDB reads

  readIdentity(id: string): IdentityRecord | undefined {
    const stored = this.identitiesDb.get(id);
    return stored && decodeIdentity(stored);
  }

  /** An identity's views projected into the matching space (unit vectors), read from LMDB. */
  exemplarViews(id: string): Float32Array[] {
    return this.readIdentity(id)?.exemplars.map((exemplar) => this.options.space.project(exemplar.cameraId, exemplar.embedding)) ?? [];
  }

  sightingOfTrack(track: TrackKey): SightingRecord | undefined {
    const key = this.byTrackDb.get(trackKeyOf(track));
    const stored = key && this.sightingsDb.get(key);
    return stored ? decodeSighting(stored) : undefined;
  }

  sightingsOf(identityId: string): SightingRecord[] {
    const sightings: SightingRecord[] = [];
    for (const key of this.byIdentityDb.getKeys(prefixRange(identityId))) {
      const stored = this.sightingsDb.get(key.slice(1) as SightingKey);
      if (stored) sightings.push(decodeSighting(stored));
    }
    return sightings;
  }

  /** Where and when an identity was seen, from the identity's index alone. */
  spansOf(identityId: string): SightingSpan[] {
    const spans: SightingSpan[] = [];
    for (const { key, value } of this.byIdentityDb.getRange(prefixRange(identityId))) {
      const [, lastSeenAt, cameraId, trackId] = key;
      const firstSeenAt = value === 1 ? this.sightingsDb.get(key.slice(1) as SightingKey)?.firstSeenAt : value.firstSeenAt;
      if (firstSeenAt !== undefined) spans.push({ cameraId, trackId, firstSeenAt, lastSeenAt });
    }
    return spans;
  }

  /** Whether two identities were seen at the same time on one camera by different tracks (so they are two people). */
  coOccur(a: string, b: string): boolean {
    return spansCoOccur(this.spansOf(a), this.spansOf(b));
  }

  *identityRecords(): Generator<IdentityRecord> {
    for (const { value } of this.identitiesDb.getRange()) yield decodeIdentity(value);
  }

  /** Sightings oldest first (by end time). */
  *sightingRecords(): Generator<SightingRecord> {
    for (const { value } of this.sightingsDb.getRange()) yield decodeSighting(value);
  }

  /** The merge log, oldest first. */
  *merges(): Generator<IdentityMerge> {
    for (const { value } of this.mergesDb.getRange()) yield value;
  }

  stats(): GalleryStats {
    const classes: GalleryStats['classes'] = {};
    for (const objectClass of OBJECT_CLASSES) {
      const index = this.indexes.get(objectClass);
      if (index === undefined || index.size === 0) continue;
      const watchlist = index.identityIds().filter((id) => this.summaries.get(id)!.watchlist).length;
      classes[objectClass] = { identities: index.size, watchlist };
    }
    const [first] = [...this.sightingsDb.getKeys({ limit: 1 })];
    const [last] = [...this.sightingsDb.getKeys({ limit: 1, reverse: true })];
    const dbs = [this.identitiesDb, this.sightingsDb, this.byTrackDb, this.byIdentityDb, this.mergesDb, this.metaDb];
    const usedBytes = dbs.reduce((sum, db) => sum + pagesInUse(db.getStats()), 0);
    return {
      classes,
      identities: this.summaries.size,
      sightings: this.sightingsDb.getCount(),
      merges: this.mergesDb.getCount(),
      ...(first ? { oldestSightingAt: first[0], newestSightingAt: last![0] } : {}),
      usedBytes,
    };
  }

  // ---- writes

  /**
   * Runs `action` in one LMDB transaction (with whatever else it writes to the same
   * environment, e.g. an outbox message). If it throws, nothing is written and the
   * index is unchanged.
   */
  write<T>(action: (tx: GalleryTransaction) => T): T {
    this.refresh();
    const afterCommit: (() => void)[] = [];
    let generation = 0;
    let writtenElsewhere = false;
    const result = this.options.store.transactionSync(() => {
      const stored = this.metaDb.get(GENERATION_KEY) ?? 0;
      writtenElsewhere = stored !== this.generation;
      generation = stored + 1;
      this.metaDb.putSync(GENERATION_KEY, generation);
      return action(this.transaction(afterCommit));
    });
    if (writtenElsewhere) {
      this.rebuildIndex();
    } else {
      for (const apply of afterCommit) apply();
      this.generation = generation;
    }
    return result;
  }

  /**
   * Re-reads the gallery if another process (e.g. `crosscam gallery forget`) wrote to it
   * since this index was built, and re-projects it when the matching space published new
   * offsets. Cheap when nothing changed. Returns whether it reloaded from LMDB.
   */
  refresh(): boolean {
    if ((this.metaDb.get(GENERATION_KEY) ?? 0) !== this.generation) {
      this.rebuildIndex();
      return true;
    }
    if (this.options.space.version !== this.spaceVersion) this.reproject();
    return false;
  }

  /** Removes an identity and all its sightings; undefined when there is no such identity. */
  forget(identityId: string): { sightings: number } | undefined {
    this.refresh();
    if (!this.identitiesDb.doesExist(identityId)) return undefined;
    return this.write((tx) => {
      const sightings = this.sightingsOf(identityId);
      for (const sighting of sightings) tx.deleteSighting(sighting);
      tx.deleteIdentity(identityId);
      return { sightings: sightings.length };
    });
  }

  /**
   * Deletes sightings (and merge records) older than `sightingsDays` before `now`, and
   * identities (with any sightings left) not seen for `identitiesDays`; watch-list identities
   * are kept. Works in batches of small transactions so the daemon's writes are never held up long.
   */
  applyRetention(now: number): RetentionResult {
    this.refresh();
    const batch = this.options.retentionBatch ?? 500;
    const { sightingsDays, identitiesDays } = this.options.retention;
    const result: RetentionResult = { sightings: 0, identities: 0, removedTracks: [] };
    const keyOf = ({ cameraId, trackId, firstSeenAt }: TrackKey): TrackKey => ({ cameraId, trackId, firstSeenAt });

    const sightingsBefore = now - sightingsDays * DAY_MS;
    for (;;) {
      const expired = [...this.sightingsDb.getRange({ end: [sightingsBefore], limit: batch })].map(({ value }) => decodeSighting(value));
      if (expired.length === 0) break;
      this.write((tx) => expired.forEach((sighting) => tx.deleteSighting(sighting)));
      result.sightings += expired.length;
      result.removedTracks.push(...expired.map(keyOf));
    }
    for (;;) {
      const keys = [...this.mergesDb.getKeys({ end: [sightingsBefore], limit: batch })];
      if (keys.length === 0) break;
      this.write(() => keys.forEach((key) => this.mergesDb.removeSync(key)));
    }

    const identitiesBefore = now - identitiesDays * DAY_MS;
    const expiredIds = [...this.summaries.values()]
      .filter((summary) => !summary.watchlist && (summary.lastSeenAt ?? summary.createdAt) < identitiesBefore)
      .map((summary) => summary.id);
    for (let start = 0; start < expiredIds.length; start += batch) {
      const ids = expiredIds.slice(start, start + batch);
      this.write((tx) => {
        for (const id of ids) {
          const sightings = this.sightingsOf(id);
          sightings.forEach((sighting) => tx.deleteSighting(sighting));
          result.sightings += sightings.length;
          result.removedTracks.push(...sightings.map(keyOf));
          tx.deleteIdentity(id);
        }
      });
      result.identities += ids.length;
    }
    return result;
  }

  /**
   * Makes room when storage is full: deletes the `count` oldest sightings, then the
   * identities (not on the watch list) left without any sighting.
   */
  pruneOldestSightings(count: number): RetentionResult {
    this.refresh();
    const oldest = [...this.sightingsDb.getRange({ limit: count })].map(({ value }) => decodeSighting(value));
    const result: RetentionResult = { sightings: oldest.length, identities: 0, removedTracks: oldest.map(({ cameraId, trackId, firstSeenAt }) => ({ cameraId, trackId, firstSeenAt })) };
    if (oldest.length === 0) return result;
    this.write((tx) => {
      oldest.forEach((sighting) => tx.deleteSighting(sighting));
      for (const identityId of new Set(oldest.map((sighting) => sighting.identityId))) {
        const summary = this.summaries.get(identityId);
        if (summary === undefined || summary.watchlist || this.sightingsOf(identityId).length > 0) continue;
        tx.deleteIdentity(identityId);
        result.identities += 1;
      }
    });
    return result;
  }

  // ---- internals

  private transaction(afterCommit: (() => void)[]): GalleryTransaction {
    const { momentum } = this.options;
    const max = this.exemplarsPerIdentity;
    const put = (record: IdentityRecord): IdentityRecord => {
      this.identitiesDb.putSync(record.id, encodeIdentity(record));
      afterCommit.push(() => this.indexIdentity(record));
      return record;
    };
    const nextId = (objectClass: ObjectClass): string => {
      const key: [string, string] = ['next-id', objectClass];
      const next = (this.metaDb.get(key) ?? 0) + 1;
      this.metaDb.putSync(key, next);
      return `${objectClass}-${String(next).padStart(6, '0')}`;
    };
    const read = (id: string): IdentityRecord => {
      const record = this.readIdentity(id);
      if (record === undefined) throw new Error(`identity ${id} is in the index but not in the gallery`);
      return record;
    };
    const putSighting = (record: SightingRecord, replacing?: SightingRecord) => {
      if (replacing) this.removeSightingKeys(replacing);
      const key = sightingKey(record);
      // Keys start with lastSeenAt: appended, a sighting takes 1378 bytes of pages, not 2066.
      putNewest(this.sightingsDb, key, encodeSighting(record));
      this.byTrackDb.putSync(trackKeyOf(record), key);
      this.byIdentityDb.putSync(identitySightingKey(record.identityId, record), { firstSeenAt: record.firstSeenAt });
    };
    const exemplarOf = (next: Omit<NewSighting, 'decision'>) => ({
      embedding: next.embedding,
      cameraId: next.sighting.cameraId,
      quality: next.sighting.quality,
      at: next.sighting.lastSeenAt,
    });
    return {
      readIdentity: (id) => this.readIdentity(id),
      createIdentity: (first) => {
        const { sighting } = first;
        const record = put({
          id: nextId(sighting.objectClass),
          objectClass: sighting.objectClass,
          appearance: singleAppearance(first.embedding, sighting.cameraId),
          exemplars: [exemplarOf(first)],
          ...(first.parts ? { parts: first.parts } : {}),
          count: 1,
          createdAt: first.decision.decidedAt,
          firstSeenAt: sighting.firstSeenAt,
          lastSeenAt: sighting.lastSeenAt,
          cameras: { [sighting.cameraId]: sighting },
          watchlist: false,
        });
        putSighting({ ...sighting, identityId: record.id, embedding: first.embedding, decision: first.decision });
        return record;
      },
      enrolIdentity: ({ objectClass, embedding, label, at }) =>
        put({
          id: nextId(objectClass),
          objectClass,
          appearance: singleAppearance(embedding, ''),
          exemplars: [{ embedding, cameraId: '', quality: 1, at }],
          count: 0,
          createdAt: at,
          cameras: {},
          label,
          watchlist: true,
        }),
      attachSighting: (identityId, next, { learn }) => {
        const current = read(identityId);
        const record: IdentityRecord = { ...withSighting(current, next.sighting), count: current.count + 1 };
        if (learn) {
          record.appearance = momentumAppearance(current.appearance, next.embedding, next.sighting.cameraId, momentum);
          record.exemplars = withExemplar(current.exemplars, exemplarOf(next), max);
          if (next.parts) record.parts = current.parts ? momentumParts(current.parts, next.parts, momentum, layoutOf(next.parts)) : next.parts;
        }
        put(record);
        putSighting({ ...next.sighting, identityId, embedding: next.embedding, decision: next.decision });
        return record;
      },
      updateSighting: (earlier, next) => {
        const current = read(earlier.identityId);
        const record = withSighting(current, next.sighting);
        if (earlier.decision.outcome === 'new-identity' && current.count === 1) {
          record.appearance = singleAppearance(next.embedding, next.sighting.cameraId);
          record.exemplars = [exemplarOf(next)];
          if (next.parts) record.parts = next.parts;
        }
        put(record);
        putSighting({ ...next.sighting, identityId: record.id, embedding: next.embedding, decision: earlier.decision }, earlier);
        return record;
      },
      mergeIdentities: (keptId, others, evidence) => {
        const kept = read(keptId);
        const records = [kept, ...others.map(read)];
        let movedSightings = 0;
        for (const record of records.slice(1)) {
          for (const sighting of this.sightingsOf(record.id)) {
            putSighting({ ...sighting, identityId: kept.id }, sighting);
            movedSightings += 1;
          }
          this.identitiesDb.removeSync(record.id);
          afterCommit.push(() => this.unindexIdentity(record.id));
        }
        put(mergedRecord(kept, records, max));
        const merge: IdentityMerge = {
          objectClass: kept.objectClass,
          kept: kept.id,
          merged: records.slice(1).map((record) => record.id),
          similarity: evidence.similarity,
          reason: evidence.reason,
          movedSightings,
          at: evidence.at,
        };
        this.mergesDb.putSync([evidence.at, kept.id], merge);
        return merge;
      },
      deleteIdentity: (id) => {
        this.identitiesDb.removeSync(id);
        afterCommit.push(() => this.unindexIdentity(id));
      },
      deleteSighting: (record) => this.removeSightingKeys(record),
    };
  }

  private removeSightingKeys(record: SightingRecord): void {
    this.sightingsDb.removeSync(sightingKey(record));
    this.byTrackDb.removeSync(trackKeyOf(record));
    this.byIdentityDb.removeSync(identitySightingKey(record.identityId, record));
  }

  private rebuildIndex(): void {
    this.summaries.clear();
    for (const index of this.indexes.values()) index.dispose();
    this.indexes.clear();
    this.recent.clear();
    this.offsetsUsed.clear();
    this.generation = this.metaDb.get(GENERATION_KEY) ?? 0;
    this.spaceVersion = this.options.space.version;
    this.adapterVersion = this.options.space.adapterVersion;
    for (const { value } of this.identitiesDb.getRange()) {
      const record = decodeIdentity(value);
      this.remember(summaryOf(record));
      this.indexFor(record.objectClass, record.appearance.sum.length).load(record.id, this.projected(record));
    }
    this.finishLoads();
  }

  /** Starts the background graph builds that bulk loads made necessary. */
  private finishLoads(): void {
    for (const index of this.indexes.values()) void index.finishLoad();
  }

  /**
   * New offsets from the matching space: each prototype U = A·(S − Σ_c W_c μ_c) shifts by
   * −Σ_c W_c·A·(μ'_c − μ_c), from the camera weights alone. A new adapter A changes every
   * prototype: they are projected again from their raw appearances.
   */
  private reproject(): void {
    const { space } = this.options;
    if (space.adapterVersion !== this.adapterVersion) {
      this.rebuildIndex();
      return;
    }
    const deltas = new Map<string, Float32Array | undefined>();
    for (const [cameraId, old] of this.offsetsUsed) {
      const now = space.offset(cameraId);
      this.offsetsUsed.set(cameraId, now);
      if (now === old) continue;
      const delta = new Float32Array(now?.length ?? old!.length);
      for (let i = 0; i < delta.length; i++) delta[i] = (now?.[i] ?? 0) - (old?.[i] ?? 0);
      deltas.set(cameraId, space.adapt(delta));
    }
    this.spaceVersion = space.version;
    if (deltas.size === 0) return;
    for (const summary of this.summaries.values()) {
      const index = this.indexes.get(summary.objectClass)!;
      let shifted: Float32Array | undefined;
      for (const [cameraId, weight] of Object.entries(summary.appearanceWeights)) {
        const delta = deltas.get(cameraId);
        if (delta === undefined) continue;
        shifted ??= index.unnormalised(summary.id)!;
        for (let i = 0; i < shifted.length; i++) shifted[i]! -= weight * delta[i]!;
      }
      if (shifted) index.load(summary.id, shifted);
    }
    this.finishLoads();
  }

  /**
   * The record's prototype in the matching space (unnormalised), with the offsets the index
   * is projected with; a camera new to the index takes the space's current offset.
   */
  private projected(record: IdentityRecord): Float32Array {
    return this.options.space.projectAppearance(record.appearance, (cameraId) => {
      if (!this.offsetsUsed.has(cameraId)) this.offsetsUsed.set(cameraId, this.options.space.offset(cameraId));
      return this.offsetsUsed.get(cameraId);
    });
  }

  private indexIdentity(record: IdentityRecord): void {
    this.remember(summaryOf(record));
    this.indexFor(record.objectClass, record.appearance.sum.length).set(record.id, this.projected(record));
  }

  private unindexIdentity(id: string): void {
    const summary = this.summaries.get(id);
    if (summary === undefined) return;
    this.summaries.delete(id);
    this.indexes.get(summary.objectClass)!.remove(id);
    this.recent.get(summary.objectClass)!.delete(id);
  }

  private remember(summary: IdentitySummary): void {
    this.summaries.set(summary.id, summary);
    let recent = this.recent.get(summary.objectClass);
    if (recent === undefined) {
      recent = new RecentIdentities();
      this.recent.set(summary.objectClass, recent);
    }
    recent.put(summary);
  }

  private indexFor(objectClass: ObjectClass, dimension: number): PrototypeIndex {
    let index = this.indexes.get(objectClass);
    if (index === undefined) {
      const { annFrom, ann, onAnnBuilt, onAnnFailed } = this.options.search ?? {};
      index = new PrototypeIndex(dimension, {
        annFrom,
        ann,
        onAnnBuilt: onAnnBuilt && ((report) => onAnnBuilt(objectClass, report)),
        onAnnFailed: onAnnFailed && ((error) => onAnnFailed(objectClass, error)),
      });
      this.indexes.set(objectClass, index);
    }
    return index;
  }

  private indexOf(id: string): PrototypeIndex {
    const summary = this.summaries.get(id);
    if (summary === undefined) throw new Error(`unknown identity ${id}`);
    return this.indexes.get(summary.objectClass)!;
  }
}

/** The identity with `sighting` as its latest on that camera (if it is), and its time span widened. */
function withSighting(identity: IdentityRecord, sighting: SightingRef): IdentityRecord {
  const previous = identity.cameras[sighting.cameraId];
  const latestThere = previous === undefined || sameTrack(previous, sighting) || previous.lastSeenAt <= sighting.lastSeenAt;
  return {
    ...identity,
    cameras: latestThere ? { ...identity.cameras, [sighting.cameraId]: sighting } : identity.cameras,
    firstSeenAt: Math.min(identity.firstSeenAt ?? sighting.firstSeenAt, sighting.firstSeenAt),
    lastSeenAt: Math.max(identity.lastSeenAt ?? sighting.lastSeenAt, sighting.lastSeenAt),
  };
}

/**
 * The union of `records` under the first one's id (`kept`): appearances count-weighted (a
 * never-seen watch-list identity weighs 1), diverse views of all, counts summed, time span
 * and per-camera latest sightings combined.
 */
export function mergedRecord(kept: IdentityRecord, records: readonly IdentityRecord[], maxExemplars: number): IdentityRecord {
  const cameras: IdentityRecord['cameras'] = {};
  let firstSeenAt: number | undefined;
  let lastSeenAt: number | undefined;
  for (const record of records) {
    for (const [cameraId, sighting] of Object.entries(record.cameras)) {
      if ((cameras[cameraId]?.lastSeenAt ?? -Infinity) < sighting.lastSeenAt) cameras[cameraId] = sighting;
    }
    if (record.firstSeenAt !== undefined) firstSeenAt = Math.min(firstSeenAt ?? Infinity, record.firstSeenAt);
    if (record.lastSeenAt !== undefined) lastSeenAt = Math.max(lastSeenAt ?? -Infinity, record.lastSeenAt);
  }
  const label = kept.label ?? records.find((record) => record.label !== undefined)?.label;
  const withParts = records.filter((record): record is IdentityRecord & { parts: PartEmbedding } => record.parts !== undefined);
  return {
    ...kept,
    appearance: mergedAppearance(records),
    ...(withParts.length > 0 ? { parts: mergedParts(withParts, layoutOf(withParts[0]!.parts)) } : {}),
    exemplars: diverseExemplars(
      records.flatMap((record) => record.exemplars),
      maxExemplars,
    ),
    count: records.reduce((sum, record) => sum + record.count, 0),
    createdAt: Math.min(...records.map((record) => record.createdAt)),
    ...(firstSeenAt !== undefined ? { firstSeenAt } : {}),
    ...(lastSeenAt !== undefined ? { lastSeenAt } : {}),
    cameras,
    ...(label !== undefined ? { label } : {}),
    watchlist: records.some((record) => record.watchlist),
  };
}

/** Which identity of a group survives a merge: a watch-list one, else the oldest (ids stay stable for subscribers). */
export function survivorOf<T extends Pick<IdentitySummary, 'id' | 'watchlist' | 'createdAt'>>(group: readonly T[]): T {
  return [...group].sort((a, b) => Number(b.watchlist) - Number(a.watchlist) || a.createdAt - b.createdAt || a.id.localeCompare(b.id))[0]!;
}

function pagesInUse(stats: object): number {
  const { pageSize, treeBranchPageCount, treeLeafPageCount, overflowPages } = stats as Record<string, number>;
  return (pageSize ?? 0) * ((treeBranchPageCount ?? 0) + (treeLeafPageCount ?? 0) + (overflowPages ?? 0));
}
