import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { Detection } from '../src/core/types.js';
import type { CameraStatus } from '../src/ingest/camera-status.js';
import type { LiveFrame } from '../src/ingest/camera-source.js';
import type { MatchDecision } from '../src/match/decision.js';
import type { MatchableTrack } from '../src/match/matcher.js';
import { CameraPipeline, type TrackSighting } from '../src/pipeline/camera-pipeline.js';
import type { SightingEvent } from '../src/publish/builders.js';
import { CameraWorker } from '../src/service/camera-worker.js';
import type { DaemonEvents, TrackEvent } from '../src/service/daemon-events.js';
import { EventBus } from '../src/service/event-bus.js';
import { describeMatch, MatchStage } from '../src/service/match-stage.js';

const silent = pino({ level: 'silent' });

function record(bus: EventBus<DaemonEvents>) {
  const seen = { track: [] as TrackEvent[], trackReady: [] as TrackSighting[], sighting: [] as SightingEvent[], decision: [] as MatchDecision[], status: [] as CameraStatus[] };
  bus.on('track', 'test', (e) => seen.track.push(e));
  bus.on('trackReady', 'test', (e) => seen.trackReady.push(e.sighting));
  bus.on('sighting', 'test', (e) => seen.sighting.push(e));
  bus.on('decision', 'test', (e) => seen.decision.push(e));
  bus.on('cameraStatus', 'test', (e) => seen.status.push(e));
  return seen;
}

/** A camera source that plays scripted frames: (session, index) pairs, 5 fps. */
class ScriptedSource extends EventEmitter {
  readonly cameraId = 'gate';
  private stopped = false;
  constructor(private readonly script: { session: number; index: number }[]) {
    super();
  }
  status(): CameraStatus {
    return { cameraId: 'gate', state: this.stopped ? 'offline' : 'online', fps: 5, lastFrameAt: null, reconnects: 0, skippedFrames: 0, lastError: null, since: 0 };
  }
  start(): void {}
  async stop(): Promise<void> {
    this.stopped = true;
    this.emit('status', this.status()); // as CameraSource: its final state change
  }
  async *frames(): AsyncGenerator<LiveFrame> {
    for (const { session, index } of this.script) {
      yield { cameraId: 'gate', session, index, pts: index / 5, receivedAt: 1_000_000 + session * 100_000 + index * 200, width: 400, height: 300, data: new Uint8Array(0) };
    }
  }
}

test('camera worker: the status is re-emitted every status interval with its current fps, and not after stop', async () => {
  const bus = new EventBus<DaemonEvents>(silent);
  const seen = record(bus);
  let release: () => void = () => undefined;
  const source = new (class extends ScriptedSource {
    override async *frames(): AsyncGenerator<LiveFrame> {
      await new Promise<void>((resolve) => (release = resolve)); // no frames: status only
    }
  })([]);
  const pipeline = new CameraPipeline({
    cameraId: 'gate',
    detector: { detect: async () => [] },
    embedders: {},
    filter: { classes: ['person'], minScore: 0.3, minBoxHeight: 0, masks: [] },
    bestCrops: 3,
    minCropQuality: 0,
  });
  const worker = new CameraWorker({ source: source as never, pipeline, bus, logger: silent, zones: [], updateIntervalS: 1, statusIntervalS: 0.05 });
  worker.start();
  await new Promise((resolve) => setTimeout(resolve, 280));
  const stopping = worker.stop();
  release();
  await stopping;
  const online = seen.status.filter((status) => status.state === 'online');
  assert.ok(online.length >= 4, `re-emitted while running (${online.length} times in 280 ms at 50 ms)`);
  assert.ok(online.every((status) => status.fps === 5), 'with the current fps');
  const count = seen.status.length;
  await new Promise((resolve) => setTimeout(resolve, 120));
  assert.equal(seen.status.length, count, 'nothing after stop');
  assert.equal(seen.status.at(-1)!.state, 'offline');
});

const walker = (index: number): Detection[] => [{ box: { x1: 40 + 2 * index, y1: 100, x2: 80 + 2 * index, y2: 200 }, score: 0.9, objectClass: 'person' }];

test('camera worker: new, throttled updates, ready after K crops, tracks end at a new ffmpeg session and at stop, zones by foot point', async () => {
  const bus = new EventBus<DaemonEvents>(silent);
  const seen = record(bus);
  const frames = [...Array.from({ length: 20 }, (_, index) => ({ session: 1, index })), ...Array.from({ length: 6 }, (_, index) => ({ session: 2, index }))];
  const pipeline = new CameraPipeline({
    cameraId: 'gate',
    detector: { detect: async (frame) => walker(frame.index) },
    embedders: { person: { embed: async (_f, boxes) => boxes.map(() => ({ embedding: Float32Array.of(1, 0) })) } },
    filter: { classes: ['person'], minScore: 0.3, minBoxHeight: 0, masks: [] },
    bestCrops: 3,
    minCropQuality: 0,
  });
  const worker = new CameraWorker({
    source: new ScriptedSource(frames) as never,
    pipeline,
    bus,
    logger: silent,
    zones: [{ name: 'left-side', polygon: [[0, 0], [0.2, 0], [0.2, 1], [0, 1]] }],
    updateIntervalS: 1,
    readyAfterCrops: 3,
  });
  worker.start();
  await new Promise((resolve) => setTimeout(resolve, 50));
  await worker.stop();

  const types = seen.track.map((e) => `${e.type}:${e.sighting.trackId}`);
  // Session 1: confirmed at frame 2, updates every 1 s of media time (5 frames), ended when session 2 starts.
  assert.deepEqual(types, ['new:1', 'update:1', 'update:1', 'update:1', 'end:1', 'new:2', 'end:2']);
  const firstUpdates = seen.track.filter((e) => e.type === 'update').map((e) => e.sighting.lastFrameIndex);
  assert.deepEqual(firstUpdates, [7, 12, 17]);
  assert.deepEqual(seen.trackReady.map((s) => `${s.trackId}@${s.lastFrameIndex}`), ['1@4', '2@4'], 'three crops by frame 4 (frames 2, 3, 4) in each session');
  assert.ok(seen.track.find((e) => e.type === 'end' && e.sighting.trackId === 1)!.embedding, 'the end carries the embedding');
  // Foot point x = (box centre)/400: 0.15 at frame 0 (inside the zone) → 0.25 by frame 10 (outside).
  assert.deepEqual(seen.track[0].zones, ['left-side']);
  assert.deepEqual(seen.track.at(-1)!.zones, ['left-side'], 'session 2 restarts at the left');
  assert.deepEqual(seen.track.find((e) => e.sighting.lastFrameIndex === 17)!.zones, []);
  assert.deepEqual(seen.status.map((status) => status.state), ['online', 'offline'], 'one status at start, one offline at stop (not two)');
  const stats = worker.takeStats();
  assert.equal(stats.processedFrames, 26);
});

function decision(partial: Partial<MatchDecision>): MatchDecision {
  return {
    eventId: 'e1',
    identityId: 'person-000001',
    objectClass: 'person',
    outcome: 'matched',
    sighting: { cameraId: 'right', trackId: 7, objectClass: 'person', firstSeenAt: 10_000, lastSeenAt: 14_000, pts: 12, box: { x1: 0, y1: 0, x2: 1, y2: 2 }, quality: 0.5 },
    matched: { cameraId: 'left', trackId: 3, objectClass: 'person', firstSeenAt: 1_000, lastSeenAt: 6_000, pts: 5, box: { x1: 0, y1: 0, x2: 1, y2: 2 }, quality: 0.5 },
    similarity: 0.81,
    margin: 0.2,
    candidates: 4,
    confidence: 0.9,
    highConfidence: true,
    decidedAt: 15_000,
    ...partial,
  };
}

test('match stage: early decision annotates later sightings, the end decision refines silently, sightings carry the identity', () => {
  const bus = new EventBus<DaemonEvents>(silent);
  const seen = record(bus);
  const calls: MatchableTrack[] = [];
  const replies = [decision({}), decision({ eventId: 'e2', updateOf: 'e1' })];
  new MatchStage({ bus, matcher: { decide: (track) => (calls.push(track), replies.shift()) }, logger: silent }).start();
  const sighting = { ...decision({}).sighting, state: 'confirmed', score: 0.9, firstPts: 0, lastPts: 4, firstFrameIndex: 0, lastFrameIndex: 20, box: { x1: 0, y1: 0, x2: 1, y2: 2 } } as TrackSighting;
  bus.emit('track', { type: 'new', sighting, zones: [], at: 11_000 });
  bus.emit('trackReady', { sighting, embedding: Float32Array.of(1, 0) });
  bus.emit('track', { type: 'update', sighting, zones: ['door'], at: 12_000 });
  bus.emit('track', { type: 'end', sighting, zones: [], at: 16_000, embedding: Float32Array.of(0, 1) });
  bus.emit('track', { type: 'end', sighting: { ...sighting, trackId: 8 }, zones: [], at: 16_000 });

  assert.deepEqual(seen.sighting.map((s) => `${s.type}:${s.identityId}`), ['new:null', 'update:person-000001', 'end:person-000001', 'end:null']);
  assert.deepEqual(seen.sighting[1].zones, ['door']);
  assert.deepEqual(seen.decision.map((d) => d.eventId), ['e1'], 'the repeat decision at the end is not announced again');
  assert.equal(calls.length, 2, 'a track without an embedding is not decided');
  assert.deepEqual(Array.from(calls[1].embedding!), [0, 1], 'the end decision uses the final embedding');
});

test('match log line names both sides and the figures', () => {
  assert.equal(
    describeMatch(decision({})),
    'match person-000001: right#7 (00:00:14) ← left#3 (00:00:06), similarity 0.810, margin 0.200, 4 candidates, confidence 0.90',
  );
  assert.match(describeMatch(decision({ matched: undefined, watchlistLabel: 'red coat', highConfidence: false })), /^match person-000001 \[watch list: red coat\]: right#7 \(00:00:14\) ← enrolment, .*confidence 0\.90 \(low\)$/);
});

test('match stage: a decision whose write fails is held, retried in order once storage recovers, and the oldest dropped beyond maxHeld', () => {
  const bus = new EventBus<DaemonEvents>(silent);
  const seen = record(bus);
  let failing = true;
  const written: number[] = [];
  let checks = 0;
  const stage = new MatchStage({
    bus,
    logger: silent,
    maxHeld: 3,
    now: () => 0,
    storage: { check: () => (checks++, { state: 'ok', usedBytes: 0, limitBytes: 1, fileBytes: 0, diskFreeBytes: 0, prunedSightings: 0 }) },
    matcher: {
      decide: (track) => {
        if (failing) throw new Error('ENOSPC: no space left on device');
        written.push(track.trackId);
        return decision({ eventId: `e${track.trackId}`, sighting: { ...decision({}).sighting, trackId: track.trackId } });
      },
    },
  });
  stage.start();
  const base = { ...decision({}).sighting, state: 'confirmed', score: 0.9, firstPts: 0, lastPts: 4, firstFrameIndex: 0, lastFrameIndex: 20 } as TrackSighting;
  for (const trackId of [1, 2, 3, 4]) bus.emit('track', { type: 'end', sighting: { ...base, trackId }, zones: [], at: 16_000, embedding: Float32Array.of(1, 0) });
  assert.equal(stage.heldDecisions(), 3, 'held, the oldest (track 1) dropped beyond maxHeld');
  assert.ok(checks >= 2, 'storage was asked to make room after the failed write');
  assert.equal(seen.decision.length, 0);
  failing = false;
  stage.retryHeld();
  assert.deepEqual(written, [2, 3, 4], 'retried oldest first');
  assert.equal(stage.heldDecisions(), 0);
  assert.deepEqual(seen.decision.map((d) => d.eventId), ['e2', 'e3', 'e4'], 'and announced once written');
});
