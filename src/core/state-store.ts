import { mkdirSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import { open, type Database, type Key, type RootDatabase } from 'lmdb';

export type { Database, RootDatabase } from 'lmdb';

export interface StateStoreOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  /**
   * The initial memory map. lmdb-js grows the map by itself whenever a write needs more
   * (its patched LMDB never returns MDB_MAP_FULL), so this is no limit: the storage guard
   * enforces gallery.map_size_mb by pruning.
   */
  mapSizeMb: number;
}

/**
 * The daemon's durable state: one LMDB environment holding named databases (gallery
 * identities and sightings, the MQTT outbox, ...), so that a decision and the message
 * announcing it can be committed together and everything survives a restart.
 * A write's promise resolves once its transaction is committed, which survives a crash of the
 * process; lmdb-js syncs to disk right after (overlapping sync), so a power cut can lose the
 * last few milliseconds of commits.
 */
export function openStateStore(options: StateStoreOptions): RootDatabase {
  mkdirSync(options.path, { recursive: true });
  return open({
    path: options.path,
    mapSize: options.mapSizeMb * 2 ** 20,
    maxDbs: 16,
  });
}

/** Bytes an unprivileged process may still write on the filesystem holding `dir`. */
export function freeDiskBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

export interface StorageUsage {
  /** Bytes of pages holding data (every named database, the root and free-page trees, meta pages). */
  usedBytes: number;
  /** Size of data.mdb: the high-water mark; pages freed inside it are reused before it grows. */
  fileBytes: number;
}

const openedDatabases = new WeakMap<RootDatabase, { getStats(): object }[]>();

/**
 * Opens a named database of the environment; every one goes through here so that
 * storageUsage can count its pages (reopening a database with other options is unsafe).
 */
export function openDatabase<V, K extends Key = Key>(root: RootDatabase, options: { name: string; keyEncoding?: 'uint32' }): Database<V, K> {
  const db = root.openDB<V, K>(options);
  const list = openedDatabases.get(root) ?? [];
  list.push(db);
  openedDatabases.set(root, list);
  return db;
}

/**
 * Puts an entry whose key is usually the largest so far (time-ordered keys) with MDB_APPEND,
 * which leaves full leaf pages behind: an ordinary insert at the end splits a full page in half,
 * so time-ordered writes leave every page half empty. A key that is not the largest fails to
 * append and is put in place. (lmdb's README gives putSync's boolean; its .d.ts says void.)
 */
export function putNewest<V, K extends Key>(db: Database<V, K>, key: K, value: V): void {
  const appended: unknown = db.putSync(key, value, { append: true });
  if (appended !== true) db.putSync(key, value);
}

type PageStats = { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };

/** What the environment uses now, over the databases opened with openDatabase. */
export function storageUsage(root: RootDatabase, dir: string): StorageUsage {
  const pagesOf = (stats: PageStats) => stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages;
  const rootStats = root.getStats() as PageStats & { pageSize: number; free: PageStats };
  let pages = 2 + pagesOf(rootStats) + pagesOf(rootStats.free);
  for (const db of openedDatabases.get(root) ?? []) pages += pagesOf(db.getStats() as PageStats);
  let fileBytes = 0;
  try {
    fileBytes = statSync(path.join(dir, 'data.mdb')).size;
  } catch {
    // not created yet
  }
  return { usedBytes: pages * rootStats.pageSize, fileBytes };
}
