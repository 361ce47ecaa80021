/**
 * The identity stage: decides who each track is (early, once a live track has its best
 * crops, and again when it ends), annotates every track event with its identity and
 * announces the decisions.
 */
import { randomUUID } from 'node:crypto';
import { isoTime } from '../core/json-values.js';
import type { Logger } from '../core/logger.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import type { StorageGuard } from '../storage/storage-guard.js';
import type { MatchDecision } from '../match/decision.js';
import type { MatchableTrack, Matcher } from '../match/matcher.js';
import type { TrackSighting } from '../pipeline/camera-pipeline.js';
import type { DaemonEvents, TrackEvent } from './daemon-events.js';
import type { EventBus } from './event-bus.js';

export interface MatchStageOptions {
  bus: EventBus<DaemonEvents>;
  matcher: Pick<Matcher, 'decide'>;
  logger: Logger;
  /** Runs inside the transaction of each decision that is news (the publish stage's outbox write). */
  announce?: (decision: MatchDecision) => void;
  /** Checked (and made room in) before decisions, at most once a second, and after a failed write. */
  storage?: Pick<StorageGuard, 'check'>;
  /** Decisions whose write failed are held in memory (oldest dropped beyond this) and retried; default 10,000. */
  maxHeld?: number;
  now?: () => number;
}

/** What a decision compares: a track's embedding, and its parts from a part model. */
type TrackAppearance = Pick<MatchableTrack, 'embedding' | 'parts'>;

/** A track whose decision could not be written yet. */
interface HeldDecision {
  sighting: TrackSighting;
  appearance: TrackAppearance;
}

const STORAGE_CHECK_INTERVAL_MS = 1000;

/** A repeat decision (the end of a track decided early) refines the gallery; it is not news, unless it is a late match. */
const isNews = (decision: MatchDecision): boolean => decision.updateOf === undefined || decision.lateMatch === true;

const trackKey = (sighting: Pick<TrackSighting, 'cameraId' | 'trackId' | 'firstSeenAt'>) => `${sighting.cameraId}#${sighting.trackId}#${sighting.firstSeenAt}`;

/** `right#7 ← left#3, similarity 0.78 ...`: the readable line an operator tails. */
export function describeMatch(decision: MatchDecision): string {
  const side = (ref: { cameraId: string; trackId: number; lastSeenAt: number }) =>
    `${ref.cameraId}#${ref.trackId} (${isoTime(ref.lastSeenAt).slice(11, 19)})`;
  const matched = decision.matched ? side(decision.matched) : 'enrolment';
  const label = decision.watchlistLabel !== undefined ? ` [watch list: ${decision.watchlistLabel}]` : '';
  const figures = [
    decision.similarity !== undefined ? `similarity ${decision.similarity.toFixed(3)}` : undefined,
    decision.margin !== undefined ? `margin ${decision.margin.toFixed(3)}` : undefined,
    `${decision.candidates} candidate${decision.candidates === 1 ? '' : 's'}`,
    decision.confidence !== undefined ? `confidence ${decision.confidence.toFixed(2)}${decision.highConfidence ? '' : ' (low)'}` : undefined,
  ].filter(Boolean);
  return `match ${decision.identityId}${label}: ${side(decision.sighting)} ← ${matched}, ${figures.join(', ')}`;
}

export class MatchStage {
  /** Identity of each live track decided early. */
  private readonly identities = new Map<string, string>();
  /** Tracks being followed now (their stored sightings end at their early decision). */
  private readonly live = new Set<string>();
  private readonly isLive = (ref: { cameraId: string; trackId: number; firstSeenAt: number }) => this.live.has(trackKey(ref));
  private readonly unsubscribe: (() => void)[] = [];
  private readonly held: HeldDecision[] = [];
  private readonly log: RateLimitedLog;
  private droppedHeld = 0;
  private storageCheckedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: MatchStageOptions) {
    this.log = new RateLimitedLog(options.logger, 60_000, options.now);
  }

  start(): void {
    const { bus } = this.options;
    this.unsubscribe.push(
      bus.on('trackReady', 'match', ({ sighting, embedding, parts }) => {
        const decision = this.decide(sighting, { embedding, ...(parts ? { parts } : {}) });
        if (decision) this.identities.set(trackKey(sighting), decision.identityId);
      }),
      bus.on('track', 'match', (event) => this.onTrack(event)),
    );
  }

  stop(): void {
    this.unsubscribe.splice(0).forEach((off) => off());
  }

  private onTrack(event: TrackEvent): void {
    const key = trackKey(event.sighting);
    let identityId = this.identities.get(key) ?? null;
    if (event.type === 'new') this.live.add(key);
    if (event.type === 'end') {
      this.live.delete(key);
      this.identities.delete(key);
      identityId = this.decide(event.sighting, { embedding: event.embedding, ...(event.parts ? { parts: event.parts } : {}) })?.identityId ?? identityId;
    }
    this.options.bus.emit('sighting', {
      eventId: randomUUID(),
      type: event.type,
      at: event.at,
      track: event.sighting,
      identityId,
      zones: event.zones,
    });
  }

  /** Decisions waiting for storage room. */
  heldDecisions(): number {
    return this.held.length;
  }

  /** Retries the held decisions, oldest first, until one fails again (the daemon calls it periodically). */
  retryHeld(): void {
    while (this.held.length > 0) {
      const { sighting, appearance } = this.held[0]!;
      if (!this.tryDecide(sighting, appearance).written) return;
      this.held.shift();
    }
  }

  private decide(sighting: TrackSighting, appearance: TrackAppearance): MatchDecision | undefined {
    if (!appearance.embedding) return undefined;
    const now = (this.options.now ?? Date.now)();
    if (this.options.storage && now - this.storageCheckedAt >= STORAGE_CHECK_INTERVAL_MS) {
      this.storageCheckedAt = now;
      this.options.storage.check();
    }
    this.retryHeld();
    // Held decisions go first, in order: a new one waits behind them.
    let attempt: ReturnType<MatchStage['tryDecide']> = { written: false };
    if (this.held.length === 0) {
      attempt = this.tryDecide(sighting, appearance);
      if (!attempt.written) {
        // A failed write (disk or gallery full): make room and try once more.
        this.options.storage?.check();
        attempt = this.tryDecide(sighting, appearance);
      }
    }
    if (!attempt.written) {
      this.held.push({ sighting, appearance });
      const maxHeld = this.options.maxHeld ?? 10_000;
      if (this.held.length > maxHeld) {
        this.held.shift();
        this.droppedHeld += 1;
        this.log.error('decisions-dropped', { dropped: this.droppedHeld, maxHeld }, `more than ${maxHeld} decisions wait for storage room: the oldest was dropped`);
      }
      return undefined;
    }
    return attempt.decision;
  }

  /** One decision; a failed write is logged (rate-limited) and reported as not written. */
  private tryDecide(sighting: TrackSighting, appearance: TrackAppearance): { written: true; decision: MatchDecision | undefined } | { written: false; decision?: undefined } {
    const { announce } = this.options;
    let decision: MatchDecision | undefined;
    try {
      decision = this.options.matcher.decide(
        { ...sighting, ...appearance },
        { isLive: this.isLive, ...(announce ? { inTransaction: (taken: MatchDecision) => isNews(taken) && announce(taken) } : {}) },
      );
    } catch (error) {
      this.log.error('decision-write', { err: error, held: this.held.length + 1 }, `decision for ${sighting.cameraId}#${sighting.trackId} could not be written; held in memory and retried`);
      return { written: false };
    }
    if (decision) this.announced(sighting, decision);
    return { written: true, decision };
  }

  private announced(sighting: TrackSighting, decision: MatchDecision): void {
    this.options.logger.debug(
      { camera: sighting.cameraId, track: sighting.trackId, identity: decision.identityId, outcome: decision.outcome, similarity: decision.similarity, candidates: decision.candidates, repeat: decision.updateOf !== undefined },
      `decision ${decision.outcome} ${decision.identityId} for ${sighting.cameraId}#${sighting.trackId}`,
    );
    for (const merge of decision.merges ?? []) {
      this.options.logger.info({ merge }, `merged ${merge.merged.join(', ')} into ${merge.kept} (${merge.reason}, similarity ${merge.similarity.toFixed(3)})`);
      this.options.bus.emit('identitiesMerged', merge);
    }
    if (isNews(decision)) {
      if (decision.outcome === 'matched' || decision.watchlistLabel !== undefined) this.options.logger.info({ identity: decision.identityId, event: decision.eventId }, describeMatch(decision));
      this.options.bus.emit('decision', decision);
    }
  }
}
