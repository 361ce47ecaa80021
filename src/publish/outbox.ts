import { openDatabase, type Database, type RootDatabase } from '../core/state-store.js';
import type { Logger } from '../core/logger.js';

/** An event message waiting for the broker's acknowledgement. */
export interface OutboxMessage {
  topic: string;
  payload: string;
  qos: 1 | 2;
}

export interface OutboxEntry extends OutboxMessage {
  /** Position in the outbox: strictly increasing in enqueue order. */
  seq: number;
}

export interface OutboxCounts {
  /** Messages stored and not yet acknowledged. */
  pending: number;
  /** Oldest messages dropped because the outbox was full, since it was opened. */
  dropped: number;
}

export interface OutboxOptions {
  /** At most this many messages are kept; enqueueing beyond it drops the oldest. */
  maxMessages: number;
  logger: Logger;
  /** Named database in the state store's environment. */
  dbName?: string;
  /** Drops are logged at most once per this interval (the count in between is summed). */
  dropWarnIntervalMs?: number;
  now?: () => number;
}

interface StoredMessage {
  topic: string;
  payload: string;
  qos: 1 | 2;
  enqueuedAt: number;
}

/**
 * Durable FIFO of event messages in the daemon's LMDB environment, keyed by a sequence
 * number. A message is stored (committed) before it is published and removed only once the
 * broker acknowledged it, so an outage or a restart loses nothing but what overflows the bound.
 *
 * The keys present are tracked in memory as the range [head, nextSeq) minus `gaps` (keys
 * acknowledged out of order), which keeps the count exact and removals idempotent without
 * reading the database.
 */
export class Outbox {
  private readonly db: Database<StoredMessage, number>;
  private readonly maxMessages: number;
  private readonly logger: Logger;
  private readonly dropWarnIntervalMs: number;
  private readonly now: () => number;
  private head: number;
  private nextSeq: number;
  private readonly gaps = new Set<number>();
  private dropped = 0;
  private droppedSinceWarn = 0;
  private lastDropWarnAt = Number.NEGATIVE_INFINITY;

  constructor(root: RootDatabase, options: OutboxOptions) {
    this.db = openDatabase<StoredMessage, number>(root, { name: options.dbName ?? 'mqtt-outbox', keyEncoding: 'uint32' });
    this.maxMessages = options.maxMessages;
    this.logger = options.logger;
    this.dropWarnIntervalMs = options.dropWarnIntervalMs ?? 10_000;
    this.now = options.now ?? Date.now;
    let first: number | undefined;
    let expected = 0;
    for (const key of this.db.getKeys()) {
      if (first === undefined) first = expected = key;
      for (; expected < key; expected++) this.gaps.add(expected);
      expected = key + 1;
    }
    this.head = first ?? 1;
    this.nextSeq = first === undefined ? 1 : expected;
    // A database that is over the bound (the bound was lowered) is trimmed on the next enqueue.
  }

  counts(): OutboxCounts {
    return { pending: this.nextSeq - this.head - this.gaps.size, dropped: this.dropped };
  }

  /**
   * Stores a message; resolves with its sequence number once the write is committed. The
   * sequence is taken synchronously, so messages keep the order of the calls.
   */
  async enqueue(message: OutboxMessage): Promise<number> {
    const { seq, stored } = this.admit(message);
    await this.db.put(seq, stored);
    return seq;
  }

  /**
   * Stores a message inside the caller's write transaction on the same environment (e.g. the
   * gallery's decision), so both commit together or not at all; returns its sequence number.
   */
  enqueueInTransaction(message: OutboxMessage): number {
    const { seq, stored } = this.admit(message);
    this.db.putSync(seq, stored);
    return seq;
  }

  /** Up to `limit` committed messages with seq ≥ `fromSeq`, oldest first. */
  read(fromSeq: number, limit: number): OutboxEntry[] {
    const entries: OutboxEntry[] = [];
    for (const { key, value } of this.db.getRange({ start: Math.max(fromSeq, this.head) })) {
      // Removals are committed asynchronously: skip what is already forgotten in memory.
      if (!this.isPresent(key)) continue;
      entries.push({ seq: key, topic: value.topic, payload: value.payload, qos: value.qos });
      if (entries.length >= limit) break;
    }
    return entries;
  }

  /** The broker acknowledged (or refused for good) message `seq`: forget it. Idempotent. */
  remove(seq: number): void {
    if (!this.isPresent(seq)) return;
    if (seq === this.head) {
      this.head++;
      while (this.gaps.delete(this.head)) this.head++;
    } else {
      this.gaps.add(seq);
    }
    void this.db.remove(seq);
  }

  /** Resolves when every write issued so far is committed. */
  async flushed(): Promise<void> {
    await this.db.committed;
  }

  /** Makes room within the bound and takes the next sequence number (synchronously, so calls keep their order). */
  private admit(message: OutboxMessage): { seq: number; stored: StoredMessage } {
    while (this.counts().pending >= this.maxMessages) this.dropOldest();
    return { seq: this.nextSeq++, stored: { topic: message.topic, payload: message.payload, qos: message.qos, enqueuedAt: this.now() } };
  }

  private isPresent(seq: number): boolean {
    return seq >= this.head && seq < this.nextSeq && !this.gaps.has(seq);
  }

  private dropOldest(): void {
    this.remove(this.head);
    this.dropped++;
    this.droppedSinceWarn++;
    const now = this.now();
    if (now - this.lastDropWarnAt >= this.dropWarnIntervalMs) {
      this.logger.warn(
        { dropped: this.droppedSinceWarn, droppedTotal: this.dropped, maxMessages: this.maxMessages },
        'MQTT outbox full: dropped the oldest unacknowledged messages',
      );
      this.lastDropWarnAt = now;
      this.droppedSinceWarn = 0;
    }
  }
}
