/**
 * The other yardstick of `crosscam process`: the same pipeline written the obvious way in
 * TypeScript. The product's tracker, crop selection and YOLOX decoding (CameraPipeline with
 * the default config), but the models behind a naive detector and embedder: per-pixel JS
 * bilinear resizes into fresh arrays, every inference on the main thread with onnxruntime's
 * default session options, one crop per call at batch 1, nothing run ahead, and each ended
 * track compared with every earlier one by a JS loop (brute-force search).
 * Prints one JSON object: frames, seconds (the frame loop, models loaded before), crops, tracks,
 * refound (tracks whose nearest earlier one passes the matcher's person threshold).
 *
 * usage: node dist/bench/naive-pipeline.js VIDEO [--frames N]   (models from $CROSSCAM_MODELS_DIR)
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { Box } from '../src/core/geometry.js';
import { OBJECT_CLASSES, type Detection, type Frame } from '../src/core/types.js';
import { buildClassLookup, CandidateList, decodeYolox, yoloxGrid } from '../src/detect/decode.js';
import { mapBoxToFrame, placeFrame } from '../src/detect/input-placement.js';
import { suppressOverlaps } from '../src/detect/nms.js';
import type { CropEmbedding } from '../src/embed/embedder.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import type { DetectorModelEntry, ReidModelEntry } from '../src/models/catalog-schema.js';
import { resolveModelsDir } from '../src/models/catalog.js';
import { CameraPipeline, type EndedTrack } from '../src/pipeline/camera-pipeline.js';
import { cameraPipelineOptions, readConfigOrDefaults } from '../src/pipeline/setup.js';

/** RGB bilinear sample of frame pixels at (x, y), channel c. */
function sample(frame: Frame, x: number, y: number, c: number): number {
  const x0 = Math.max(0, Math.min(frame.width - 1, Math.floor(x)));
  const y0 = Math.max(0, Math.min(frame.height - 1, Math.floor(y)));
  const x1 = Math.min(frame.width - 1, x0 + 1);
  const y1 = Math.min(frame.height - 1, y0 + 1);
  const fx = Math.min(1, Math.max(0, x - x0));
  const fy = Math.min(1, Math.max(0, y - y0));
  const at = (px: number, py: number) => frame.data[(py * frame.width + px) * 3 + c]!;
  return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
}

/**
 * `box` of the frame resized to width × height by a per-pixel JS loop: NCHW float32, channel
 * `order` ('bgr' or 'rgb'), value·scale, then (v − mean)/std. Pixels outside `area` are `pad`.
 */
function naiveResize(
  frame: Frame,
  box: Box,
  target: { width: number; height: number; area?: { width: number; height: number }; order: 'rgb' | 'bgr'; scale: number; mean: readonly number[]; std: readonly number[]; pad?: number },
): Float32Array {
  const { width, height } = target;
  const area = target.area ?? { width, height };
  const out = new Float32Array(3 * width * height);
  const sx = (box.x2 - box.x1) / area.width;
  const sy = (box.y2 - box.y1) / area.height;
  for (let c = 0; c < 3; c++) {
    const source = target.order === 'bgr' ? 2 - c : c;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const inside = x < area.width && y < area.height;
        const value = inside ? sample(frame, box.x1 + (x + 0.5) * sx - 0.5, box.y1 + (y + 0.5) * sy - 0.5, source) : (target.pad ?? 0);
        out[(c * height + y) * width + x] = (value * target.scale - target.mean[c]!) / target.std[c]!;
      }
    }
  }
  return out;
}

const { values: args, positionals } = parseArgs({ allowPositionals: true, options: { frames: { type: 'string', default: '0' } } });
const video = positionals[0];
if (video === undefined) throw new Error('usage: naive-pipeline.js VIDEO [--frames N]');
const frameLimit = Number(args.frames);
const loaded = await readConfigOrDefaults(undefined, video);
const camera = loaded.config.cameras[0]!;
const modelsDir = resolveModelsDir(loaded.config.models.dir);
const detectorEntry = loaded.catalog.models.get(loaded.config.models.detector) as DetectorModelEntry;
const reidEntry = loaded.catalog.models.get(loaded.config.models.reid.person) as ReidModelEntry;
const detectorSession = await ort.InferenceSession.create(path.join(modelsDir, detectorEntry.file));
const reidSession = await ort.InferenceSession.create(path.join(modelsDir, reidEntry.file));

const [, , inputHeight, inputWidth] = detectorEntry.input.dims as number[];
const grid = yoloxGrid(detectorEntry.detector.decoder.family === 'yolox' ? detectorEntry.detector.decoder.strides : [], inputWidth!, inputHeight!);
const decodeOptions = { minScore: camera.detect.min_score, classLookup: buildClassLookup(detectorEntry.detector.classMap, 80, camera.detect.classes) };
const candidates = new CandidateList();

const detector = {
  async detect(frame: Frame): Promise<Detection[]> {
    const placement = placeFrame({ frameWidth: frame.width, frameHeight: frame.height, inputWidth: inputWidth!, inputHeight: inputHeight!, resize: detectorEntry.input.resize });
    const input = naiveResize(frame, { x1: 0, y1: 0, x2: frame.width, y2: frame.height }, {
      width: inputWidth!, height: inputHeight!, area: { width: placement.resizedWidth, height: placement.resizedHeight },
      order: 'bgr', scale: 1, mean: [0, 0, 0], std: [1, 1, 1], pad: 114,
    });
    const results = await detectorSession.run({ [detectorEntry.input.name]: new ort.Tensor('float32', input, [1, 3, inputHeight!, inputWidth!]) });
    decodeYolox(results[detectorEntry.outputs[0]!.name]!.data as Float32Array, grid, decodeOptions, candidates);
    const found: Detection[] = [];
    for (let i = 0; i < candidates.count; i++) {
      const b = candidates.boxes;
      const box = mapBoxToFrame({ x1: b[i * 4]!, y1: b[i * 4 + 1]!, x2: b[i * 4 + 2]!, y2: b[i * 4 + 3]! }, placement);
      if (box.y2 > box.y1) found.push({ box, score: candidates.scores[i]!, objectClass: OBJECT_CLASSES[candidates.classes[i]!]! });
    }
    return suppressOverlaps(found, camera.detect.nms_iou);
  },
};

let crops = 0;
const embedder = {
  async embed(frame: Frame, boxes: readonly Box[]): Promise<CropEmbedding[]> {
    const embeddings: CropEmbedding[] = [];
    for (const box of boxes) {
      const input = naiveResize(frame, box, { width: 128, height: 256, order: 'rgb', scale: 1 / 255, mean: reidEntry.input.mean, std: reidEntry.input.std });
      const results = await reidSession.run({ [reidEntry.input.name]: new ort.Tensor('float32', input, [1, 3, 256, 128]) });
      const vector = Float32Array.from(results[reidEntry.outputs[0]!.name]!.data as Float32Array);
      const norm = Math.hypot(...vector);
      embeddings.push({ embedding: vector.map((v) => v / norm) });
      crops += 1;
    }
    return embeddings;
  },
};

const pipeline = new CameraPipeline(cameraPipelineOptions(loaded.config, camera, { detector, embedders: { person: embedder } }));
const gallery: Float32Array[] = [];
const threshold = loaded.config.matching.classes.person.threshold;
let tracks = 0;
let refound = 0;
/** The most similar earlier track by a full JS scan (refound when it passes the matcher's threshold), then the track joins the gallery. */
function search(ended: readonly EndedTrack[]): void {
  for (const track of ended) {
    tracks += 1;
    if (!track.embedding) continue;
    let best = -Infinity;
    for (const other of gallery) {
      let similarity = 0;
      for (let i = 0; i < other.length; i++) similarity += other[i]! * track.embedding[i]!;
      best = Math.max(best, similarity);
    }
    if (best >= threshold) refound += 1;
    gallery.push(track.embedding);
  }
}

let frames = 0;
const started = performance.now();
for await (const frame of readFfmpegFrames({ url: video, cameraId: camera.id })) {
  search((await pipeline.process(frame)).ended);
  frames += 1;
  if (frameLimit > 0 && frames >= frameLimit) break;
}
search(pipeline.finish());
const seconds = (performance.now() - started) / 1000;
process.stdout.write(`${JSON.stringify({ frames, seconds, crops, tracks, refound })}\n`);
