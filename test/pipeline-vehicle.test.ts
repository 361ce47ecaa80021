import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { stringify } from 'yaml';
import type { Detection, Frame } from '../src/core/types.js';
import { CameraPipeline } from '../src/pipeline/camera-pipeline.js';
import { openVisionModels, readConfigFile } from '../src/pipeline/setup.js';
import { attr, buildOnnxModel } from '../src/runtime/onnx-graph.js';
import { TEST_MODELS_DIR } from './support/shared-data.js';

const skip = !existsSync(path.join(TEST_MODELS_DIR, 'yolox_nano.onnx')) && 'reference models not installed';
const SIDE = 256;

/** A vehicle re-ID stand-in at the vehicle profile's 256x256 input: the crop's mean colour. */
function tinyVehicleModel(): Uint8Array {
  return buildOnnxModel({
    name: 'tiny_vehicle_reid',
    inputs: [{ name: 'input', type: 'float32', dims: ['batch', 3, SIDE, SIDE] }],
    outputs: [{ name: 'output', type: 'float32', dims: ['batch', 3] }],
    nodes: [
      { op: 'GlobalAveragePool', inputs: ['input'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['output'], attributes: { axis: attr.int(1) } },
    ],
  });
}

async function setUp(t: TestContext, withVehicleModel: boolean) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-vehicle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const file of ['yolox_nano.onnx', 'osnet_x0_25_msmt17.onnx']) await copyFile(path.join(TEST_MODELS_DIR, file), path.join(dir, file));
  const model = tinyVehicleModel();
  await writeFile(path.join(dir, 'tiny_vehicle.onnx'), model);
  await writeFile(
    path.join(dir, 'extra-catalog.yaml'),
    stringify({
      models: [
        {
          id: 'tiny-vehicle',
          task: 'reid',
          file: 'tiny_vehicle.onnx',
          sha256: createHash('sha256').update(model).digest('hex'),
          size_bytes: model.byteLength,
          licence: 'test',
          description: 'mean colour of a 256x256 crop',
          input: { name: 'input', type: 'float32', layout: 'NCHW', dims: ['batch', 3, SIDE, SIDE], channel_order: 'rgb', pixel_scale: '1/255', mean: [0, 0, 0], std: [1, 1, 1], resize: { mode: 'stretch' } },
          outputs: [{ name: 'output', type: 'float32', dims: ['batch', 3] }],
          reid: { embedding_dim: 3, object_classes: ['car', 'bus', 'truck'] },
        },
      ],
    }),
  );
  const config = path.join(dir, 'crosscam.yaml');
  await writeFile(
    config,
    stringify({
      models: { dir, catalog: path.join(dir, 'extra-catalog.yaml'), reid: withVehicleModel ? { vehicle: 'tiny-vehicle' } : {} },
      detect: { classes: ['person', 'car', 'motorcycle'] },
      cameras: [{ id: 'road', url: path.join(dir, 'unused.mp4') }],
    }),
  );
  const lines: { msg: string; classes?: string[] }[] = [];
  const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _e, done) => (lines.push(JSON.parse(String(chunk))), done()) }));
  const models = await openVisionModels({ ...(await readConfigFile(config)), logger });
  t.after(() => models.release());
  return { models, lines };
}

const car = (x: number): Detection => ({ box: { x1: x, y1: 100, x2: x + 150, y2: 200 }, score: 0.9, objectClass: 'car' });
const frame = (index: number): Frame => ({ cameraId: 'road', index, pts: index * 0.2, receivedAt: 1_000_000 + index * 200, width: 640, height: 480, data: new Uint8Array(640 * 480 * 3).fill(90) });

async function endedCar(models: Awaited<ReturnType<typeof setUp>>['models']) {
  const pipeline = new CameraPipeline({
    cameraId: 'road',
    detector: { detect: async (f: Frame) => [car(100 + f.index * 4)] },
    embedders: models.embedders,
    filter: { classes: ['car'], minScore: 0.3, minBoxHeight: 0, masks: [] },
    bestCrops: 3,
    minCropQuality: 0,
  });
  for (let i = 0; i < 6; i++) await pipeline.process(frame(i));
  return pipeline.finish()[0]!;
}

test('vehicle profile: the vehicle re-ID entry serves the classes it lists, at its own input size', { skip }, async (t) => {
  const { models, lines } = await setUp(t, true);
  assert.equal(models.embedders.car, models.embedders.truck);
  assert.notEqual(models.embedders.car, models.embedders.person);
  assert.equal(models.embedders.motorcycle, undefined, 'not in the entry: not re-identified');
  assert.deepEqual(lines.find((line) => line.msg.includes('not re-identified'))?.classes, ['motorcycle']);
  const track = await endedCar(models);
  // A grey frame (90/255) gives the unit mean-colour vector [1,1,1]/√3.
  assert.ok(track.embedding, 'a car track has an embedding');
  assert.deepEqual(Array.from(track.embedding!, (v) => Number(v.toFixed(4))), [0.5774, 0.5774, 0.5774]);
});

test('without a vehicle model, vehicles are tracked and reported but never embedded (so never matched), and the log says so', { skip }, async (t) => {
  const { models, lines } = await setUp(t, false);
  assert.equal(models.embedders.car, undefined);
  assert.deepEqual(lines.find((line) => line.msg.includes('not re-identified'))?.classes, ['car', 'motorcycle']);
  const track = await endedCar(models);
  assert.equal(track.objectClass, 'car');
  assert.equal(track.embedding, undefined);
});
