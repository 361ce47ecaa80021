/**
 * The identity gallery: identities and sightings in named databases of the daemon's
 * LMDB environment (src/core/state-store.ts), with an in-memory search index per class
 * rebuilt at start and kept in step with every committed write.
 *
 * Every multi-record change goes through `write`, one LMDB transaction: a crash or an
 * error leaves either all of it or none of it, and the in-memory index is only touched
 * once the transaction has committed.
 */
import type { Database, RootDatabase } from '../core/state-store.js';
import { OBJECT_CLASSES, type ObjectClass } from '../core/types.js';
import { PrototypeIndex, type SearchHit } from './prototype-index.js';
import { recluster, type IdentityMerge, type ReclusterOptions } from './recluster.js';
import {
  DB_NAMES,
  decodeIdentity,
  decodeSighting,
  encodeIdentity,
  encodeSighting,
  identitySightingKey,
  prefixRange,
  sightingKey,
  summaryOf,
  trackKeyOf,
  type IdentityRecord,
  type IdentitySummary,
  type SightingKey,
  type SightingRecord,
  type StoredIdentity,
  type StoredSighting,
  type TrackKey,
} from './records.js';

export interface GalleryOptions {
  /** The shared state environment; the gallery opens its own named databases in it and never closes it. */
  store: RootDatabase;
  /** Exemplar vectors kept per identity. */
  exemplarsPerIdentity: number;
  retention: { sightingsDays: number; identitiesDays: number };
  /** Records deleted per retention transaction (default 500). */
  retentionBatch?: number;
}

/** Writes inside one gallery transaction; the index follows once it commits. */
export interface GalleryTransaction {
  /** Next readable id of a class, e.g. `person-000042` (counter kept in LMDB). */
  nextIdentityId(objectClass: ObjectClass): string;
  /** The identity as stored now (sees this transaction's own writes). */
  readIdentity(id: string): IdentityRecord | undefined;
  putIdentity(record: IdentityRecord): void;
  deleteIdentity(id: string): void;
  /** Stores a sighting; `replacing` is its earlier version (its keys change when the time span grows). */
  putSighting(record: SightingRecord, replacing?: SightingRecord): void;
  deleteSighting(record: SightingRecord): void;
}

export interface RetentionResult {
  sightings: number;
  identities: number;
}

export interface GalleryStats {
  classes: Partial<Record<ObjectClass, { identities: number; watchlist: number }>>;
  identities: number;
  sightings: number;
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
  private readonly byIdentityDb: Database<1, [string, ...SightingKey]>;
  private readonly metaDb: Database<number, string | [string, string]>;
  private readonly summaries = new Map<string, IdentitySummary>();
  private readonly indexes = new Map<ObjectClass, PrototypeIndex>();
  /** Write generation the in-memory index reflects (another process may write too, e.g. the CLI). */
  private generation = 0;

  constructor(private readonly options: GalleryOptions) {
    const { store } = options;
    this.exemplarsPerIdentity = options.exemplarsPerIdentity;
    this.identitiesDb = store.openDB({ name: DB_NAMES.identities });
    this.sightingsDb = store.openDB({ name: DB_NAMES.sightings });
    this.byTrackDb = store.openDB({ name: DB_NAMES.sightingsByTrack });
    this.byIdentityDb = store.openDB({ name: DB_NAMES.sightingsByIdentity });
    this.metaDb = store.openDB({ name: DB_NAMES.meta });
    this.rebuildIndex();
  }

  // ---- in-memory reads

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

  prototype(id: string): Float32Array | undefined {
    const summary = this.summaries.get(id);
    return summary && this.indexes.get(summary.objectClass)!.prototype(id);
  }

  similarity(id: string, query: Float32Array): number {
    return this.indexOf(id).similarity(id, query);
  }

  difficulty(id: string): number {
    return this.indexOf(id).difficulty(id);
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

  *identityRecords(): Generator<IdentityRecord> {
    for (const { value } of this.identitiesDb.getRange()) yield decodeIdentity(value);
  }

  /** Sightings oldest first (by end time). */
  *sightingRecords(): Generator<SightingRecord> {
    for (const { value } of this.sightingsDb.getRange()) yield decodeSighting(value);
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
    const dbs = [this.identitiesDb, this.sightingsDb, this.byTrackDb, this.byIdentityDb, this.metaDb];
    const usedBytes = dbs.reduce((sum, db) => sum + pagesInUse(db.getStats()), 0);
    return {
      classes,
      identities: this.summaries.size,
      sightings: this.sightingsDb.getCount(),
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
   * since this index was built. Cheap when nothing changed (one read). Returns whether it reloaded.
   */
  refresh(): boolean {
    if ((this.metaDb.get(GENERATION_KEY) ?? 0) === this.generation) return false;
    this.rebuildIndex();
    return true;
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
   * Deletes sightings that ended more than `sightingsDays` before `now`, and identities
   * (with any sightings left) not seen for `identitiesDays`; watch-list identities are kept.
   * Works in batches of small transactions so the daemon's writes are never held up long.
   */
  applyRetention(now: number): RetentionResult {
    this.refresh();
    const batch = this.options.retentionBatch ?? 500;
    const { sightingsDays, identitiesDays } = this.options.retention;
    const result: RetentionResult = { sightings: 0, identities: 0 };

    const sightingsBefore = now - sightingsDays * DAY_MS;
    for (;;) {
      const expired = [...this.sightingsDb.getRange({ end: [sightingsBefore], limit: batch })].map(({ value }) => decodeSighting(value));
      if (expired.length === 0) break;
      this.write((tx) => expired.forEach((sighting) => tx.deleteSighting(sighting)));
      result.sightings += expired.length;
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
          tx.deleteIdentity(id);
        }
      });
      result.identities += ids.length;
    }
    return result;
  }

  /** Merges split identities (see recluster.ts); yields to the event loop while it compares prototypes. */
  recluster(options: ReclusterOptions): Promise<IdentityMerge[]> {
    return recluster(this, options);
  }

  // ---- internals

  private transaction(afterCommit: (() => void)[]): GalleryTransaction {
    return {
      nextIdentityId: (objectClass) => {
        const key: [string, string] = ['next-id', objectClass];
        const next = (this.metaDb.get(key) ?? 0) + 1;
        this.metaDb.putSync(key, next);
        return `${objectClass}-${String(next).padStart(6, '0')}`;
      },
      readIdentity: (id) => this.readIdentity(id),
      putIdentity: (record) => {
        this.identitiesDb.putSync(record.id, encodeIdentity(record));
        const prototype = Float32Array.from(record.prototype);
        afterCommit.push(() => this.indexIdentity(record, prototype));
      },
      deleteIdentity: (id) => {
        this.identitiesDb.removeSync(id);
        afterCommit.push(() => this.unindexIdentity(id));
      },
      putSighting: (record, replacing) => {
        if (replacing) this.removeSightingKeys(replacing);
        const key = sightingKey(record);
        this.sightingsDb.putSync(key, encodeSighting(record));
        this.byTrackDb.putSync(trackKeyOf(record), key);
        this.byIdentityDb.putSync(identitySightingKey(record.identityId, record), 1);
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
    this.indexes.clear();
    this.generation = this.metaDb.get(GENERATION_KEY) ?? 0;
    for (const { value } of this.identitiesDb.getRange()) {
      const record = decodeIdentity(value);
      this.summaries.set(record.id, summaryOf(record));
      this.indexFor(record.objectClass, record.prototype.length).load(record.id, record.prototype);
    }
  }

  private indexIdentity(record: IdentityRecord, prototype: Float32Array): void {
    this.summaries.set(record.id, summaryOf(record));
    this.indexFor(record.objectClass, prototype.length).set(record.id, prototype);
  }

  private unindexIdentity(id: string): void {
    const summary = this.summaries.get(id);
    if (summary === undefined) return;
    this.summaries.delete(id);
    this.indexes.get(summary.objectClass)!.remove(id);
  }

  private indexFor(objectClass: ObjectClass, dimension: number): PrototypeIndex {
    let index = this.indexes.get(objectClass);
    if (index === undefined) {
      index = new PrototypeIndex(dimension);
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

function pagesInUse(stats: object): number {
  const { pageSize, treeBranchPageCount, treeLeafPageCount, overflowPages } = stats as Record<string, number>;
  return (pageSize ?? 0) * ((treeBranchPageCount ?? 0) + (treeLeafPageCount ?? 0) + (overflowPages ?? 0));
}
