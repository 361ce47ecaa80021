import assert from 'node:assert/strict';
import { pbkdf2 } from 'node:crypto';
import { mkdtemp, readdir, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { createLogger } from '../src/core/logger.js';
import type { Frame } from '../src/core/types.js';
import type { Gallery } from '../src/gallery/gallery.js';
import type { TrackSighting } from '../src/pipeline/camera-pipeline.js';
import { EventBus } from '../src/service/event-bus.js';
import type { DaemonEvents } from '../src/service/daemon-events.js';
import { Scheduler } from '../src/service/scheduler.js';
import { snapshotId, SnapshotStore } from '../src/snapshots/snapshot-store.js';

const logger = createLogger({ level: 'silent' });

/** A 200×100 frame: left half red, right half blue. */
function frame(index: number, pts: number): Frame {
  const width = 200;
  const height = 100;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(x < 100 ? [220, 20, 20] : [20, 20, 220], (y * width + x) * 3);
  }
  return { cameraId: 'gate', index, pts, receivedAt: 1_000_000 + pts * 1000, width, height, data };
}

function sighting(trackId: number, box: TrackSighting['box'], frameIndex: number): TrackSighting {
  return {
    cameraId: 'gate', trackId, objectClass: 'person', state: 'confirmed', box, score: 0.9, firstPts: 0, lastPts: 1, firstFrameIndex: 0, lastFrameIndex: frameIndex,
    firstSeenAt: 1_000_000, lastSeenAt: 1_001_000, quality: 0.8, bestCrop: { quality: 0.8, pts: 1, frameIndex, box },
  };
}

test('snapshots: the best crop and its frame, live from memory, on disk once the track ends, removed by retention and by age', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-snapshots-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new SnapshotStore({ dir, quality: 90, frameWidth: 100, logger });
  const red = sighting(1, { x1: 10, y1: 20, x2: 50, y2: 90 }, 3);
  const blue = sighting(2, { x1: 120, y1: 10, x2: 180, y2: 60 }, 3);
  const redFrame = frame(3, 1);
  store.observe(redFrame, { started: [red, blue], updated: [] });
  redFrame.data.fill(0); // the ingest reuses its buffers: the store kept its own copy

  // Live: encoded on request.
  const liveCrop = await store.read(snapshotId(red), 'crop');
  assert.ok(liveCrop);
  const decoded = await sharp(liveCrop).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([decoded.info.width, decoded.info.height], [40, 70], 'the crop is the box, full resolution');
  const [r, g, b] = decoded.data;
  assert.ok(r! > 180 && g! < 60 && b! < 60, `the red box's pixels (${r},${g},${b})`);
  const blueCrop = await sharp((await store.read(snapshotId(blue), 'crop'))!).raw().toBuffer();
  assert.ok(blueCrop[2]! > 180 && blueCrop[0]! < 60, 'the blue box is blue');
  const liveFrame = await sharp((await store.read(snapshotId(red), 'frame'))!).metadata();
  assert.deepEqual([liveFrame.width, liveFrame.height], [100, 50], 'frames are scaled to frame_width');
  assert.ok(await store.cameraFrame('gate'), "the camera's live view");

  // Ended: written to disk, then served from there.
  await store.end(red);
  await store.end(blue);
  assert.deepEqual((await readdir(dir)).sort(), [`${snapshotId(red)}-crop.jpg`, `${snapshotId(red)}-frame.jpg`, `${snapshotId(blue)}-crop.jpg`, `${snapshotId(blue)}-frame.jpg`].sort());
  assert.ok(await store.read(snapshotId(red), 'crop'));
  assert.equal(await store.read('../../etc/passwd', 'crop'), undefined, 'ids are checked before any path is built');

  // Retention: the gallery's expired sightings take their snapshots along; old orphans go by age.
  const gallery = { applyRetention: () => ({ sightings: 1, identities: 0, removedTracks: [{ cameraId: 'gate', trackId: 1, firstSeenAt: 1_000_000 }] }) } as unknown as Gallery;
  const scheduler = new Scheduler({
    gallery, bus: new EventBus<DaemonEvents>(logger), logger, retentionCron: '0 3 * * *', reclusterCron: null, mergeThreshold: 0.6,
    snapshots: store, snapshotMaxAgeMs: 30 * 86_400_000, now: () => Date.now(),
  });
  await scheduler.retention();
  assert.deepEqual((await readdir(dir)).sort(), [`${snapshotId(blue)}-crop.jpg`, `${snapshotId(blue)}-frame.jpg`], "the expired sighting's files are gone");
  const old = (Date.now() - 31 * 86_400_000) / 1000;
  await utimes(path.join(dir, `${snapshotId(blue)}-crop.jpg`), old, old);
  await scheduler.retention();
  assert.deepEqual(await readdir(dir), [`${snapshotId(blue)}-frame.jpg`], 'files older than the sightings retention are swept');
});

test('snapshot pixels live in pooled buffers: every copy returns when its holders are done, and an encode under way keeps its pixels', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-snapshots-pool-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new SnapshotStore({ dir, quality: 90, frameWidth: 100, logger });
  const box = { x1: 10, y1: 20, x2: 50, y2: 90 };
  store.observe(frame(3, 1), { started: [sighting(1, box, 3)], updated: [] });

  // The same box on a later frame whose pixels there are blue: the track's best crop improves while
  // its red crop is being encoded. The encode holds the red pixels, so the blue copy cannot reuse them.
  const blueFrame = frame(4, 1.2);
  for (let y = 0; y < 100; y++) for (let x = 0; x < 100; x++) blueFrame.data.set([20, 20, 220], (y * 200 + x) * 3);
  // sharp encodes on libuv's thread pool: kept busy, the encode cannot read its pixels before the new crop is copied.
  const busy = Array.from({ length: 8 }, () => new Promise((resolve) => pbkdf2('busy', 'pool', 200_000, 32, 'sha256', resolve)));
  const encoding = store.read(snapshotId(sighting(1, box, 3)), 'crop');
  store.observe(blueFrame, { started: [], updated: [sighting(1, box, 4)] });
  // A second track's crop of the same size, taken after the red crop was let go by its track: it
  // would reuse the red crop's buffer if the encode did not hold it.
  store.observe({ ...blueFrame, index: 5, pts: 1.4 }, { started: [sighting(3, { x1: 60, y1: 20, x2: 100, y2: 90 }, 5)], updated: [] });
  await Promise.all(busy);
  const [r, , b] = await sharp((await encoding)!).raw().toBuffer();
  assert.ok(r! > 180 && b! < 60, `the crop being encoded stayed red (${r}, ${b})`);
  const [r2, , b2] = await sharp((await store.read(snapshotId(sighting(1, box, 4)), 'crop'))!).raw().toBuffer();
  assert.ok(b2! > 180 && r2! < 60, 'the new best crop is blue');

  // Ended and written: the tracks' copies are back; the camera's live view still holds its frame.
  await store.end(sighting(1, box, 4));
  await store.end(sighting(3, box, 5));
  const frameBytes = 200 * 100 * 3;
  const held = store.pixelUsage();
  assert.ok(held.inUseBytes >= frameBytes && held.inUseBytes < 2 * frameBytes, `only the live view is held: ${JSON.stringify(held)}`);
  store.dropCamera('gate');
  assert.equal(store.pixelUsage().inUseBytes, 0);

  // The next track's copies come from the idle buffers: the pool does not grow.
  const idle = store.pixelUsage().idleBytes;
  store.observe(frame(10, 5), { started: [sighting(2, box, 10)], updated: [] });
  assert.equal(store.pixelUsage().idleBytes + store.pixelUsage().inUseBytes, idle);
  await store.remove([sighting(2, box, 10)]);
  store.dropCamera('gate');
  assert.equal(store.pixelUsage().inUseBytes, 0, 'remove() lets go of a live track');
});
