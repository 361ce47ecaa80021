/**
 * What the control room watches: the latest matches (as the MQTT `matches` payload), camera
 * status changes, and the camera-to-camera flow over the last hour. Fed from the bus, read by
 * the HTTP server; live clients get each event as it happens (server-sent events).
 */
import { buildCameraStatusMessage, buildMatchMessage, isAttachedDecision, type SnapshotLinker } from '../publish/builders.js';
import type { CameraStatusMessage, MatchMessage } from '../publish/messages.js';
import type { DaemonEvents } from '../service/daemon-events.js';
import type { EventBus } from '../service/event-bus.js';

export type FeedEvent = { type: 'match'; match: MatchMessage } | { type: 'camera'; status: CameraStatusMessage };

export interface LiveFeedOptions {
  bus: EventBus<DaemonEvents>;
  snapshots: SnapshotLinker;
  /** Matches kept for the page (default 200). */
  keep?: number;
  now?: () => number;
}

const HOUR_MS = 3_600_000;
/** Flow records kept at most (a busy site's hour), so memory stays bounded. */
const MAX_FLOW_RECORDS = 100_000;

export interface CameraPairFlow {
  from: string;
  to: string;
  count: number;
}

export class LiveFeed {
  private readonly matches: MatchMessage[] = [];
  private readonly flow: { at: number; from: string; to: string }[] = [];
  private readonly listeners = new Set<(event: FeedEvent) => void>();
  private readonly unsubscribe: (() => void)[] = [];
  private readonly keep: number;
  private readonly now: () => number;

  constructor(private readonly options: LiveFeedOptions) {
    this.keep = options.keep ?? 200;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    const { bus } = this.options;
    this.unsubscribe.push(
      bus.on('decision', 'live feed', (decision) => {
        const news = decision.outcome === 'matched' || decision.watchlistLabel !== undefined;
        if (!news || !isAttachedDecision(decision)) return;
        const match = buildMatchMessage(decision, this.options.snapshots);
        this.matches.unshift(match);
        if (this.matches.length > this.keep) this.matches.pop();
        if (decision.matched && decision.matched.cameraId !== decision.sighting.cameraId) {
          this.flow.push({ at: decision.decidedAt, from: decision.matched.cameraId, to: decision.sighting.cameraId });
          if (this.flow.length > MAX_FLOW_RECORDS) this.flow.shift();
        }
        this.emit({ type: 'match', match });
      }),
      bus.on('cameraStatus', 'live feed', (status) => this.emit({ type: 'camera', status: buildCameraStatusMessage(status) })),
    );
  }

  stop(): void {
    this.unsubscribe.splice(0).forEach((off) => off());
    this.listeners.clear();
  }

  /** Latest first. */
  recentMatches(limit: number): MatchMessage[] {
    return this.matches.slice(0, limit);
  }

  /** Cross-camera matches per (earlier camera → later camera) over the last `windowMs`. */
  flowCounts(windowMs = HOUR_MS): CameraPairFlow[] {
    const since = this.now() - windowMs;
    while (this.flow.length > 0 && this.flow[0]!.at < this.now() - HOUR_MS) this.flow.shift();
    const counts = new Map<string, CameraPairFlow>();
    for (const record of this.flow) {
      if (record.at < since) continue;
      const key = `${record.from}\u0000${record.to}`;
      const entry = counts.get(key) ?? { from: record.from, to: record.to, count: 0 };
      entry.count += 1;
      counts.set(key, entry);
    }
    return [...counts.values()].sort((a, b) => b.count - a.count);
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe. */
  subscribe(listener: (event: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: FeedEvent): void {
    for (const listener of this.listeners) listener(event);
  }
}
