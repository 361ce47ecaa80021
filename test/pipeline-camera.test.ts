import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Box } from '../src/core/geometry.js';
import type { Detection, Frame } from '../src/core/types.js';
import { dot } from '../src/core/vectors.js';
import { CameraPipeline, type CameraFrameResult } from '../src/pipeline/camera-pipeline.js';

const WIDTH = 640;
const HEIGHT = 480;

function frame(index: number, receivedAt = 1_000_000 + index * 200): Frame {
  return { cameraId: 'gate', index, pts: index * 0.2, receivedAt, width: WIDTH, height: HEIGHT, data: new Uint8Array(0) };
}

function person(x: number, y: number, height = 200, score = 0.9): Detection {
  return { box: { x1: x, y1: y, x2: x + height * 0.4, y2: y + height }, score, objectClass: 'person' };
}

/** Scripted detections per frame index. */
function scriptedDetector(script: (index: number) => Detection[]) {
  return { detect: async (f: Frame) => script(f.index) };
}

/** Embeds a crop as a unit vector along an axis chosen by its x position, and records calls. */
function recordingEmbedder() {
  const calls: Box[][] = [];
  return {
    calls,
    embed: async (_frame: Frame, boxes: Box[]) => {
      calls.push(boxes);
      return boxes.map((box) => {
        const v = new Float32Array(4);
        v[box.x1 < WIDTH / 2 ? 0 : 1] = 1;
        return { embedding: v };
      });
    },
  };
}

const FILTER = { classes: ['person', 'car'] as const, minScore: 0.3, minBoxHeight: 0, masks: [] };

async function run(pipeline: CameraPipeline, frames: number): Promise<CameraFrameResult[]> {
  const results: CameraFrameResult[] = [];
  for (let i = 0; i < frames; i++) results.push(await pipeline.process(frame(i)));
  return results;
}

test('a walking person becomes one track, confirmed after 3 hits, ended after max lost time with its embedding', async () => {
  const embedder = recordingEmbedder();
  const pipeline = new CameraPipeline({
    cameraId: 'gate',
    detector: scriptedDetector((i) => (i < 10 ? [person(100 + 5 * i, 100)] : [])),
    embedders: { person: embedder },
    filter: { ...FILTER, classes: ['person'] },
    tracker: { confirmHits: 3, maxLostSeconds: 1 },
    bestCrops: 3,
    minCropQuality: 0,
  });
  const results = await run(pipeline, 20);
  const started = results.flatMap((r, i) => r.started.map((s) => ({ i, s })));
  assert.equal(started.length, 1);
  assert.equal(started[0].i, 2, 'confirmed on the third hit');
  assert.equal(started[0].s.trackId, 1);
  assert.equal(started[0].s.firstFrameIndex, 0);
  assert.equal(started[0].s.firstSeenAt, 1_000_000, 'wall clock of the first detection, derived from pts');
  const ended = results.flatMap((r) => r.ended);
  assert.equal(ended.length, 1);
  assert.equal(ended[0].lastFrameIndex, 9);
  assert.equal(ended[0].lastSeenAt, 1_000_000 + 9 * 200);
  assert.ok(ended[0].embedding);
  assert.ok(Math.abs(dot(ended[0].embedding!, ended[0].embedding!) - 1) < 1e-6, 'unit length');
  assert.equal(ended[0].embedding![0], 1, 'every crop embedded along axis 0');
  assert.equal(ended[0].crops, 3);
  assert.ok(ended[0].bestCrop && ended[0].quality > 0);
});

test('crops are embedded only while they can improve the best K, in one batch per frame', async () => {
  const embedder = recordingEmbedder();
  const pipeline = new CameraPipeline({
    cameraId: 'gate',
    // Two people, same size every frame: after K crops each, equal quality cannot improve the top K.
    detector: scriptedDetector(() => [person(50, 100), person(400, 100)]),
    embedders: { person: embedder },
    filter: FILTER,
    bestCrops: 2,
    minCropQuality: 0,
  });
  await run(pipeline, 8);
  // Tracks are confirmed on frame 2 and embedded on frames 2 and 3, two crops per call.
  assert.deepEqual(embedder.calls.map((c) => c.length), [2, 2]);
  const [ended1, ended2] = pipeline.finish();
  assert.equal(ended1.embedding![0], 1);
  assert.equal(ended2.embedding![1], 1);
});

test('class without a re-ID model, masked detections and low-quality crops give tracks without embeddings', async () => {
  const embedder = recordingEmbedder();
  const car: Detection = { box: { x1: 300, y1: 300, x2: 450, y2: 400 }, score: 0.9, objectClass: 'car' };
  const masked = person(20, 260); // foot point (0.05, 0.96) inside the bottom-left mask
  const tiny = person(500, 50, 20); // 20 px tall: quality 0
  const pipeline = new CameraPipeline({
    cameraId: 'gate',
    detector: scriptedDetector(() => [car, masked, tiny]),
    embedders: { person: embedder },
    filter: { ...FILTER, masks: [[[0, 0.8], [0.2, 0.8], [0.2, 1], [0, 1]]] },
    bestCrops: 5,
    minCropQuality: 0.1,
  });
  const results = await run(pipeline, 5);
  assert.ok(results.every((r) => r.detections.length === 2), 'the masked person is dropped');
  const ended = pipeline.finish();
  assert.deepEqual(ended.map((t) => t.objectClass).sort(), ['car', 'person']);
  assert.ok(ended.every((t) => t.embedding === undefined && t.crops === 0));
  assert.equal(embedder.calls.length, 0);
});

test('a track keeps the wall-clock start it was first reported with, however frame arrival jitters', async () => {
  const pipeline = new CameraPipeline({
    cameraId: 'gate',
    detector: scriptedDetector((i) => [person(100 + 5 * i, 100)]),
    embedders: {},
    filter: FILTER,
    bestCrops: 3,
    minCropQuality: 0,
  });
  const starts = new Set<number>();
  for (let i = 0; i < 12; i++) {
    // Frames arrive 0-37 ms late: the derived start would move with each one.
    const result = await pipeline.process(frame(i, 1_000_000 + i * 200 + ((i * 37) % 38)));
    for (const s of [...result.started, ...result.updated]) starts.add(s.firstSeenAt);
  }
  const ended = pipeline.finish();
  starts.add(ended[0].firstSeenAt);
  assert.equal(starts.size, 1, `one start time, got ${[...starts].join(', ')}`);
});

test('crops go through the camera colour table, and person crops (not vehicles) teach the camera colour', async () => {
  const table = new Float32Array(768);
  const observed: { cameraId: string; boxes: Box[] }[] = [];
  const colour = {
    table: (cameraId: string) => (cameraId === 'gate' ? table : undefined),
    observe: (cameraId: string, _frame: unknown, boxes: readonly Box[]) => void observed.push({ cameraId, boxes: [...boxes] }),
  };
  const tables: (Float32Array | undefined)[] = [];
  const embed = async (_frame: Frame, boxes: readonly Box[], options: { colourTable?: Float32Array } = {}) => {
    tables.push(options.colourTable);
    return boxes.map(() => ({ embedding: Float32Array.of(1, 0, 0, 0) }));
  };
  const car = (x: number): Detection => ({ box: { x1: x, y1: 300, x2: x + 120, y2: 380 }, score: 0.9, objectClass: 'car' });
  const pipeline = new CameraPipeline({
    cameraId: 'gate',
    detector: scriptedDetector((i) => (i < 5 ? [person(100 + 5 * i, 50), car(400 + 5 * i)] : [])),
    embedders: { person: { embed }, car: { embed } },
    filter: FILTER,
    tracker: { confirmHits: 1 },
    bestCrops: 5,
    minCropQuality: 0,
    colour,
  });
  await run(pipeline, 5);
  assert.ok(tables.length >= 2 && tables.every((t) => t === table), 'every embedding call had the camera table');
  assert.ok(observed.length > 0 && observed.every((o) => o.cameraId === 'gate' && o.boxes.length === 1 && o.boxes[0]!.x1 < 300), 'person boxes only');
});
