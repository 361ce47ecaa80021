/**
 * CPU of one frame snapshot (the frame copied, its boxes drawn, JPEG-encoded) on a PETS09-S2L1
 * frame with 6 tracked boxes, as an ended track's snapshot costs the daemon
 * (docs/performance.md, orchestration):
 *   node dist/bench/snapshot-encode.js [--boxes 6] [--rounds 40]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/core/logger.js';
import type { Frame } from '../src/core/types.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import type { TrackSighting } from '../src/pipeline/camera-pipeline.js';
import { SnapshotStore, snapshotId } from '../src/snapshots/snapshot-store.js';
import { PETS_VIDEO } from '../test/support/shared-data.js';

const { values } = parseArgs({ options: { boxes: { type: 'string', default: '6' }, rounds: { type: 'string', default: '40' } } });
let frame: Frame | undefined;
for await (const decoded of readFfmpegFrames({ url: PETS_VIDEO, cameraId: 'bench' })) {
  if (decoded.index === 60) {
    frame = { ...decoded, data: Uint8Array.from(decoded.data) };
    break;
  }
}
if (!frame) throw new Error(`${PETS_VIDEO} has fewer than 61 frames`);
const sightings = Array.from({ length: Number(values.boxes) }, (_, i): TrackSighting => {
  const box = { x1: 50 + i * 110, y1: 150, x2: 95 + i * 110, y2: 280 };
  return {
    cameraId: 'bench', trackId: 10 + i, objectClass: 'person', state: 'confirmed', box, score: 0.9, firstPts: 0, lastPts: 1, firstFrameIndex: 0, lastFrameIndex: frame!.index,
    firstSeenAt: 0, lastSeenAt: 1, quality: 0.8, bestCrop: { quality: 0.8, pts: 1, frameIndex: frame!.index, box },
  };
});
const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-bench-snapshots-'));
const logger = createLogger({ level: 'silent' });
// A fresh store each time, so each round copies, draws and encodes as a new track's snapshot does.
const once = () => {
  const store = new SnapshotStore({ dir, quality: 80, frameWidth: 960, logger });
  store.observe(frame!, { started: sightings, updated: [] });
  return store.read(snapshotId(sightings[0]!), 'frame');
};
for (let i = 0; i < 5; i++) await once();
const rounds = Number(values.rounds);
const cpuStarted = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < rounds; i++) await once();
const cpu = process.cpuUsage(cpuStarted);
await rm(dir, { recursive: true, force: true });
process.stdout.write(
  `${frame.width}x${frame.height}, ${sightings.length} boxes: ${((performance.now() - started) / rounds).toFixed(2)} ms wall, ` +
    `${((cpu.user + cpu.system) / 1000 / rounds).toFixed(2)} CPU ms per frame snapshot (copy, draw, JPEG)\n`,
);
