/**
 * Identities of one class by the time they were last seen, in coarse buckets: the matcher of
 * a very large class reads only those its time window can admit, instead of every identity.
 * Watch-list identities are always included (they never expire).
 */
import type { IdentitySummary } from './records.js';

/** Bucket width: few enough buckets to walk per query (90 days ≈ 13,000), small enough to read little beyond the window. */
const BUCKET_MS = 600_000;

export class RecentIdentities {
  private readonly buckets = new Map<number, Set<string>>();
  private readonly bucketOf = new Map<string, number>();
  private readonly watchlist = new Set<string>();

  /** Files an identity under its latest sighting time (again after each change). */
  put(summary: Pick<IdentitySummary, 'id' | 'watchlist' | 'lastSeenAt'>): void {
    this.delete(summary.id);
    if (summary.watchlist) {
      this.watchlist.add(summary.id);
      return;
    }
    const bucket = Math.floor((summary.lastSeenAt ?? 0) / BUCKET_MS);
    let ids = this.buckets.get(bucket);
    if (ids === undefined) {
      ids = new Set();
      this.buckets.set(bucket, ids);
    }
    ids.add(summary.id);
    this.bucketOf.set(summary.id, bucket);
  }

  delete(id: string): void {
    this.watchlist.delete(id);
    const bucket = this.bucketOf.get(id);
    if (bucket === undefined) return;
    this.bucketOf.delete(id);
    const ids = this.buckets.get(bucket)!;
    ids.delete(id);
    if (ids.size === 0) this.buckets.delete(bucket);
  }

  /** Every identity last seen at or after `since` (ms), possibly some up to one bucket earlier, and the watch list. */
  *since(since: number): Generator<string> {
    yield* this.watchlist;
    const first = Math.floor(since / BUCKET_MS);
    for (const [bucket, ids] of this.buckets) if (bucket >= first) yield* ids;
  }
}
