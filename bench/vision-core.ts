/**
 * Speed and memory of the vision core on real frames (PETS09-S2L1), each stage alone and
 * the whole per-frame path, in this thread. Figures are medians of many runs on whatever
 * else the machine is doing; compare ratios taken in one run. Part of `npm run bench`.
 * Models from $CROSSCAM_MODELS_DIR (else ../shared/models), video from ../shared.
 */
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import type { Box } from '../src/core/geometry.js';
import type { Detection, Frame } from '../src/core/types.js';
import { openDetector } from '../src/detect/detector.js';
import { placeFrame } from '../src/detect/input-placement.js';
import { CropPreprocessor } from '../src/embed/crop-preprocess.js';
import { Embedder } from '../src/embed/embedder.js';
import { median } from '../src/core/statistics.js';
import { filterMotRecords, readMotFile } from '../src/eval/mot-ground-truth.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import type { DetectorModelEntry, ReidModelEntry } from '../src/models/catalog-schema.js';
import { loadModelCatalog } from '../src/models/catalog.js';
import { CameraPipeline } from '../src/pipeline/camera-pipeline.js';
import { loadCatalogModel } from '../src/runtime/catalog-model.js';
import { ByteTracker } from '../src/track/tracker.js';
import { PETS_GT, PETS_VIDEO, SHARED_MODELS_DIR } from '../test/support/shared-data.js';

/** The models measured here, which are the daemon's defaults (the camera benchmark runs those). */
export const VISION_CORE_MODELS = { detector: 'yolox-nano', reid: 'osnet-x0_25-msmt17' } as const;

export interface VisionCoreFigures {
  frames: number;
  threads: number;
  /** Name → figure, as the report prints them. */
  rows: [string, string][];
  /** The per-frame path alone as `process` runs it: wall ms and CPU ms per frame, and its crops per frame (report figures). */
  pipelineMsPerFrame: number;
  pipelineCpuMsPerFrame: number;
  cropsPerFrame: number;
  /**
   * CPU ms of each stage alone (every thread of this process while it runs: onnxruntime's
   * async run and the crop graph use more than the calling thread), for the orchestration
   * ratio at the daemon's crops per frame and batch.
   */
  stagesCpu: { detectorPerFrame: number; trackerPerFrame: number; embedPerCrop: { batch1: number; batch16: number } };
}

export async function measureVisionCore(options: { frames: number; threads: number }): Promise<VisionCoreFigures> {
  const frameCount = options.frames;
  const threads = options.threads;
  const modelsDir = process.env.CROSSCAM_MODELS_DIR ?? SHARED_MODELS_DIR;
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const catalog = await loadModelCatalog();
  const detectorEntry = catalog.models.get(VISION_CORE_MODELS.detector) as DetectorModelEntry;
  const reidEntry = catalog.models.get(VISION_CORE_MODELS.reid) as ReidModelEntry;

  const fmt = (ms: number) => ms.toFixed(2);

  const cpuMsSince = (started: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(started);
    return (used.user + used.system) / 1000;
  };
  /** Median wall ms per item over `rounds` timed calls of `fn`, after a warm-up, and the mean CPU ms per item. */
  async function timePerItem(items: number, rounds: number, fn: () => Promise<unknown>): Promise<{ ms: number; cpuMs: number }> {
    for (let i = 0; i < 3; i++) await fn();
    const samples: number[] = [];
    const cpuStarted = process.cpuUsage();
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      await fn();
      samples.push((performance.now() - started) / items);
    }
    return { ms: median(samples), cpuMs: cpuMsSince(cpuStarted) / (rounds * items) };
  }

  // Decode once into owned copies, so that the stages below are timed without ffmpeg.
  const decodeStarted = performance.now();
  const frames: Frame[] = [];
  for await (const frame of readFfmpegFrames({ url: PETS_VIDEO, cameraId: 'bench' })) {
    frames.push({ ...frame, data: Uint8Array.from(frame.data) });
    if (frames.length === frameCount) break;
  }
  const decodeMs = (performance.now() - decodeStarted) / frames.length;

  const detector = await openDetector({
    entry: detectorEntry,
    modelsDir,
    providers: [{ name: 'cpu' }],
    classes: ['person'],
    intraOpThreads: threads,
    logger,
    minScore: 0.3,
    nmsIou: 0.45,
    minBoxHeight: 0,
  });
  const steps = { preprocess: [] as number[], inference: [] as number[], decode: [] as number[], total: [] as number[] };
  const detections: Detection[][] = [];
  const detectorCpuStarted = process.cpuUsage();
  for (const frame of frames) {
    detections.push(await detector.detect(frame));
    const t = detector.lastTimings;
    steps.preprocess.push(t.preprocessMs);
    steps.inference.push(t.inferenceMs);
    steps.decode.push(t.decodeMs);
    steps.total.push(t.preprocessMs + t.inferenceMs + t.decodeMs);
  }
  const detectorCpuMs = cpuMsSince(detectorCpuStarted) / frames.length;

  const reid = await loadCatalogModel({ entry: reidEntry, modelsDir, providers: [{ name: 'cpu' }], logger, intraOpThreads: threads });
  const embedder = await Embedder.create({ entry: reidEntry, session: reid.session, batchSize: 16 });
  const cropPreprocessor = await CropPreprocessor.create(
    { outputHeight: 256, outputWidth: 128, channelOrder: 'rgb', pixelScale: reidEntry.input.pixelScale, mean: reidEntry.input.mean, std: reidEntry.input.std },
    16,
  );
  // Real person boxes from the ground truth of one busy frame, repeated up to 16.
  const gt = filterMotRecords(await readMotFile(PETS_GT), { considerOnly: true, minHeight: 50 });
  const busyFrame = frames[Math.min(60, frames.length - 1)];
  const gtBoxes: Box[] = gt.filter((r) => r.frame === busyFrame.index + 1).map((r) => r.box);
  const boxes16 = Array.from({ length: 16 }, (_, i) => gtBoxes[i % gtBoxes.length]);
  const input = (n: number) => new ort.Tensor('float32', new Float32Array(n * 3 * 256 * 128).fill(0.1), [n, 3, 256, 128]);
  const [input1, input16] = [input(1), input(16)];
  const reidInference1 = await timePerItem(1, 60, () => reid.session.run({ input: input1 }));
  const reidInference16 = await timePerItem(16, 15, () => reid.session.run({ input: input16 }));
  const crop1 = await timePerItem(1, 60, () => cropPreprocessor.run(busyFrame, boxes16.slice(0, 1)));
  const crop16 = await timePerItem(16, 15, () => cropPreprocessor.run(busyFrame, boxes16));
  const embed1 = await timePerItem(1, 60, () => embedder.embed(busyFrame, boxes16.slice(0, 1)));
  const embed16 = await timePerItem(16, 15, () => embedder.embed(busyFrame, boxes16));

  const tracker = new ByteTracker();
  const trackerStarted = performance.now();
  const trackerCpuStarted = process.cpuUsage();
  detections.forEach((frameDetections, i) => tracker.update(frameDetections, { pts: frames[i].pts, frameIndex: frames[i].index }));
  const trackerMs = (performance.now() - trackerStarted) / frames.length;
  const trackerCpuMs = cpuMsSince(trackerCpuStarted) / frames.length;

  // The whole per-frame path as `process` runs it (detect, filter, track, quality, embed).
  let embeddedCrops = 0;
  const pipeline = new CameraPipeline({
    cameraId: 'bench',
    detector,
    embedders: { person: { embed: (frame, boxes, embedOptions) => ((embeddedCrops += boxes.length), embedder.embed(frame, boxes, embedOptions)) } },
    filter: { classes: ['person'], minScore: 0.3, minBoxHeight: 0, masks: [] },
    bestCrops: 5,
    minCropQuality: 0.2,
  });
  const pipelineStarted = performance.now();
  const cpuStarted = process.cpuUsage();
  for (const frame of frames) await pipeline.process(frame);
  const pipelineMs = (performance.now() - pipelineStarted) / frames.length;
  const cpu = process.cpuUsage(cpuStarted);
  const pipelineCpuPercent = ((cpu.user + cpu.system) / 1000 / (pipelineMs * frames.length)) * 100;
  const memory = process.memoryUsage();
  await embedder.release();
  await reid.session.release();
  await detector.release();

  const [, , catalogHeight, catalogWidth] = detectorEntry.input.dims;
  const detectorInput = placeFrame({ frameWidth: frames[0]!.width, frameHeight: frames[0]!.height, inputWidth: catalogWidth, inputHeight: catalogHeight, resize: detectorEntry.input.resize });
  const rows: [string, string][] = [
    ['ffmpeg decode 768x576 (incl. copy)', `${fmt(decodeMs)} ms/frame`],
    ['detector preprocess (ONNX letterbox graph)', `${fmt(median(steps.preprocess))} ms/frame`],
    [`detector inference YOLOX-Nano at ${detectorInput.inputWidth}x${detectorInput.inputHeight}`, `${fmt(median(steps.inference))} ms/frame`],
    ['detector decode + NMS', `${fmt(median(steps.decode))} ms/frame`],
    ['detector total', `${fmt(median(steps.total))} ms/frame, ${fmt(detectorCpuMs)} CPU ms`],
    ['re-ID inference OSNet x0.25, batch 1', `${fmt(reidInference1.ms)} ms/crop`],
    ['re-ID inference OSNet x0.25, batch 16', `${fmt(reidInference16.ms)} ms/crop`],
    ['crop + preprocess (RoiAlign graph), 1 crop', `${fmt(crop1.ms)} ms/crop`],
    ['crop + preprocess (RoiAlign graph), 16 crops', `${fmt(crop16.ms)} ms/crop`],
    ['Embedder.embed, 1 crop', `${fmt(embed1.ms)} ms/crop, ${fmt(embed1.cpuMs)} CPU ms`],
    ['Embedder.embed, 16 crops', `${fmt(embed16.ms)} ms/crop, ${fmt(embed16.cpuMs)} CPU ms`],
    ['tracker update', `${fmt(trackerMs)} ms/frame`],
    ['camera pipeline (detect+track+embed)', `${fmt(pipelineMs)} ms/frame = ${(1000 / pipelineMs).toFixed(1)} fps, ${pipelineCpuPercent.toFixed(0)} % CPU`],
    ['process RSS / JS heap after the run', `${(memory.rss / 2 ** 20).toFixed(0)} MiB / ${(memory.heapUsed / 2 ** 20).toFixed(0)} MiB`],
  ];
  return { frames: frames.length, threads, rows, pipelineMsPerFrame: pipelineMs, pipelineCpuMsPerFrame: (pipelineMs * pipelineCpuPercent) / 100, cropsPerFrame: embeddedCrops / frames.length,
    stagesCpu: { detectorPerFrame: detectorCpuMs, trackerPerFrame: trackerCpuMs, embedPerCrop: { batch1: embed1.cpuMs, batch16: embed16.cpuMs } },
  };
}
