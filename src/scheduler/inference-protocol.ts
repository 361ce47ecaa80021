/**
 * Messages between the inference pool (main thread) and its workers. Frames travel as
 * views of their bytes: a SharedArrayBuffer-backed frame (live cameras) is shared, not
 * copied; results come back as plain arrays and transferred Float32Arrays.
 */
import type { Box } from '../core/geometry.js';
import type { Detection, Frame, ObjectClass } from '../core/types.js';
import type { OpenVisionModelsOptions } from '../pipeline/setup.js';
import type { ExecutionProviderName } from '../runtime/inference-session.js';
import type { PartLayout } from '../embed/part-embedding.js';

export type FramePixels = Pick<Frame, 'width' | 'height' | 'data'>;

/** What a worker opens: the main thread's config and catalog, with inference in the worker itself. */
export interface InferenceWorkerData {
  loaded: Pick<OpenVisionModelsOptions, 'config' | 'catalog' | 'modelsDir'>;
  logLevel: string;
  workerIndex: number;
}

export type WorkerRequest =
  | { id: number; type: 'detect'; frame: FramePixels }
  | { id: number; type: 'embed'; model: string; requests: { frame: FramePixels; boxes: Box[]; cameraIndex?: number; colourTable?: Float32Array }[] }
  | { id: number; type: 'setOutputFilter'; filter: { classes: ObjectClass[]; minScore: number } }
  | { id: number; type: 'close' };

/** A network run inside a request, for the metrics observer. */
export interface InferenceTiming {
  model: string;
  seconds: number;
  /** Frames (detector) or crops (re-ID) in the run. */
  items: number;
}

export type WorkerReply =
  /** One pino JSON line of the worker's logger, logged again by the main thread's. */
  | { type: 'log'; line: string }
  | { type: 'ready'; providers: Record<string, ExecutionProviderName>; detectorModel: string; embedderModels: Partial<Record<ObjectClass, string>> }
  | { type: 'failed'; message: string; exitCode?: number }
  | { id: number; type: 'detected'; detections: Detection[]; timings: InferenceTiming[] }
  | {
      id: number;
      type: 'embedded';
      /** Every crop's global embedding, `dimension` values each, crops of all requests in order (`counts` per request). */
      embeddings: Float32Array;
      counts: number[];
      dimension: number;
      /** From a part model, every crop's parts laid out the same way (`count × dim` features, `count` visibilities each). */
      parts?: { features: Float32Array; visibility: Float32Array; layout: PartLayout };
      timings: InferenceTiming[];
    }
  | { id: number; type: 'done' }
  | { id: number; type: 'error'; message: string };
