/**
 * gallery.map_size_mb is a real limit and a full disk loses no decision: the storage guard
 * prunes the oldest sightings (and identities left empty) to make room, decisions keep being
 * written, and the log gets one line per kind per minute.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStateStore, storageUsage } from '../src/core/state-store.js';
import { OBJECT_CLASSES, type ObjectClass } from '../src/core/types.js';
import { normalised } from '../src/core/vectors.js';
import { RAW_SPACE } from '../src/features/feature-space.js';
import { Gallery } from '../src/gallery/gallery.js';
import { Matcher, type ClassMatchingOptions } from '../src/match/matcher.js';
import type { TrackSighting } from '../src/pipeline/camera-pipeline.js';
import { Outbox } from '../src/publish/outbox.js';
import type { DaemonEvents } from '../src/service/daemon-events.js';
import { EventBus } from '../src/service/event-bus.js';
import { MatchStage } from '../src/service/match-stage.js';
import { StorageGuard } from '../src/storage/storage-guard.js';
import { memoryLogger } from './support/mqtt-fakes.js';

const CLASSES = Object.fromEntries(OBJECT_CLASSES.map((name) => [name, { threshold: 0.99, minMargin: 0.05 }])) as Record<ObjectClass, ClassMatchingOptions>;
const MB = 2 ** 20;

/** A deterministic 512-d unit vector: every track a new person. */
function embedding(seed: number): Float32Array {
  const values = new Float32Array(512);
  let state = seed * 2654435761 + 1;
  for (let i = 0; i < values.length; i++) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    values[i] = state / 2 ** 31 - 0.5;
  }
  return normalised(values);
}

function sighting(trackId: number, atMs: number): TrackSighting {
  const box = { x1: 10, y1: 10, x2: 50, y2: 130 };
  return {
    cameraId: trackId % 2 === 0 ? 'left' : 'right', trackId, objectClass: 'person', state: 'confirmed', score: 0.9, quality: 0.8, box,
    firstSeenAt: atMs, lastSeenAt: atMs + 2000, firstPts: 0, lastPts: 2, firstFrameIndex: 0, lastFrameIndex: 10,
    bestCrop: { pts: 1, frameIndex: 5, quality: 0.8, box },
  };
}

/** Runs `tracks` end-of-track decisions through a match stage guarded by `limitBytes`, on the store at `dir`. */
async function decideMany(dir: string, options: { tracks: number; limitBytes: number; outboxEvery?: number }) {
  const store = openStateStore({ path: dir, mapSizeMb: 16 });
  const { logger, records } = memoryLogger();
  let now = Date.parse('2026-01-01T00:00:00Z');
  const gallery = new Gallery({ store, space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  const matcher = new Matcher({ gallery, classes: CLASSES, windowS: 600, sameCamera: { enabled: true, minGapS: 10 }, minTrackQuality: 0.1, now: () => now });
  const storage = new StorageGuard({ store, dir, limitBytes: options.limitBytes, gallery, logger, now: () => now, reserveBytes: 256 * 1024, pruneBatch: 50 });
  const outbox = new Outbox(store, { maxMessages: 200, logger });
  const bus = new EventBus<DaemonEvents>(logger);
  const stage = new MatchStage({
    bus, matcher, logger, storage, now: () => now,
    // Every decision also writes an outbox message in its transaction, as in the daemon.
    announce: () => void outbox.enqueueInTransaction({ topic: 'crosscam/x/matches', payload: 'm'.repeat(600), qos: 1 }),
  });
  stage.start();
  const maxFile = { bytes: 0 };
  for (let trackId = 1; trackId <= options.tracks; trackId++) {
    now += 1500;
    bus.emit('track', { type: 'end', sighting: sighting(trackId, now - 2000), zones: [], at: now, embedding: embedding(trackId) });
    maxFile.bytes = Math.max(maxFile.bytes, storageUsage(store, dir).fileBytes);
  }
  gallery.refresh();
  const result = {
    report: storage.check(),
    held: stage.heldDecisions(),
    sightings: gallery.stats().sightings,
    newest: Array.from({ length: 50 }, (_, i) => options.tracks - i).filter((trackId) => gallery.sightingOfTrack(sighting(trackId, 0)) === undefined && !hasTrack(gallery, trackId)),
    maxFileBytes: maxFile.bytes,
    logLines: records.filter((record) => (record.level as number) >= 40),
  };
  await store.close();
  return result;
}

/** At most one storage line per minute of the simulated clock (1.5 s per track). */
function assertRateLimited(lines: Record<string, unknown>[], tracks: number): void {
  const minutes = Math.ceil((tracks * 1.5) / 60);
  const storageLines = lines.filter((line) => String(line.kind ?? '').startsWith('storage') || String(line.kind ?? '').startsWith('decision'));
  assert.ok(storageLines.length <= minutes + 1, `${storageLines.length} storage lines in ${minutes} minutes`);
}

function hasTrack(gallery: Gallery, trackId: number): boolean {
  for (const identity of gallery.identitiesOf('person')) if (gallery.sightingsOf(identity.id).some((s) => s.trackId === trackId)) return true;
  return false;
}

test('gallery.map_size_mb is a limit: the oldest sightings are pruned, the newest decisions are all kept', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-storage-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const limitBytes = 3 * MB;
  const result = await decideMany(dir, { tracks: 2500, limitBytes });
  assert.equal(result.report.state, 'ok');
  assert.ok(result.report.prunedSightings > 0, 'something was pruned');
  assert.ok(result.report.usedBytes <= limitBytes, `in use ${(result.report.usedBytes / MB).toFixed(2)} MB ≤ 3 MB`);
  assert.ok(result.maxFileBytes <= limitBytes * 1.1, `the file never grew past the limit (max ${(result.maxFileBytes / MB).toFixed(2)} MB)`);
  assert.deepEqual(result.newest, [], 'the 50 newest decisions are in the gallery');
  assert.equal(result.held, 0, 'no decision waits');
  assert.equal(result.sightings + result.report.prunedSightings, 2500, 'every decision was written: kept or pruned later as the oldest');
  assertRateLimited(result.logLines, 2500);
});

const canMount = process.getuid?.() === 0 && (() => {
  try {
    execFileSync('mount', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('a full disk (small tmpfs) loses no decision: room is made inside the database file', { skip: canMount ? false : 'needs root to mount a tmpfs', timeout: 120_000 }, async (t) => {
  const mountPoint = await mkdtemp(path.join(os.tmpdir(), 'crosscam-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint]);
  } catch (error) {
    t.skip(`tmpfs mount refused: ${(error as Error).message}`);
    await rm(mountPoint, { recursive: true, force: true });
    return;
  }
  t.after(async () => {
    execFileSync('umount', [mountPoint]);
    await rm(mountPoint, { recursive: true, force: true });
  });
  // The limit is far above the disk: only the disk is full.
  const result = await decideMany(path.join(mountPoint, 'gallery'), { tracks: 2500, limitBytes: 1024 * MB });
  assert.ok(result.report.prunedSightings > 0, 'the disk filled and sightings were pruned');
  assert.equal(result.held, 0, 'no decision waits in memory');
  assert.deepEqual(result.newest, [], 'the 50 newest decisions are in the gallery');
  assert.equal(result.sightings + result.report.prunedSightings, 2500, 'every decision was written');
  assertRateLimited(result.logLines, 2500);
});
