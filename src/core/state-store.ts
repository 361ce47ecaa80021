import { mkdirSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';

export type { Database, RootDatabase } from 'lmdb';

export interface StateStoreOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  /** Upper bound of the memory map; LMDB grows the file up to it. */
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
