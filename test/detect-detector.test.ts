import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { Detection, Frame } from '../src/core/types.js';
import { Detector, type DetectorOptions } from '../src/detect/detector.js';
import { modelEntrySchema, type DetectorModelEntry } from '../src/models/catalog-schema.js';
import { attr, buildOnnxModel } from '../src/runtime/onnx-graph.js';

// A 64x64 YOLOX-style detector with 3 classes: 84 grid points x (5 + 3) fields.
const entry = modelEntrySchema.parse({
  id: 'tiny-yolox',
  task: 'detector',
  file: 'tiny.onnx',
  sha256: '0'.repeat(64),
  sizeBytes: 1,
  licence: 'test',
  description: 'constant-output stand-in for a YOLOX detector',
  input: {
    name: 'images',
    layout: 'NCHW',
    dims: [1, 3, 64, 64],
    channelOrder: 'bgr',
    pixelScale: 1,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    resize: { mode: 'letterbox', padValue: 114, align: 'top-left' },
  },
  outputs: [{ name: 'output', dims: [1, 84, 8] }],
  detector: { decoder: { family: 'yolox', strides: [8, 16, 32] }, classMap: { '0': 'person', '1': 'car', '2': 'bus' } },
}) as DetectorModelEntry;

const PREDICTIONS: Record<number, number[]> = {
  // stride 8 cell (2,3): input box (12,10)-(28,42), person 0.72
  26: [0.5, 0.25, Math.log(2), Math.log(4), 0.9, 0.8, 0.1, 0.05],
  // stride 8 cell (3,3): the same box shifted 2 px right, person 0.4 -> suppressed by NMS
  27: [-0.25, 0.25, Math.log(2), Math.log(4), 0.5, 0.8, 0.1, 0.05],
  // stride 16 cell (1,0): input box (8,-16)-(24,32), bus 0.45
  65: [0, 0.5, 0, Math.log(3), 0.5, 0.1, 0.2, 0.9],
  // stride 32 cell (1,1): input box (24,8)-(72,88), car 0.6
  83: [0.5, 0.5, Math.log(1.5), Math.log(2.5), 1, 0.3, 0.6, 0.1],
};

/**
 * Probe anchor, stride 8 cell (0,5): input box (-4,36)-(4,44), class person, objectness =
 * mean of the network's input / 255, so its score shows what preprocessing fed the network.
 */
const PROBE_POINT = 40;

/** Output = the constant predictions, plus the input mean on the probe's objectness. */
function tinyDetectorModel(): Uint8Array {
  const values = new Array<number>(84 * 8).fill(0);
  for (const [point, preds] of Object.entries(PREDICTIONS)) values.splice(Number(point) * 8, 8, ...preds);
  values[PROBE_POINT * 8 + 5] = 1;
  const mask = new Array<number>(84 * 8).fill(0);
  mask[PROBE_POINT * 8 + 4] = 1;
  return buildOnnxModel({
    name: 'tiny_yolox',
    inputs: [{ name: 'images', type: 'float32', dims: [1, 3, 64, 64] }],
    outputs: [{ name: 'output', type: 'float32', dims: [1, 84, 8] }],
    initializers: [
      { name: 'predictions', type: 'float32', dims: [1, 84, 8], values },
      { name: 'probe_mask', type: 'float32', dims: [1, 84, 8], values: mask },
      { name: 'full_scale', type: 'float32', dims: [], values: [255] },
    ],
    nodes: [
      { op: 'ReduceMean', inputs: ['images'], outputs: ['mean'], attributes: { keepdims: attr.int(0) } },
      { op: 'Div', inputs: ['mean', 'full_scale'], outputs: ['probe_score'] },
      { op: 'Mul', inputs: ['probe_mask', 'probe_score'], outputs: ['probe'] },
      { op: 'Add', inputs: ['predictions', 'probe'], outputs: ['output'] },
    ],
  });
}

async function tinyDetector(overrides: Partial<DetectorOptions> = {}): Promise<Detector> {
  return new Detector({
    entry,
    session: await ort.InferenceSession.create(tinyDetectorModel()),
    openPreprocessSession: (model) => ort.InferenceSession.create(model),
    classes: ['person', 'car', 'bus'],
    minScore: 0.25,
    nmsIou: 0.45,
    minBoxHeight: 0,
    ...overrides,
  });
}

function frame(width: number, height: number, fill = 90): Frame {
  return { cameraId: 'cam', index: 0, pts: 0, receivedAt: 0, width, height, data: new Uint8Array(width * height * 3).fill(fill) };
}

const summary = (detections: Detection[]) =>
  detections.map((d) => ({ objectClass: d.objectClass, score: Math.round(d.score * 1e4) / 1e4, box: Object.values(d.box).map((v) => Math.round(v * 1e3) / 1e3) }));

test('detect(): preprocessing, network, decoding, NMS and mapping to frame pixels, end to end', async () => {
  const detector = await tinyDetector();
  // 128x96 -> letterbox scale 0.5 (64x48 + 16 pad rows): frame box = input box x2, clipped to 128x96;
  // the probe sees 3/4 image (90) and 1/4 pad (114): mean 96
  assert.deepEqual(summary(await detector.detect(frame(128, 96))), [
    { objectClass: 'person', score: 0.72, box: [24, 20, 56, 84] },
    { objectClass: 'car', score: 0.6, box: [48, 16, 128, 96] },
    { objectClass: 'bus', score: 0.45, box: [16, 0, 48, 64] },
    { objectClass: 'person', score: 0.3765, box: [0, 72, 8, 88] },
  ]);
  const timings = detector.lastTimings;
  assert.ok(timings.preprocessMs > 0 && timings.inferenceMs > 0 && timings.decodeMs > 0);
  // another frame size: its own preprocessing graph and mapping (scale 0.25)
  assert.deepEqual(summary(await detector.detect(frame(256, 256))).map((d) => [d.score, d.box]), [
    [0.72, [48, 40, 112, 168]],
    [0.6, [96, 32, 256, 256]],
    [0.45, [32, 0, 96, 128]],
    [0.3529, [0, 144, 16, 176]],
  ]);
  await detector.release();
});

test('detect(): class selection, minimum score and minimum box height', async () => {
  const personsOnly = await tinyDetector({ classes: ['person'], nmsIou: 0.95 });
  // without effective NMS the shifted duplicate (0.5 × 0.8) survives
  assert.deepEqual(summary(await personsOnly.detect(frame(128, 96))).map((d) => [d.objectClass, d.score]), [
    ['person', 0.72],
    ['person', 0.4],
    ['person', 0.3765],
  ]);
  await personsOnly.release();

  const strict = await tinyDetector({ minScore: 0.5, minBoxHeight: 70 });
  // bus (0.45) and the probe are under the score; person (64 px tall) is under the height; car is 80 px tall
  assert.deepEqual(summary(await strict.detect(frame(128, 96))).map((d) => d.objectClass), ['car']);
  await strict.release();
});

test('concurrent detect() calls are serialised: each result comes from its own frame', async () => {
  const detector = await tinyDetector({ classes: ['person'], minScore: 0.3 });
  const probeScores = (detections: Detection[]) => detections.filter((d) => d.box.y1 > 0 && d.box.x1 === 0).map((d) => Math.round(d.score * 1e4) / 1e4);
  // 64x64 frames fill the input exactly: the probe scores white as 1 and black as 0 (dropped)
  const [white, black, grey] = await Promise.all([detector.detect(frame(64, 64, 255)), detector.detect(frame(64, 64, 0)), detector.detect(frame(64, 64, 153))]);
  assert.deepEqual([probeScores(white), probeScores(black), probeScores(grey)], [[1], [], [0.6]]);
  await detector.release();
});

test('detect() with a yolov8-style output and a stretched input', async () => {
  const yolov8Entry = modelEntrySchema.parse({
    ...entry,
    id: 'tiny-yolov8',
    input: { ...entry.input, dims: [1, 3, 128, 128], channelOrder: 'rgb', pixelScale: '1/255', resize: { mode: 'stretch' } },
    outputs: [{ name: 'output', dims: [1, 6, 3] }],
    detector: { decoder: { family: 'yolov8' }, classMap: { '0': 'person', '1': 'car' } },
  }) as DetectorModelEntry;
  // rows: cx, cy, w, h, person, car for 3 points
  const values = [50, 0, 100, 60, 0, 100, 20, 5, 10, 40, 5, 10, 0.7, 0.1, 0.3, 0.2, 0.05, 0.9];
  const model = buildOnnxModel({
    name: 'tiny_yolov8',
    inputs: [{ name: 'images', type: 'float32', dims: [1, 3, 128, 128] }],
    outputs: [{ name: 'output', type: 'float32', dims: [1, 6, 3] }],
    initializers: [
      { name: 'predictions', type: 'float32', dims: [1, 6, 3], values },
      { name: 'zero', type: 'float32', dims: [], values: [0] },
    ],
    nodes: [
      { op: 'ReduceMean', inputs: ['images'], outputs: ['mean'], attributes: { keepdims: attr.int(0) } },
      { op: 'Mul', inputs: ['mean', 'zero'], outputs: ['nothing'] },
      { op: 'Add', inputs: ['predictions', 'nothing'], outputs: ['output'] },
    ],
  });
  const detector = new Detector({
    entry: yolov8Entry,
    session: await ort.InferenceSession.create(model),
    openPreprocessSession: (bytes) => ort.InferenceSession.create(bytes),
    classes: ['person', 'car'],
    minScore: 0.25,
    nmsIou: 0.45,
    minBoxHeight: 0,
  });
  // 256x64 stretched to 128x128: x halves, y doubles
  assert.deepEqual(summary(await detector.detect(frame(256, 64))), [
    { objectClass: 'car', score: 0.9, box: [190, 47.5, 210, 52.5] },
    { objectClass: 'person', score: 0.7, box: [80, 20, 120, 40] },
  ]);
  await detector.release();
});
