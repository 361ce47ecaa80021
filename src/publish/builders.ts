import type { AdapterChange, AdaptationStatus } from '../adapt/adaptation.js';
import type { AdapterScore } from '../adapt/adapter-check.js';
import type { StorageReport } from '../storage/storage-guard.js';
import { boxArray, isoTime, round } from '../core/json-values.js';
import type { CameraStatus } from '../ingest/camera-status.js';
import type { MatchDecision, SightingRef } from '../match/decision.js';
import type { TrackSighting } from '../pipeline/camera-pipeline.js';
import type { IdentityMerge, TrackKey } from '../gallery/records.js';
import type { AdapterMessage, CameraStatsEntry, CameraStatusMessage, IdentitiesMergedMessage, MatchMessage, MatchSide, SightingMessage, StatsMessage } from './messages.js';

/*
 * Pure mappings from domain objects (camelCase, ms since epoch) to MQTT payloads
 * (snake_case, ISO times). Figures are rounded to what a subscriber can use, which keeps
 * messages short and stable to read.
 */

export type SightingEventType = SightingMessage['type'];

/** Where a track's snapshots are served; null when they are not (snapshots or HTTP off). */
export type SnapshotLinker = (track: TrackKey) => SightingMessage['snapshot'];
const NO_SNAPSHOTS: SnapshotLinker = () => null;

export interface SightingEvent {
  eventId: string;
  type: SightingEventType;
  /** Wall-clock time of the event (ms since epoch). */
  at: number;
  track: Pick<
    TrackSighting,
    'cameraId' | 'trackId' | 'objectClass' | 'box' | 'score' | 'lastPts' | 'firstSeenAt' | 'lastSeenAt' | 'quality' | 'bestCrop'
  >;
  identityId: string | null;
  zones: readonly string[];
}

export interface CameraStatsSnapshot {
  cameraId: string;
  fps: number;
  processedFrames: number;
  skippedFrames: number;
  /** Means over the stats interval; null when nothing was processed in it. */
  pipelineMs: number | null;
  latencyMs: number | null;
  /** People tracked now. */
  people: number;
}

export interface StatsSnapshot {
  at: number;
  uptimeS: number;
  cameras: readonly CameraStatsSnapshot[];
  gallery: { identities: number; sightings: number };
  matchesLastHour: number;
  storage: StorageReport & { heldDecisions: number };
  outbox: { pending: number; dropped: number };
  /** Execution provider per model role. */
  providers: Readonly<Record<string, string>>;
  process: { cpuPercent: number; rssBytes: number };
  adapter: Omit<AdaptationStatus, 'versions'>;
}

export function buildCameraStatusMessage(status: CameraStatus): CameraStatusMessage {
  return {
    camera: status.cameraId,
    state: status.state,
    fps: round(status.fps, 2),
    last_frame_time: status.lastFrameAt === null ? null : isoTime(status.lastFrameAt),
    reconnects: status.reconnects,
    skipped_frames: status.skippedFrames,
    last_error: status.lastError,
    since: isoTime(status.since),
  };
}

export function buildSightingMessage(event: SightingEvent, snapshots: SnapshotLinker = NO_SNAPSHOTS): SightingMessage {
  const { track } = event;
  return {
    event_id: event.eventId,
    type: event.type,
    camera: track.cameraId,
    track_id: track.trackId,
    class: track.objectClass,
    time: isoTime(event.at),
    first_seen: isoTime(track.firstSeenAt),
    last_seen: isoTime(track.lastSeenAt),
    box: boxArray(track.box),
    pts: round(track.lastPts, 3),
    score: round(track.score, 3),
    quality: round(track.quality, 3),
    identity: event.identityId,
    zones: [...event.zones],
    snapshot: track.bestCrop ? snapshots(track) : null,
  };
}

function matchSide(ref: SightingRef, snapshots: SnapshotLinker): MatchSide {
  return {
    camera: ref.cameraId,
    track_id: ref.trackId,
    first_seen: isoTime(ref.firstSeenAt),
    last_seen: isoTime(ref.lastSeenAt),
    pts: round(ref.pts, 3),
    box: boxArray(ref.box),
    quality: round(ref.quality, 3),
    snapshot: snapshots(ref),
  };
}

/** A decision that attached the track to a known identity (`matched` or `reappeared`). */
export type AttachedDecision = MatchDecision & { similarity: number; margin: number };

export function isAttachedDecision(decision: MatchDecision): decision is AttachedDecision {
  return decision.outcome !== 'new-identity' && decision.similarity !== undefined && decision.margin !== undefined;
}

export function buildMatchMessage(decision: AttachedDecision, snapshots: SnapshotLinker = NO_SNAPSHOTS): MatchMessage {
  return {
    event_id: decision.eventId,
    identity: decision.identityId,
    class: decision.objectClass,
    time: isoTime(decision.decidedAt),
    sighting: matchSide(decision.sighting, snapshots),
    matched: decision.matched ? matchSide(decision.matched, snapshots) : null,
    watchlist_label: decision.watchlistLabel ?? null,
    similarity: round(decision.similarity, 4),
    margin: round(decision.margin, 4),
    candidates: decision.candidates,
    confidence: decision.confidence === undefined ? null : round(decision.confidence, 4),
    // A matcher that does not split by confidence treats every decision as high-confidence.
    low_confidence: decision.highConfidence === false,
    late: decision.lateMatch === true,
  };
}

export function buildIdentitiesMergedMessage(merge: IdentityMerge): IdentitiesMergedMessage {
  return {
    // One merge per kept identity and millisecond: a stable id, so redelivery can be de-duplicated.
    event_id: `merge-${merge.kept}-${merge.at}`,
    class: merge.objectClass,
    time: isoTime(merge.at),
    kept: merge.kept,
    merged: [...merge.merged],
    similarity: round(merge.similarity, 4),
    reason: merge.reason,
    moved_sightings: merge.movedSightings,
  };
}

export function buildAdapterMessage(change: AdapterChange): AdapterMessage {
  const figures = (score: AdapterScore) => ({
    camera_mixing: round(score.cameraMixing, 4),
    self_consistency: round(score.selfConsistency, 4),
    pair_agreement: round(score.pairAgreement, 4),
  });
  return {
    // One change per action and millisecond: a stable id, so redelivery can be de-duplicated.
    event_id: `adapter-${change.action}-${change.at}`,
    time: isoTime(change.at),
    action: change.action,
    active_version: change.active,
    previous_version: change.previous,
    candidate: change.candidate ? { version: change.candidate.version, figures: figures(change.candidate.score), active_figures: figures(change.candidate.activeScore) } : null,
  };
}

function cameraStats(camera: CameraStatsSnapshot): CameraStatsEntry {
  return {
    camera: camera.cameraId,
    fps: round(camera.fps, 2),
    processed: camera.processedFrames,
    skipped: camera.skippedFrames,
    pipeline_ms: camera.pipelineMs === null ? null : round(camera.pipelineMs, 1),
    latency_ms: camera.latencyMs === null ? null : round(camera.latencyMs, 1),
    people: camera.people,
  };
}

export function buildStatsMessage(snapshot: StatsSnapshot): StatsMessage {
  return {
    time: isoTime(snapshot.at),
    uptime_s: round(snapshot.uptimeS, 1),
    cameras: snapshot.cameras.map(cameraStats),
    gallery: { ...snapshot.gallery },
    matches_last_hour: snapshot.matchesLastHour,
    storage: {
      state: snapshot.storage.state,
      used_mb: round(snapshot.storage.usedBytes / 2 ** 20, 1),
      limit_mb: round(snapshot.storage.limitBytes / 2 ** 20, 1),
      disk_free_mb: Number.isFinite(snapshot.storage.diskFreeBytes) ? round(snapshot.storage.diskFreeBytes / 2 ** 20, 1) : -1,
      pruned_sightings: snapshot.storage.prunedSightings,
      held_decisions: snapshot.storage.heldDecisions,
    },
    outbox: { ...snapshot.outbox },
    providers: { ...snapshot.providers },
    process: { cpu_percent: round(snapshot.process.cpuPercent, 1), rss_mb: round(snapshot.process.rssBytes / 2 ** 20, 1) },
    adapter: {
      active_version: snapshot.adapter.active,
      training: snapshot.adapter.progress,
      logged_tracks: snapshot.adapter.loggedTracks,
    },
  };
}
