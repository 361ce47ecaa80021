/**
 * Detector speed on real frames: preprocess, inference and decode+NMS times per frame.
 * Usage: node dist/bench/detect.js [--frames 100] [--threads N] [--no-spin]
 * Reads PETS09-S2L1 and yolox_nano.onnx from ../shared (or CROSSCAM_SHARED_DIR).
 * Sessions are opened here, not through the runtime, to compare session options.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { Detector, DEFAULT_DETECTOR_TUNING, type DetectorTimings } from '../src/detect/detector.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import type { DetectorModelEntry } from '../src/models/catalog-schema.js';
import { builtInCatalogPath, readCatalogFile } from '../src/models/catalog.js';
import { PETS_VIDEO, SHARED_MODELS_DIR } from '../test/support/shared-data.js';

const { values: args } = parseArgs({
  options: { frames: { type: 'string', default: '100' }, threads: { type: 'string' }, 'no-spin': { type: 'boolean', default: false } },
});
const frameCount = Number(args.frames);
const WARM_UP = 5;
const sessionOptions: ort.InferenceSession.SessionOptions = {
  ...(args.threads !== undefined ? { intraOpNumThreads: Number(args.threads) } : {}),
  // idle intra-op threads otherwise spin and steal the cores ffmpeg and the other session need
  ...(args['no-spin'] ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
};

const entry = (await readCatalogFile(builtInCatalogPath())).find((e): e is DetectorModelEntry => e.id === 'yolox-nano');
if (!entry) throw new Error('yolox-nano is not in the built-in catalog');
const detector = new Detector({
  entry,
  session: await ort.InferenceSession.create(path.join(SHARED_MODELS_DIR, entry.file), sessionOptions),
  openPreprocessSession: (model) => ort.InferenceSession.create(model, sessionOptions),
  classes: ['person'],
  ...DEFAULT_DETECTOR_TUNING,
});

const samples: DetectorTimings[] = [];
let detections = 0;
for await (const frame of readFfmpegFrames({ url: PETS_VIDEO, cameraId: 'bench' })) {
  detections += (await detector.detect(frame)).length;
  if (frame.index >= WARM_UP) samples.push({ ...detector.lastTimings });
  if (samples.length >= frameCount) break;
}
await detector.release();

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const steps = {
  preprocess: samples.map((s) => s.preprocessMs),
  inference: samples.map((s) => s.inferenceMs),
  'decode+nms': samples.map((s) => s.decodeMs),
  total: samples.map((s) => s.preprocessMs + s.inferenceMs + s.decodeMs),
};
console.log(
  `yolox-nano, ${samples.length} PETS09 frames 768x576, CPU, intra-op threads ${args.threads ?? 'default'}, ` +
    `spinning ${args['no-spin'] ? 'off' : 'on'}; ${detections} detections`,
);
for (const [name, values] of Object.entries(steps)) {
  console.log(`${name.padEnd(11)} mean ${mean(values).toFixed(2)} ms  median ${median(values).toFixed(2)} ms`);
}
