import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { Box } from '../src/core/geometry.js';
import type { Frame } from '../src/core/types.js';
import { Embedder } from '../src/embed/embedder.js';
import { modelEntrySchema, type ReidModelEntry } from '../src/models/catalog-schema.js';
import { attr, buildOnnxModel, type GraphNode } from '../src/runtime/onnx-graph.js';
import { TINY_PART_ENTRY, tinyPartModel } from './support/tiny-part-model.js';

const H = 8;
const W = 4;

function reidEntry(cameraInput: boolean): ReidModelEntry {
  const entry = modelEntrySchema.parse({
    id: 'tiny-reid',
    task: 'reid',
    file: 'tiny.onnx',
    sha256: '0'.repeat(64),
    sizeBytes: 1,
    licence: 'test',
    description: 'global average pool of the input: the embedding is the crop mean colour',
    input: {
      name: 'input',
      layout: 'NCHW',
      dims: ['batch', 3, H, W],
      channelOrder: 'rgb',
      pixelScale: 1,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      resize: { mode: 'stretch' },
    },
    outputs: [{ name: 'output', dims: ['batch', cameraInput ? 4 : 3] }],
    reid: {
      embeddingDim: cameraInput ? 4 : 3,
      objectClasses: ['person'],
      ...(cameraInput ? { cameraInput: { name: 'camera', type: 'int64', dims: ['batch'] } } : {}),
    },
  });
  assert.equal(entry.task, 'reid');
  return entry as ReidModelEntry;
}

/** Mean colour per crop; with a camera input, the index is appended as a fourth component. */
function tinyReidModel(cameraInput: boolean): Uint8Array {
  const pool: GraphNode[] = [
    { op: 'GlobalAveragePool', inputs: ['input'], outputs: ['pooled'] },
    { op: 'Flatten', inputs: ['pooled'], outputs: [cameraInput ? 'colour' : 'output'], attributes: { axis: attr.int(1) } },
  ];
  const camera: GraphNode[] = [
    { op: 'Cast', inputs: ['camera'], outputs: ['camera_f'], attributes: { to: attr.int(1) } },
    { op: 'Unsqueeze', inputs: ['camera_f', 'axis1'], outputs: ['camera_col'] },
    { op: 'Concat', inputs: ['colour', 'camera_col'], outputs: ['output'], attributes: { axis: attr.int(1) } },
  ];
  return buildOnnxModel({
    name: 'tiny_reid',
    inputs: [
      { name: 'input', type: 'float32', dims: ['batch', 3, H, W] },
      ...(cameraInput ? [{ name: 'camera', type: 'int64' as const, dims: ['batch'] }] : []),
    ],
    outputs: [{ name: 'output', type: 'float32', dims: ['batch', cameraInput ? 4 : 3] }],
    initializers: cameraInput ? [{ name: 'axis1', type: 'int64', dims: [1], values: [1] }] : [],
    nodes: cameraInput ? [...pool, ...camera] : pool,
  });
}

/** A 100x20 frame of ten 10x20 vertical stripes, stripe s coloured (10+20s, 200−15s, 7+3s). */
function stripedFrame(): Frame {
  const width = 100;
  const height = 20;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = Math.floor(x / 10);
      data.set([10 + 20 * s, 200 - 15 * s, 7 + 3 * s], (y * width + x) * 3);
    }
  }
  return { cameraId: 'cam', index: 0, pts: 0, receivedAt: 0, width, height, data };
}

const stripeColour = (s: number) => [10 + 20 * s, 200 - 15 * s, 7 + 3 * s];

function normalised(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

function assertClose(actual: Float32Array, expected: number[], message: string): void {
  assert.equal(actual.length, expected.length, message);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) < 1e-5, `${message}: [${Array.from(actual)}] vs [${expected}]`));
}

test('embeds more crops than one batch in order, in batches of at most batchSize, L2-normalised', async () => {
  const session = await ort.InferenceSession.create(tinyReidModel(false));
  const batches: number[] = [];
  const run = session.run.bind(session);
  session.run = ((feeds: Record<string, ort.Tensor>, ...rest: never[]) => {
    batches.push(feeds.input!.dims[0]!);
    return run(feeds, ...rest);
  }) as typeof session.run;
  const embedder = await Embedder.create({ entry: reidEntry(false), session, batchSize: 4 });
  const frame = stripedFrame();
  // 10 crops, one inside each stripe (2 px margin so no sample reaches the next stripe), in a scrambled order.
  const order = [3, 9, 0, 5, 1, 8, 2, 7, 6, 4];
  const boxes: Box[] = order.map((s) => ({ x1: s * 10 + 2, y1: 1, x2: s * 10 + 8, y2: 19 }));
  const embeddings = await embedder.embed(frame, boxes);
  assert.deepEqual(batches, [4, 4, 2]);
  assert.equal(embeddings.length, 10);
  embeddings.forEach(({ embedding: e, parts }, i) => {
    assertClose(e, normalised(stripeColour(order[i]!)), `crop ${i} (stripe ${order[i]})`);
    assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-6);
    assert.equal(parts, undefined, 'a model without parts gives none');
  });
  // Results are owned by the caller: a second call does not overwrite them.
  const again = await embedder.embed(frame, [boxes[5]!]);
  assertClose(embeddings[0]!.embedding, normalised(stripeColour(order[0]!)), 'first result after a second call');
  assertClose(again[0]!.embedding, normalised(stripeColour(order[5]!)), 'second call');
  assert.deepEqual(await embedder.embed(frame, []), []);
  await embedder.release();
  await session.release();
});

test('concurrent calls do not mix up crops (reused buffers are serialised)', async () => {
  const session = await ort.InferenceSession.create(tinyReidModel(false));
  const embedder = await Embedder.create({ entry: reidEntry(false), session, batchSize: 2 });
  const frame = stripedFrame();
  const box = (s: number): Box => ({ x1: s * 10 + 2, y1: 1, x2: s * 10 + 8, y2: 19 });
  const [a, b] = await Promise.all([embedder.embed(frame, [box(1), box(2), box(3)]), embedder.embed(frame, [box(7), box(8)])]);
  [1, 2, 3].forEach((s, i) => assertClose(a[i]!.embedding, normalised(stripeColour(s)), `a${i}`));
  [7, 8].forEach((s, i) => assertClose(b[i]!.embedding, normalised(stripeColour(s)), `b${i}`));
  await embedder.release();
  await session.release();
});

test('boxes are clipped to the frame before cropping', async () => {
  const session = await ort.InferenceSession.create(tinyReidModel(false));
  const embedder = await Embedder.create({ entry: reidEntry(false), session });
  // Hangs off the left edge: only stripe 0 is inside the frame.
  const [e] = await embedder.embed(stripedFrame(), [{ x1: -30, y1: -5, x2: 8, y2: 40 }]);
  assertClose(e!.embedding, normalised(stripeColour(0)), 'clipped crop');
  await embedder.release();
  await session.release();
});

test('a camera-aware model receives the camera index for every crop; without one the call fails', async () => {
  const session = await ort.InferenceSession.create(tinyReidModel(true));
  const embedder = await Embedder.create({ entry: reidEntry(true), session, batchSize: 2 });
  const frame = stripedFrame();
  const boxes: Box[] = [2, 4, 6].map((s) => ({ x1: s * 10 + 2, y1: 1, x2: s * 10 + 8, y2: 19 }));
  const embeddings = await embedder.embed(frame, boxes, { cameraIndex: 40 });
  embeddings.forEach((e, i) => assertClose(e.embedding, normalised([...stripeColour([2, 4, 6][i]!), 40]), `crop ${i}`));
  await assert.rejects(embedder.embed(frame, boxes), /needs a camera index/);
  await embedder.release();
  await session.release();
});

test('one batch across frames of several cameras gives each frame the embeddings it would get alone', async () => {
  const session = await ort.InferenceSession.create(tinyReidModel(true));
  const batches: number[] = [];
  const run = session.run.bind(session);
  session.run = ((feeds: Record<string, ort.Tensor>, ...rest: never[]) => {
    batches.push(feeds.input!.dims[0]!);
    return run(feeds, ...rest);
  }) as typeof session.run;
  const embedder = await Embedder.create({ entry: reidEntry(true), session, batchSize: 4 });
  const frame = stripedFrame();
  // The second camera's frame is the first one mirrored: stripe s sits where stripe 9−s was.
  const mirrored = { ...frame, data: new Uint8Array(frame.data.length) };
  for (let y = 0; y < frame.height; y++) for (let x = 0; x < frame.width; x++) mirrored.data.set(frame.data.subarray((y * frame.width + x) * 3, (y * frame.width + x) * 3 + 3), (y * frame.width + (frame.width - 1 - x)) * 3);
  const box = (s: number): Box => ({ x1: s * 10 + 2, y1: 1, x2: s * 10 + 8, y2: 19 });
  const results = await embedder.embedBatch([
    { frame, boxes: [box(1), box(2)], cameraIndex: 3 },
    { frame: mirrored, boxes: [box(1)], cameraIndex: 5 },
    { frame, boxes: [box(6), box(7)], cameraIndex: 3 },
  ]);
  assert.deepEqual(batches, [4, 1], 'five crops of three frames: one full batch and the rest');
  assert.deepEqual(results.map((list) => list.length), [2, 1, 2]);
  assertClose(results[0]![0]!.embedding, normalised([...stripeColour(1), 3]), 'frame 1 crop 1');
  assertClose(results[0]![1]!.embedding, normalised([...stripeColour(2), 3]), 'frame 1 crop 2');
  assertClose(results[1]![0]!.embedding, normalised([...stripeColour(8), 5]), 'mirrored frame: stripe 8, camera 5');
  assertClose(results[2]![0]!.embedding, normalised([...stripeColour(6), 3]), 'frame 3 crop 1');
  assertClose(results[2]![1]!.embedding, normalised([...stripeColour(7), 3]), 'frame 3 crop 2');
  await embedder.release();
  await session.release();
});

test('frames in shared memory (live ingest) embed the same as ordinary ones', async () => {
  const session = await ort.InferenceSession.create(tinyReidModel(false));
  const embedder = await Embedder.create({ entry: reidEntry(false), session });
  const frame = stripedFrame();
  const shared = new Uint8Array(new SharedArrayBuffer(frame.data.length));
  shared.set(frame.data);
  const [e] = await embedder.embed({ ...frame, data: shared }, [{ x1: 42, y1: 1, x2: 48, y2: 19 }]);
  assertClose(e!.embedding, normalised(stripeColour(4)), 'shared frame');
  await embedder.release();
  await session.release();
});

test('a part model: each crop also gets its parts (each unit length) and their visibilities, through batches', async () => {
  const entry = modelEntrySchema.parse({ ...reidEntry(false), ...TINY_PART_ENTRY(H, W) }) as ReidModelEntry;
  assert.deepEqual(entry.reid.parts, { output: 'parts', visibility: 'visibility', count: 2, dim: 3, weight: 0.5 });
  const session = await ort.InferenceSession.create(tinyPartModel(H, W));
  const embedder = await Embedder.create({ entry, session, batchSize: 2 });
  assert.deepEqual(embedder.partLayout, { count: 2, dim: 3 });
  // Rows 0-9 red-ish, rows 10-19 dark blue: a full-height crop stretched to 8 rows samples rows
  // at y = 2.5·i + 0.75, so its top 4 rows come from the top colour and its bottom 4 from the other.
  const top = [200, 40, 40];
  const bottom = [10, 10, 100];
  const frame = stripedFrame();
  for (let y = 0; y < frame.height; y++) for (let x = 0; x < frame.width; x++) frame.data.set(y < 10 ? top : bottom, (y * frame.width + x) * 3);
  const box = (x: number): Box => ({ x1: x, y1: 0, x2: x + 8, y2: 20 });
  const crops = await embedder.embed(frame, [box(2), box(30), box(60)]);
  assert.equal(crops.length, 3, 'three crops over two batches');
  for (const [i, crop] of crops.entries()) {
    assertClose(crop.embedding, normalised(top.map((t, c) => (t + bottom[c]!) / 2)), `crop ${i} global`);
    assertClose(crop.parts!.features, [...normalised(top), ...normalised(bottom)], `crop ${i} parts`);
    assertClose(crop.parts!.visibility, [280 / 3 / 255, 40 / 255], `crop ${i} visibility`);
  }
  await embedder.release();
  await session.release();
});
