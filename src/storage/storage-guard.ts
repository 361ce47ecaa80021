/**
 * Keeps the daemon's LMDB environment within gallery.map_size_mb and alive on a full disk.
 * lmdb-js grows its map by itself, so the limit is enforced here: when the pages in use
 * pass the high-water mark, the oldest sightings are pruned (with identities left empty)
 * until they are under the low-water mark. On a full filesystem the file cannot grow, but
 * pages freed inside it are reused: the oldest sightings are pruned until the file has
 * room for new writes. Decisions are therefore never refused while anything can be pruned.
 */
import type { Logger } from '../core/logger.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import { freeDiskBytes, storageUsage, type RootDatabase } from '../core/state-store.js';
import type { Gallery } from '../gallery/gallery.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';

/** ok; gallery_full: at the size limit; disk_full: the filesystem has no room and the file none left inside. */
export type StorageState = 'ok' | 'gallery_full' | 'disk_full';

export interface StorageReport {
  state: StorageState;
  usedBytes: number;
  limitBytes: number;
  fileBytes: number;
  diskFreeBytes: number;
  /** Sightings pruned to make room since start. */
  prunedSightings: number;
}

export interface StorageGuardOptions {
  store: RootDatabase;
  /** The environment's directory (gallery.path). */
  dir: string;
  limitBytes: number;
  gallery: Pick<Gallery, 'pruneOldestSightings'>;
  /** Snapshots of pruned sightings are deleted with them. */
  snapshots?: Pick<SnapshotStore, 'remove'>;
  logger: Logger;
  /** Free bytes of the filesystem holding dir (default statfs). */
  diskFreeBytes?: (dir: string) => number;
  /** Fractions of limitBytes: pruning starts above high and stops below low (defaults 0.9, 0.8). */
  highWater?: number;
  lowWater?: number;
  /** Room kept for writes inside the file when the disk is full (default 4 MiB). */
  reserveBytes?: number;
  /** Sightings deleted per pruning step (default 200). */
  pruneBatch?: number;
  now?: () => number;
}

export class StorageGuard {
  private readonly log: RateLimitedLog;
  private lastReport: StorageReport;
  private pruned = 0;

  constructor(private readonly options: StorageGuardOptions) {
    this.log = new RateLimitedLog(options.logger, 60_000, options.now);
    this.lastReport = { state: 'ok', usedBytes: 0, limitBytes: options.limitBytes, fileBytes: 0, diskFreeBytes: Number.POSITIVE_INFINITY, prunedSightings: 0 };
  }

  /** The state as of the last check. */
  report(): StorageReport {
    return this.lastReport;
  }

  /** Measures, prunes if needed (before the caller writes), and returns the resulting state. */
  check(): StorageReport {
    const { limitBytes } = this.options;
    const high = limitBytes * (this.options.highWater ?? 0.9);
    const low = limitBytes * (this.options.lowWater ?? 0.8);
    const reserve = this.options.reserveBytes ?? 4 * 2 ** 20;
    let measured = this.measure();
    // Room wanted inside the file when the disk is full: the reserve, or a fifth of a small file
    // (pruning a small gallery to nothing would not buy more).
    const roomInFile = (usage: { usedBytes: number; fileBytes: number }) => usage.fileBytes - usage.usedBytes;
    const roomTarget = Math.min(reserve, Math.max(64 * 1024, measured.fileBytes * 0.2));
    const overLimit = measured.usedBytes > high;
    const diskFull = measured.diskFreeBytes < reserve && roomInFile(measured) < roomTarget;
    let state: StorageState = 'ok';
    if (overLimit || diskFull) {
      const before = this.pruned;
      // Enough pages freed: under the low-water mark, and room inside the file if the disk is full.
      const enough = (usage: { usedBytes: number; fileBytes: number; diskFreeBytes: number }) =>
        usage.usedBytes <= low && (usage.diskFreeBytes >= reserve || roomInFile(usage) >= roomTarget);
      while (!enough(measured) && this.pruneStep()) measured = this.measure();
      state = enough(measured) ? 'ok' : diskFull ? 'disk_full' : 'gallery_full';
      const fields = { usedMb: mb(measured.usedBytes), limitMb: mb(limitBytes), fileMb: mb(measured.fileBytes), diskFreeMb: mb(measured.diskFreeBytes), pruned: this.pruned - before };
      const cause = diskFull ? 'the disk is full' : `the gallery reached ${Math.round((this.options.highWater ?? 0.9) * 100)} % of gallery.map_size_mb`;
      if (state === 'ok') this.log.warn(`storage-pruned-${diskFull ? 'disk' : 'limit'}`, fields, `${cause}: pruned the ${this.pruned - before} oldest sightings to make room`);
      else this.log.error(`storage-${state}`, fields, `${cause} and nothing is left to prune: new decisions wait in memory until there is room (free disk space or raise gallery.map_size_mb)`);
    }
    this.lastReport = { state, ...measured, limitBytes, prunedSightings: this.pruned };
    return this.lastReport;
  }

  private measure(): { usedBytes: number; fileBytes: number; diskFreeBytes: number } {
    const usage = storageUsage(this.options.store, this.options.dir);
    let diskFreeBytes = Number.POSITIVE_INFINITY;
    try {
      diskFreeBytes = (this.options.diskFreeBytes ?? freeDiskBytes)(this.options.dir);
    } catch (error) {
      this.log.warn('storage-statfs', { err: error }, `cannot read the free space of ${this.options.dir}`);
    }
    return { ...usage, diskFreeBytes };
  }

  /** Deletes one batch of the oldest sightings; false when there was nothing to delete or it failed. */
  private pruneStep(): boolean {
    try {
      const removed = this.options.gallery.pruneOldestSightings(this.options.pruneBatch ?? 200);
      if (removed.sightings === 0) return false;
      this.pruned += removed.sightings;
      if (this.options.snapshots) {
        this.options.snapshots.remove(removed.removedTracks).catch((error: unknown) => this.log.warn('snapshot-remove', { err: error }, 'could not delete the snapshots of pruned sightings'));
      }
      return true;
    } catch (error) {
      this.log.error('storage-prune', { err: error }, 'pruning the oldest sightings failed');
      return false;
    }
  }
}

const mb = (bytes: number): number => (Number.isFinite(bytes) ? Math.round((bytes / 2 ** 20) * 10) / 10 : -1);
