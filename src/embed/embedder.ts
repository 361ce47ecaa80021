/**
 * Turns the boxes of one frame into L2-normalised re-ID embeddings: the crop graph
 * cuts, resizes and normalises all crops natively, then the re-ID model runs on
 * batches of at most `batchSize` crops (its batch dimension is dynamic). A model whose
 * catalog entry declares parts also gives each crop its part embeddings and visibilities.
 */
import type * as ort from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { OperatorError } from '../core/operator-error.js';
import { ExitCode } from '../core/exit-codes.js';
import { clipBox, type Box } from '../core/geometry.js';
import type { Frame } from '../core/types.js';
import type { ReidModelEntry, TensorSpec } from '../models/catalog-schema.js';
import type { InferenceObserver } from '../runtime/inference-session.js';
import { CropPreprocessor } from './crop-preprocess.js';
import { normalised } from '../core/vectors.js';
import { cropParts, type PartEmbedding, type PartLayout } from './part-embedding.js';

/** One crop through the re-ID model: its global embedding (unit length) and, from part models, its parts. */
export interface CropEmbedding {
  embedding: Float32Array;
  parts?: PartEmbedding;
}

export interface EmbedderOptions {
  entry: ReidModelEntry;
  /** Session of the entry's model, e.g. from loadCatalogModel. */
  session: ort.InferenceSession;
  /** Most crops per model run (default 16). */
  batchSize?: number;
  /** Told each network run's duration. */
  onInference?: InferenceObserver;
  /** Crops go through a per-frame colour table (camera colour normalisation, src/colour/). */
  colourTables?: boolean;
}

export interface EmbedOptions {
  /** Index of the frame's camera, fed to models whose entry declares a camera input. */
  cameraIndex?: number;
  /** The camera's colour table (COLOUR_TABLE_SIZE levels); used by an embedder made with colourTables. */
  colourTable?: Float32Array;
}

/** The crops of one frame in a batch that may span several frames (and cameras). */
export interface EmbedRequest extends EmbedOptions {
  frame: Pick<Frame, 'width' | 'height' | 'data'>;
  boxes: readonly Box[];
}

/** Reusable buffer and shape of the camera-index input for one batch size. */
class CameraIndexFeed {
  private readonly values: BigInt64Array | Int32Array | Float32Array;

  constructor(
    private readonly spec: TensorSpec,
    maxCrops: number,
  ) {
    switch (spec.type) {
      case 'int64':
        this.values = new BigInt64Array(maxCrops);
        break;
      case 'int32':
        this.values = new Int32Array(maxCrops);
        break;
      case 'float32':
        this.values = new Float32Array(maxCrops);
        break;
      default:
        throw new OperatorError(`camera input '${spec.name}' has unsupported type ${spec.type}`, ExitCode.CONFIG);
    }
  }

  /** One index per crop; symbolic dims take the crop count, fixed ones must be 1. */
  tensor(cameraIndices: readonly number[]): ort.Tensor {
    const count = cameraIndices.length;
    const dims = this.spec.dims.map((d) => (typeof d === 'string' ? count : d));
    const values = this.values.subarray(0, count);
    if (values instanceof BigInt64Array) cameraIndices.forEach((index, i) => (values[i] = BigInt(index)));
    else values.set(cameraIndices);
    return new Tensor(this.spec.type as 'int64' | 'int32' | 'float32', values, dims);
  }
}

/** Reused buffers of a part model's two extra outputs for one batch. */
interface PartOutputs {
  layout: PartLayout;
  features: Float32Array;
  visibility: Float32Array;
}

export class Embedder {
  /** The catalog id of its model. */
  readonly modelId: string;
  readonly dimension: number;
  readonly batchSize: number;
  /** How the model's parts are laid out; undefined for a model without parts. */
  readonly partLayout: PartLayout | undefined;
  private readonly cameraFeed: CameraIndexFeed | undefined;
  private readonly embeddings: Float32Array;
  private readonly partOutputs: PartOutputs | undefined;
  /** Runs are chained: the reused buffers allow one at a time. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly entry: ReidModelEntry,
    private readonly session: ort.InferenceSession,
    private readonly crops: CropPreprocessor,
    batchSize: number,
    private readonly onInference: InferenceObserver | undefined,
  ) {
    this.modelId = entry.id;
    this.dimension = entry.reid.embeddingDim;
    this.batchSize = batchSize;
    this.cameraFeed = entry.reid.cameraInput && new CameraIndexFeed(entry.reid.cameraInput, batchSize);
    this.embeddings = new Float32Array(batchSize * this.dimension);
    const parts = entry.reid.parts;
    this.partLayout = parts && { count: parts.count, dim: parts.dim };
    this.partOutputs = parts && {
      layout: { count: parts.count, dim: parts.dim },
      features: new Float32Array(batchSize * parts.count * parts.dim),
      visibility: new Float32Array(batchSize * parts.count),
    };
  }

  static async create(options: EmbedderOptions): Promise<Embedder> {
    const { entry } = options;
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    const input = entry.input;
    if (input.type !== 'float32' || input.resize.mode !== 'stretch') {
      throw new OperatorError(`re-ID model ${entry.id}: crosscam crops into float32 stretched inputs, the catalog asks ${input.type} ${input.resize.mode}`, ExitCode.CONFIG);
    }
    if (typeof input.dims[0] === 'number' && input.dims[0] < batchSize) {
      throw new OperatorError(`re-ID model ${entry.id} takes batches of ${input.dims[0]}, batch size ${batchSize} asked`, ExitCode.CONFIG);
    }
    const crops = await CropPreprocessor.create(
      {
        outputHeight: input.dims[2],
        outputWidth: input.dims[3],
        channelOrder: input.channelOrder,
        pixelScale: input.pixelScale,
        mean: input.mean,
        std: input.std,
        ...(options.colourTables ? { colourTable: true } : {}),
      },
      batchSize,
    );
    return new Embedder(entry, options.session, crops, batchSize, options.onInference);
  }

  /**
   * Embeddings of `boxes` (frame pixels, clipped to the frame) in the same order,
   * each a new L2-normalised array the caller owns.
   */
  async embed(frame: Frame, boxes: readonly Box[], options: EmbedOptions = {}): Promise<CropEmbedding[]> {
    return (await this.embedBatch([{ frame, boxes, ...options }]))[0]!;
  }

  /**
   * Embeddings of the crops of several frames, per request in order: crops of all of them
   * share model runs of up to `batchSize` (the scheduler batches across cameras this way).
   */
  embedBatch(requests: readonly EmbedRequest[]): Promise<CropEmbedding[][]> {
    const run = this.queue.then(() => this.embedNow(requests));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async embedNow(requests: readonly EmbedRequest[]): Promise<CropEmbedding[][]> {
    if (this.cameraFeed && requests.some((request) => request.cameraIndex === undefined)) {
      throw new Error(`re-ID model ${this.entry.id} needs a camera index`);
    }
    const crops = requests.flatMap((request, r) => request.boxes.map((box) => ({ request: r, box: clipBox(box, request.frame.width, request.frame.height) })));
    const results: CropEmbedding[][] = requests.map(() => []);
    const dim = this.dimension;
    const outputName = this.entry.outputs[0]!.name;
    for (let start = 0; start < crops.length; start += this.batchSize) {
      const batch = crops.slice(start, start + this.batchSize);
      const count = batch.length;
      // One crop-graph run per frame, into consecutive slots of the shared model input.
      for (let first = 0; first < count; ) {
        let end = first + 1;
        while (end < count && batch[end]!.request === batch[first]!.request) end++;
        const request = requests[batch[first]!.request]!;
        await this.crops.run(request.frame, batch.slice(first, end).map((crop) => crop.box), first, request.colourTable);
        first = end;
      }
      const feeds: Record<string, ort.Tensor> = { [this.entry.input.name]: this.crops.batch(count) };
      if (this.cameraFeed) feeds[this.entry.reid.cameraInput!.name] = this.cameraFeed.tensor(batch.map((crop) => requests[crop.request]!.cameraIndex!));
      const fetches: Record<string, ort.Tensor> = { [outputName]: new Tensor('float32', this.embeddings.subarray(0, count * dim), [count, dim]) };
      const parts = this.partOutputs;
      if (parts) {
        const { count: p, dim: d } = parts.layout;
        const names = this.entry.reid.parts!;
        fetches[names.output] = new Tensor('float32', parts.features.subarray(0, count * p * d), [count, p, d]);
        fetches[names.visibility] = new Tensor('float32', parts.visibility.subarray(0, count * p), [count, p]);
      }
      const started = performance.now();
      await this.session.run(feeds, fetches);
      this.onInference?.((performance.now() - started) / 1000, count);
      batch.forEach((crop, i) => {
        const embedding = normalised(this.embeddings.subarray(i * dim, (i + 1) * dim));
        if (!parts) return results[crop.request]!.push({ embedding });
        const { count: p, dim: d } = parts.layout;
        results[crop.request]!.push({
          embedding,
          parts: cropParts(parts.features.subarray(i * p * d, (i + 1) * p * d), parts.visibility.subarray(i * p, (i + 1) * p), parts.layout),
        });
      });
    }
    return results;
  }

  async release(): Promise<void> {
    await this.queue;
    await this.crops.release();
  }
}
