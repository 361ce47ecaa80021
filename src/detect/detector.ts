/**
 * The detection stage: frame -> preprocessing graph -> detector network -> decoder ->
 * class-aware NMS -> detections in frame pixels. Its contract with the network is the
 * model's catalog entry.
 */
import * as ort from 'onnxruntime-node';
import { boxHeight } from '../core/geometry.js';
import type { Logger } from '../core/logger.js';
import { OBJECT_CLASSES, type Detection, type Frame, type ObjectClass } from '../core/types.js';
import { letterboxTrim, type DetectorModelEntry } from '../models/catalog-schema.js';
import { loadCatalogModel } from '../runtime/catalog-model.js';
import { freeModelDims } from '../runtime/onnx-free-dims.js';
import { createInferenceSession, type ExecutionProviderName, type ExecutionProviderRequest, type InferenceObserver, type ModelInferenceObserver } from '../runtime/inference-session.js';
import { buildClassLookup, CandidateList, decodeYolov8, decodeYolox, yoloxGrid, type DecodeOptions } from './decode.js';
import { mapBoxToFrame } from './input-placement.js';
import { suppressOverlaps } from './nms.js';
import { FramePreprocessor, type FramePreprocessorOptions } from './preprocess.js';

export interface DetectorTuning {
  /** Candidates scoring below this are dropped before NMS. */
  minScore: number;
  /** Same-class detections overlapping a better one by more than this IoU are suppressed. */
  nmsIou: number;
  /** Detections shorter than this (frame pixels, after clipping) are dropped. */
  minBoxHeight: number;
}

/**
 * Tuned with YOLOX-Nano on PETS09-S2L1 (768x576, people 50-160 px tall), every 5th frame:
 * recall 0.909 of people >= 50 px, precision 0.789. Any min score from 0.2 to 0.4 gives
 * within 0.005 of that recall; 0.3 keeps most low-confidence false positives out. NMS IoU
 * 0.45 (the YOLOX reference value) edges out 0.5-0.7, which keep more duplicates than they
 * recover overlapping people. No height floor by default: it depends on the camera's scale.
 */
export const DEFAULT_DETECTOR_TUNING: DetectorTuning = { minScore: 0.3, nmsIou: 0.45, minBoxHeight: 0 };

export interface DetectorOptions extends DetectorTuning {
  entry: DetectorModelEntry;
  /** The network's session (e.g. from loadCatalogModel); the detector takes ownership. */
  session: ort.InferenceSession;
  /** Opens the per-frame-size preprocessing graphs. */
  openPreprocessSession: FramePreprocessorOptions['openSession'];
  /** Enabled crosscam classes; detector classes mapping elsewhere are ignored. */
  classes: readonly ObjectClass[];
  /** Execution provider the session runs on, reported in status (default cpu). */
  provider?: ExecutionProviderName;
  /** Told each network run's duration. */
  onInference?: InferenceObserver;
}

/** Milliseconds spent in each step of the last detect() call. */
export interface DetectorTimings {
  preprocessMs: number;
  inferenceMs: number;
  /** Decoding, mapping to frame pixels and NMS. */
  decodeMs: number;
}

type OutputDecoder = (output: Float32Array, options: DecodeOptions, into: CandidateList) => void;

/** What running the network at one input size needs: its decoder and, when the size is known, a preallocated output. */
interface InputSizeState {
  decode: OutputDecoder;
  /** Preallocated output when its shape is known; otherwise onnxruntime allocates one per run. */
  output: ort.Tensor | undefined;
  fetches: Record<string, ort.Tensor> | readonly string[];
}

function outputDecoder(entry: DetectorModelEntry, width: number, height: number): { decode: OutputDecoder; points?: number } {
  const decoder = entry.detector.decoder;
  if (decoder.family === 'yolov8') return { decode: decodeYolov8 };
  const grid = yoloxGrid(decoder.strides, width, height);
  return { decode: (output, options, into) => decodeYolox(output, grid, options, into), points: grid.x.length };
}

/** The output axis that counts candidate points (it shrinks with a trimmed input). */
function pointsAxis(entry: DetectorModelEntry): number {
  return entry.detector.decoder.family === 'yolox' ? 1 : 2;
}

/**
 * The detector's model bytes as they load: with a trimmed letterbox its spatial input
 * dimensions and its output's point count become symbolic, so one session runs each
 * camera's trimmed size.
 */
export function detectorModelRewrite(entry: DetectorModelEntry): ((model: Uint8Array) => Uint8Array) | undefined {
  if (letterboxTrim(entry.input.resize) === undefined) return undefined;
  return (model) =>
    freeModelDims(model, [
      { tensor: entry.input.name, axes: { 2: 'height', 3: 'width' } },
      { tensor: entry.outputs[0]!.name, axes: { [pointsAxis(entry)]: 'points' } },
    ]);
}

export class Detector {
  /** Per-step times of the most recent detect(), for stats and benchmarks. */
  readonly lastTimings: DetectorTimings = { preprocessMs: 0, inferenceMs: 0, decodeMs: 0 };
  readonly provider: ExecutionProviderName;
  private readonly entry: DetectorModelEntry;
  private readonly session: ort.InferenceSession;
  private readonly preprocessor: FramePreprocessor;
  private decodeOptions: DecodeOptions;
  private readonly candidates = new CandidateList();
  private readonly tuning: DetectorTuning;
  /** Per model input size (one per camera frame size when the letterbox is trimmed). */
  private readonly inputSizes = new Map<string, InputSizeState>();
  /** detect() calls run one at a time: they share the input and output buffers. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: DetectorOptions) {
    this.entry = options.entry;
    this.session = options.session;
    this.provider = options.provider ?? 'cpu';
    this.tuning = { minScore: options.minScore, nmsIou: options.nmsIou, minBoxHeight: options.minBoxHeight };
    this.preprocessor = new FramePreprocessor({ input: options.entry.input, openSession: options.openPreprocessSession });
    const output = options.entry.outputs[0]!;
    if (output.type !== 'float32') throw new Error(`detector ${options.entry.id}: output '${output.name}' is ${output.type}, decoders read float32`);
    const dims = output.dims;
    const classCount = options.entry.detector.decoder.family === 'yolox' ? Number(dims[2]) - 5 : Number(dims[1]) - 4;
    if (!(classCount > 0)) throw new Error(`detector ${options.entry.id}: the class count must be fixed in output dims [${dims.join(',')}]`);
    this.decodeOptions = {
      minScore: options.minScore,
      classLookup: buildClassLookup(options.entry.detector.classMap, classCount, options.classes),
    };
  }

  /**
   * Changes which classes the network's output keeps and from which score, for the calls
   * queued after this one: the union and the lowest score over the running cameras, each of
   * which filters further (a camera added by SIGHUP may want classes the others do not).
   */
  setOutputFilter(filter: { classes: readonly ObjectClass[]; minScore: number }): void {
    const classCount = this.decodeOptions.classLookup.length;
    const next: DecodeOptions = { minScore: filter.minScore, classLookup: buildClassLookup(this.entry.detector.classMap, classCount, filter.classes) };
    this.queue = this.queue.then(() => {
      this.decodeOptions = next;
    });
  }

  /** Detections in frame pixels, highest score first. */
  detect(frame: Frame): Promise<Detection[]> {
    const result = this.queue.then(() => this.detectNow(frame));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Releases the preprocessing sessions and the network session. */
  async release(): Promise<void> {
    await this.queue;
    await this.preprocessor.release();
    await this.session.release();
  }

  private async detectNow(frame: Frame): Promise<Detection[]> {
    const started = performance.now();
    const { tensor, placement } = await this.preprocessor.run(frame);
    const preprocessed = performance.now();
    const size = this.forInput(placement.inputWidth, placement.inputHeight);
    const results = await this.session.run({ [this.entry.input.name]: tensor }, size.fetches);
    const inferred = performance.now();
    // onnxruntime writes into the preallocated output (and returns a copy, which we ignore)
    const output = size.output ?? results[this.entry.outputs[0]!.name]!;
    size.decode(output.data as Float32Array, this.decodeOptions, this.candidates);

    const { boxes, scores, classes, count } = this.candidates;
    const found: Detection[] = [];
    for (let i = 0; i < count; i++) {
      const box = mapBoxToFrame({ x1: boxes[i * 4]!, y1: boxes[i * 4 + 1]!, x2: boxes[i * 4 + 2]!, y2: boxes[i * 4 + 3]! }, placement);
      if (boxHeight(box) < this.tuning.minBoxHeight || boxHeight(box) === 0) continue;
      found.push({ box, score: scores[i]!, objectClass: OBJECT_CLASSES[classes[i]!]! });
    }
    const detections = suppressOverlaps(found, this.tuning.nmsIou);
    const finished = performance.now();
    this.lastTimings.preprocessMs = preprocessed - started;
    this.lastTimings.inferenceMs = inferred - preprocessed;
    this.lastTimings.decodeMs = finished - inferred;
    this.options.onInference?.((inferred - preprocessed) / 1000, 1);
    return detections;
  }

  private forInput(width: number, height: number): InputSizeState {
    const key = `${width}x${height}`;
    let state = this.inputSizes.get(key);
    if (state === undefined) {
      const { decode, points } = outputDecoder(this.entry, width, height);
      const declared = this.entry.outputs[0]!;
      const dims = declared.dims.map((d, axis) => (axis === pointsAxis(this.entry) && points !== undefined ? points : d));
      // The declared shape holds at the catalog's input size; a trimmed input changes the point
      // count, which only YOLOX's grid tells in advance.
      const [, , catalogHeight, catalogWidth] = this.entry.input.dims;
      const shapeKnown = points !== undefined || (width === catalogWidth && height === catalogHeight);
      const output = shapeKnown && dims.every((d): d is number => typeof d === 'number')
        ? new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims)
        : undefined;
      state = { decode, output, fetches: output ? { [declared.name]: output } : [declared.name] };
      this.inputSizes.set(key, state);
    }
    return state;
  }
}

export interface OpenDetectorOptions extends DetectorTuning {
  entry: DetectorModelEntry;
  modelsDir: string;
  providers: readonly ExecutionProviderRequest[];
  classes: readonly ObjectClass[];
  intraOpThreads?: number;
  logger: Logger;
  /** Told each network run's duration with the model's id and provider. */
  onInference?: ModelInferenceObserver;
}

/**
 * Loads the catalog model (file check, provider fallback, contract check) and builds
 * the detector. Preprocessing graphs skip TensorRT: an engine build per frame size
 * costs seconds for a few element-wise ops that CUDA or the CPU run in a millisecond.
 */
export async function openDetector(options: OpenDetectorOptions): Promise<Detector> {
  const threads = options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {};
  const rewrite = detectorModelRewrite(options.entry);
  const loaded = await loadCatalogModel({ entry: options.entry, modelsDir: options.modelsDir, providers: options.providers, logger: options.logger, ...threads, ...(rewrite ? { rewrite } : {}) });
  const withoutTensorrt = options.providers.filter((provider) => provider.name !== 'tensorrt');
  const preprocessProviders: readonly ExecutionProviderRequest[] = withoutTensorrt.length > 0 ? withoutTensorrt : [{ name: 'cpu' }];
  return new Detector({
    entry: options.entry,
    session: loaded.session,
    openPreprocessSession: async (model, label) =>
      (await createInferenceSession({ model, label: `${options.entry.id} ${label}`, providers: preprocessProviders, logger: options.logger, ...threads })).session,
    classes: options.classes,
    provider: loaded.provider,
    ...(options.onInference ? { onInference: (seconds: number, items: number) => options.onInference!(options.entry.id, loaded.provider, seconds, items) } : {}),
    minScore: options.minScore,
    nmsIou: options.nmsIou,
    minBoxHeight: options.minBoxHeight,
  });
}
