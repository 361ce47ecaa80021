/**
 * One inference scheduler shared by every camera: worker threads that each hold the
 * detector and re-ID models, fed from two queues.
 *
 * - onnxruntime-node runs a model synchronously on the thread that calls it, so in the main
 *   thread every inference stalls ingest, tracking and MQTT; in workers, inferences run in
 *   parallel (one per core) and the main thread stays free.
 * - Fairness and bounds come from the cameras: each camera has at most one frame in the
 *   scheduler (its newest; older ones are dropped at ingest), and detect jobs are served in
 *   arrival order, so every camera gets one turn per round and the queue never holds more
 *   frames than there are cameras.
 * - Crops wait for a free worker; all crops waiting then (from every camera) go out as one
 *   batch, up to the re-ID batch size, so a busy box runs fewer, larger re-ID batches.
 *   Crops go first: they finish frames already detected, which keeps latency down.
 * - A worker that dies fails the jobs it held, is logged and replaced.
 */
import { Worker } from 'node:worker_threads';
import type { Box } from '../core/geometry.js';
import { ExitCode } from '../core/exit-codes.js';
import { OperatorError } from '../core/operator-error.js';
import type { Detection, Frame, ObjectClass } from '../core/types.js';
import type { CropEmbedding, EmbedOptions } from '../embed/embedder.js';
import type { OpenVisionModelsOptions, VisionModels } from '../pipeline/setup.js';
import type { ExecutionProviderName } from '../runtime/inference-session.js';
import type { FramePixels, InferenceTiming, InferenceWorkerData, WorkerReply, WorkerRequest } from './inference-protocol.js';

type ReadyReply = Extract<WorkerReply, { type: 'ready' }>;
type Reply = Exclude<WorkerReply, { type: 'ready' } | { type: 'failed' }>;
/** A request before the pool numbers it (distributes over the union). */
type Unnumbered<T> = T extends unknown ? Omit<T, 'id'> : never;

interface PendingCall {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

interface DetectJob {
  frame: FramePixels;
  resolve: (detections: Detection[]) => void;
  reject: (error: Error) => void;
}

interface EmbedJob {
  frame: FramePixels;
  boxes: Box[];
  cameraIndex?: number;
  colourTable?: Float32Array;
  resolve: (embeddings: CropEmbedding[]) => void;
  reject: (error: Error) => void;
}

interface WorkerSlot {
  index: number;
  worker: Worker;
  /** The one request in flight (a worker answers one at a time; the queues stay here for batching). */
  call: (PendingCall & { id: number }) | undefined;
  closing: boolean;
}

export interface InferencePoolOptions extends OpenVisionModelsOptions {
  workers: number;
  /** Most crops per re-ID batch (embed.batch_size). */
  batchSize: number;
  logLevel: string;
}

const WORKER_URL = new URL('./inference-worker.js', import.meta.url);

export class InferencePool {
  private readonly slots: WorkerSlot[] = [];
  private readonly detectQueue: DetectJob[] = [];
  private readonly embedQueues = new Map<string, EmbedJob[]>();
  private nextId = 1;
  private closed = false;
  private ready: ReadyReply | undefined;

  private constructor(private readonly options: InferencePoolOptions) {}

  /** Starts the workers and resolves once each has opened its models; a model problem rejects with its operator error. */
  static async open(options: InferencePoolOptions): Promise<InferencePool> {
    const pool = new InferencePool(options);
    try {
      const slots = await Promise.all(Array.from({ length: options.workers }, (_, index) => pool.spawn(index)));
      pool.slots.push(...slots);
    } catch (error) {
      await pool.release();
      throw error;
    }
    options.logger.info({ workers: options.workers }, `inference runs in ${options.workers} worker thread${options.workers === 1 ? '' : 's'}`);
    return pool;
  }

  /** The VisionModels face of the pool: a detector and per-class embedders that queue here. */
  visionModels(): VisionModels {
    const ready = this.ready!;
    const embedders: VisionModels['embedders'] = {};
    // One port per model: classes served by one model share it, as in-process embedders do.
    const ports = new Map<string, NonNullable<VisionModels['embedders'][ObjectClass]>>();
    for (const [objectClass, model] of Object.entries(ready.embedderModels) as [ObjectClass, string][]) {
      if (!ports.has(model)) ports.set(model, { embed: (frame, boxes, options) => this.embed(model, frame, boxes, options) });
      embedders[objectClass] = ports.get(model)!;
    }
    return {
      detector: { detect: (frame) => this.detect(frame), setOutputFilter: (filter) => this.broadcast({ type: 'setOutputFilter', filter: { classes: [...filter.classes], minScore: filter.minScore } }) },
      embedders,
      providers: ready.providers,
      release: () => this.release(),
    };
  }

  detect(frame: Frame): Promise<Detection[]> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('inference pool is closed'));
      this.detectQueue.push({ frame: pixels(frame), resolve, reject });
      this.pump();
    });
  }

  embed(model: string, frame: Frame, boxes: readonly Box[], options: EmbedOptions = {}): Promise<CropEmbedding[]> {
    if (boxes.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error('inference pool is closed'));
      const queue = this.embedQueues.get(model) ?? [];
      queue.push({
        frame: pixels(frame),
        boxes: [...boxes],
        ...(options.cameraIndex !== undefined ? { cameraIndex: options.cameraIndex } : {}),
        ...(options.colourTable !== undefined ? { colourTable: options.colourTable } : {}),
        resolve,
        reject,
      });
      this.embedQueues.set(model, queue);
      this.pump();
    });
  }

  /** Jobs waiting for a worker (not those running). */
  queued(): { frames: number; crops: number } {
    let crops = 0;
    for (const queue of this.embedQueues.values()) for (const job of queue) crops += job.boxes.length;
    return { frames: this.detectQueue.length, crops };
  }

  async release(): Promise<void> {
    this.closed = true;
    this.failQueued(new Error('inference pool is closed'));
    await Promise.all(
      this.slots.splice(0).map(async (slot) => {
        slot.closing = true;
        const exited = new Promise((resolve) => slot.worker.once('exit', resolve));
        // Let the request in hand finish, then close the sessions; a stuck worker is terminated.
        const timer = setTimeout(() => void slot.worker.terminate(), 10_000);
        try {
          if (slot.call) await new Promise((resolve) => slot.worker.once('message', resolve));
          await this.call(slot, { type: 'close' });
        } catch {
          // already gone
        }
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private failQueued(error: Error): void {
    for (const job of this.detectQueue.splice(0)) job.reject(error);
    for (const queue of this.embedQueues.values()) for (const job of queue.splice(0)) job.reject(error);
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.call || slot.closing) continue;
      if (!this.startEmbed(slot) && !this.startDetect(slot)) return;
    }
  }

  private startDetect(slot: WorkerSlot): boolean {
    const job = this.detectQueue.shift();
    if (!job) return false;
    this.call(slot, { type: 'detect', frame: job.frame }).then(
      (reply) => {
        if (reply.type !== 'detected') throw new Error(`unexpected reply ${reply.type}`);
        this.observe(reply.timings);
        job.resolve(reply.detections);
      },
      (error: Error) => job.reject(error),
    ).catch((error: Error) => job.reject(error));
    return true;
  }

  private startEmbed(slot: WorkerSlot): boolean {
    for (const [model, queue] of this.embedQueues) {
      if (queue.length === 0) continue;
      let crops = 0;
      let take = 0;
      while (take < queue.length && (take === 0 || crops + queue[take]!.boxes.length <= this.options.batchSize)) crops += queue[take++]!.boxes.length;
      const jobs = queue.splice(0, take);
      const requests = jobs.map((job) => ({
        frame: job.frame,
        boxes: job.boxes,
        ...(job.cameraIndex !== undefined ? { cameraIndex: job.cameraIndex } : {}),
        ...(job.colourTable !== undefined ? { colourTable: job.colourTable } : {}),
      }));
      this.call(slot, { type: 'embed', model, requests }).then(
        (reply) => {
          if (reply.type !== 'embedded') throw new Error(`unexpected reply ${reply.type}`);
          this.observe(reply.timings);
          let offset = 0;
          const { dimension, parts } = reply;
          jobs.forEach((job, j) => {
            const list: CropEmbedding[] = [];
            for (let i = 0; i < reply.counts[j]!; i++, offset++) {
              const embedding = reply.embeddings.slice(offset * dimension, (offset + 1) * dimension);
              if (!parts) {
                list.push({ embedding });
                continue;
              }
              const { count, dim } = parts.layout;
              const features = parts.features.slice(offset * count * dim, (offset + 1) * count * dim);
              list.push({ embedding, parts: { features, visibility: parts.visibility.slice(offset * count, (offset + 1) * count) } });
            }
            job.resolve(list);
          });
        },
        (error: Error) => jobs.forEach((job) => job.reject(error)),
      ).catch((error: Error) => jobs.forEach((job) => job.reject(error)));
      return true;
    }
    return false;
  }

  private observe(timings: readonly InferenceTiming[]): void {
    const observer = this.options.onInference;
    if (!observer) return;
    for (const timing of timings) observer(timing.model, this.ready?.providers[timing.model] ?? ('cpu' as ExecutionProviderName), timing.seconds, timing.items);
  }

  private broadcast(request: Unnumbered<Extract<WorkerRequest, { type: 'setOutputFilter' }>>): void {
    // Sent right away (not queued behind jobs): each worker applies it before its next request.
    for (const slot of this.slots) slot.worker.postMessage({ ...request, id: 0 } satisfies WorkerRequest);
  }

  private call(slot: WorkerSlot, request: Unnumbered<Exclude<WorkerRequest, { type: 'setOutputFilter' }>>): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      slot.call = {
        id,
        resolve: (reply) => {
          slot.call = undefined;
          resolve(reply);
          this.pump();
        },
        reject: (error) => {
          slot.call = undefined;
          reject(error);
          this.pump();
        },
      };
      slot.worker.postMessage({ ...request, id } as WorkerRequest);
    });
  }

  /** Every worker opens the same models: the first one's lines say it for all, the others add only warnings and errors. */
  private relayLog(workerIndex: number, line: string): void {
    let record: { level?: number; msg?: string; time?: number } & Record<string, unknown>;
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      return;
    }
    const { level = 30, msg = '', time: _time, ...fields } = record;
    if (workerIndex > 0 && level < 40) return;
    const method = level >= 50 ? 'error' : level >= 40 ? 'warn' : level >= 30 ? 'info' : 'debug';
    this.options.logger[method](fields, msg);
  }

  private spawn(index: number): Promise<WorkerSlot> {
    const data: InferenceWorkerData = {
      loaded: { config: this.options.config, catalog: this.options.catalog, ...(this.options.modelsDir ? { modelsDir: this.options.modelsDir } : {}) },
      logLevel: this.options.logLevel,
      workerIndex: index,
    };
    const worker = new Worker(WORKER_URL, { workerData: data });
    const slot: WorkerSlot = { index, worker, call: undefined, closing: false };
    return new Promise((resolve, reject) => {
      let started = false;
      worker.on('message', (reply: WorkerReply) => {
        if (reply.type === 'log') this.relayLog(index, reply.line);
        else if (reply.type === 'ready') {
          started = true;
          this.ready ??= reply;
          resolve(slot);
        } else if (reply.type === 'failed') {
          reject(new OperatorError(reply.message, (reply.exitCode as ExitCode | undefined) ?? ExitCode.SOFTWARE));
        } else if (reply.id !== 0 && slot.call?.id === reply.id) {
          if (reply.type === 'error') slot.call.reject(new Error(reply.message));
          else slot.call.resolve(reply);
        }
      });
      worker.on('error', (error) => {
        if (!started) reject(error);
        else this.options.logger.error({ inferenceWorker: index, err: error }, 'inference worker failed');
      });
      worker.on('exit', (code) => {
        slot.call?.reject(new Error(`inference worker ${index} exited (${code})`));
        if (!started || slot.closing || this.closed) return;
        this.options.logger.error({ inferenceWorker: index, code }, `inference worker ${index} exited with code ${code}; starting a new one`);
        const at = this.slots.indexOf(slot);
        if (at >= 0) this.slots.splice(at, 1);
        this.spawn(index).then(
          (replacement) => {
            if (this.closed) return void replacement.worker.terminate();
            this.slots.push(replacement);
            this.pump();
          },
          (error: unknown) => {
            this.options.logger.error({ inferenceWorker: index, err: error }, 'inference worker could not be restarted');
            // With no worker left, waiting jobs would wait forever: fail them so cameras log it and go on.
            if (this.slots.length === 0) this.failQueued(new Error('no inference worker is running'));
          },
        );
      });
    });
  }
}

/** The bytes and size of a frame: all a worker needs (shared, not copied, when the buffer is a SharedArrayBuffer). */
function pixels(frame: FramePixels): FramePixels {
  return { width: frame.width, height: frame.height, data: frame.data };
}
