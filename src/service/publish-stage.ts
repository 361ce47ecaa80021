/**
 * The MQTT stage: turns the bus's camera statuses and sightings, and the decisions the
 * match stage announces, into messages of the MQTT contract. Events are handed to the publisher's durable
 * outbox; `settled()` waits until every one handed over so far is committed.
 */
import type { Logger } from '../core/logger.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import type { MatchDecision } from '../match/decision.js';
import {
  buildAdapterMessage,
  buildCameraStatusMessage,
  buildIdentitiesMergedMessage,
  buildMatchMessage,
  buildSightingMessage,
  isAttachedDecision,
  type SnapshotLinker,
} from '../publish/builders.js';
import type { MqttPublisher } from '../publish/mqtt-publisher.js';
import type { DaemonEvents } from './daemon-events.js';
import type { EventBus } from './event-bus.js';

export interface PublishStageOptions {
  bus: EventBus<DaemonEvents>;
  publisher: Pick<MqttPublisher, 'publishSighting' | 'publishMatchInTransaction' | 'publishIdentitiesMerged' | 'publishAdapterChange' | 'publishCameraStatus'>;
  logger: Logger;
  /** Snapshot references for the messages (default: none). */
  snapshots?: SnapshotLinker;
}

export class PublishStage {
  private readonly pending = new Set<Promise<void>>();
  private readonly unsubscribe: (() => void)[] = [];

  private readonly log: RateLimitedLog;

  constructor(private readonly options: PublishStageOptions) {
    this.log = new RateLimitedLog(options.logger);
  }

  start(): void {
    const { bus, publisher } = this.options;
    this.unsubscribe.push(
      bus.on('cameraStatus', 'publish', (status) => publisher.publishCameraStatus(buildCameraStatusMessage(status))),
      bus.on('sighting', 'publish', (event) => this.track(publisher.publishSighting(buildSightingMessage(event, this.options.snapshots)))),
      bus.on('identitiesMerged', 'publish', (merge) => this.track(publisher.publishIdentitiesMerged(buildIdentitiesMergedMessage(merge)))),
      bus.on('adapterChanged', 'publish', (change) => this.track(publisher.publishAdapterChange(buildAdapterMessage(change)))),
    );
  }

  stop(): void {
    this.unsubscribe.splice(0).forEach((off) => off());
  }

  /**
   * Called by the match stage inside a decision's gallery transaction (decisions are not
   * taken from the bus): its `matches` message commits with it, so a crash cannot keep the
   * one without the other. `matches` carries cross-camera decisions and watch-list hits;
   * same-camera returns show as the sighting's identity.
   */
  readonly announceDecision = (decision: MatchDecision): void => {
    const news = decision.outcome === 'matched' || decision.watchlistLabel !== undefined;
    if (news && isAttachedDecision(decision)) this.options.publisher.publishMatchInTransaction(buildMatchMessage(decision, this.options.snapshots));
  };

  /** Resolves when every event handed to the publisher so far is in the outbox. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private track(committed: Promise<void>): Promise<void> {
    const tracked = committed.catch((error: unknown) => this.log.error('outbox-write', { err: error }, 'event could not be stored in the outbox'));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
    return tracked;
  }
}
