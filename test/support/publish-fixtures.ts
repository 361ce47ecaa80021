import type { RootDatabase } from '../../src/core/state-store.js';
import type { CameraStatus } from '../../src/ingest/camera-status.js';
import type { MatchMessage } from '../../src/publish/messages.js';
import type { MqttPublisher } from '../../src/publish/mqtt-publisher.js';
import type { AttachedDecision, SightingEvent, StatsSnapshot } from '../../src/publish/builders.js';

/** Realistic domain objects for the message builders (times in ms since epoch). */
export const T0 = Date.parse('2024-05-01T12:00:00.000Z');

export const cameraStatus: CameraStatus = {
  cameraId: 'gate-left',
  state: 'online',
  fps: 4.98765,
  lastFrameAt: T0 + 1234,
  reconnects: 2,
  skippedFrames: 17,
  lastError: null,
  since: T0 - 60_000,
};

export const sightingEvent: SightingEvent = {
  eventId: 'c7b5a3e0-6f0e-4d57-9d38-2f4b9a1e0c11',
  type: 'update',
  at: T0 + 2000,
  track: {
    cameraId: 'gate-left',
    trackId: 12,
    objectClass: 'person',
    box: { x1: 101.234, y1: 50.06, x2: 160.5, y2: 230.98 },
    score: 0.87654,
    lastPts: 41.2000001,
    firstSeenAt: T0 - 3000,
    lastSeenAt: T0 + 1900,
    quality: 0.71234,
  },
  identityId: 'id-000042',
  zones: ['entrance'],
};

export const matchDecision: AttachedDecision = {
  eventId: '5f1d2c1e-8a51-4a55-b1de-7f3f0b6b2a90',
  identityId: 'id-000042',
  objectClass: 'person',
  outcome: 'matched',
  sighting: {
    cameraId: 'gate-right',
    trackId: 7,
    objectClass: 'person',
    firstSeenAt: T0 + 10_000,
    lastSeenAt: T0 + 14_500,
    pts: 52.4,
    box: { x1: 20, y1: 40, x2: 75.55, y2: 210 },
    quality: 0.8,
  },
  matched: {
    cameraId: 'gate-left',
    trackId: 12,
    objectClass: 'person',
    firstSeenAt: T0 - 3000,
    lastSeenAt: T0 + 1900,
    pts: 40.8,
    box: { x1: 101.2, y1: 50.1, x2: 160.5, y2: 231 },
    quality: 0.71234,
  },
  similarity: 0.812345,
  margin: 0.123456,
  candidates: 5,
  confidence: 0.634567,
  highConfidence: true,
  decidedAt: T0 + 15_000,
};

export const statsSnapshot: StatsSnapshot = {
  at: T0 + 60_000,
  uptimeS: 3600.04,
  cameras: [
    { cameraId: 'gate-left', fps: 5, processedFrames: 18_000, skippedFrames: 17, pipelineMs: 61.234, latencyMs: 140.55, people: 3 },
    { cameraId: 'gate-right', fps: 4.996, processedFrames: 17_990, skippedFrames: 3, pipelineMs: null, latencyMs: null, people: 0 },
  ],
  gallery: { identities: 120, sightings: 2400 },
  matchesLastHour: 14,
  storage: { state: 'ok', usedBytes: 37.25 * 2 ** 20, limitBytes: 2048 * 2 ** 20, fileBytes: 40 * 2 ** 20, diskFreeBytes: 51_200 * 2 ** 20, prunedSightings: 0, heldDecisions: 0 },
  outbox: { pending: 0, dropped: 0 },
  providers: { detector: 'cpu', 'reid-person': 'cpu' },
  process: { cpuPercent: 73.25, rssBytes: 412 * 2 ** 20 + 123_456 },
  adapter: { running: true, progress: { epoch: 2, epochs: 3 }, active: 3, loggedTracks: 1840 },
};

/** A match as the daemon publishes it: inside the write transaction of its decision; resolves once handed on after the commit. */
export async function publishMatchCommitted(root: RootDatabase, publisher: MqttPublisher, message: MatchMessage): Promise<void> {
  root.transactionSync(() => publisher.publishMatchInTransaction(message));
  await new Promise((resolve) => setImmediate(resolve));
}
