/**
 * An inference worker thread: opens the same detector and re-ID models as the main thread
 * would (openInProcessVisionModels) and answers the pool's requests one at a time.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../core/logger.js';
import { OperatorError } from '../core/operator-error.js';
import type { Embedder } from '../embed/embedder.js';
import { openInProcessVisionModels } from '../pipeline/setup.js';
import type { InferenceTiming, InferenceWorkerData, WorkerReply, WorkerRequest } from './inference-protocol.js';

const port = parentPort!;
const data = workerData as InferenceWorkerData;
const send = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
const logger = createLogger({ level: data.logLevel, destination: { write: (line: string) => send({ type: 'log', line }) } }).child({ inferenceWorker: data.workerIndex });
const timings: InferenceTiming[] = [];

try {
  const models = await openInProcessVisionModels({
    ...data.loaded,
    logger,
    onInference: (model, _provider, seconds, items) => timings.push({ model, seconds, items }),
  });
  const byModel = new Map<string, Embedder>();
  const embedderModels: Partial<Record<string, string>> = {};
  for (const [objectClass, embedder] of Object.entries(models.embedders)) {
    byModel.set(embedder.modelId, embedder);
    embedderModels[objectClass] = embedder.modelId;
  }

  const handle = async (request: WorkerRequest): Promise<void> => {
    timings.length = 0;
    switch (request.type) {
      case 'detect': {
        const detections = await models.detector.detect({ ...request.frame, cameraId: '', index: 0, pts: 0, receivedAt: 0 });
        send({ id: request.id, type: 'detected', detections, timings: [...timings] });
        return;
      }
      case 'embed': {
        const embedder = byModel.get(request.model);
        if (!embedder) throw new Error(`no re-ID model ${request.model} in this worker`);
        const results = await embedder.embedBatch(request.requests);
        const counts = results.map((list) => list.length);
        const crops = results.flat();
        const flat = new Float32Array(crops.length * embedder.dimension);
        crops.forEach((crop, i) => flat.set(crop.embedding, i * embedder.dimension));
        const layout = embedder.partLayout;
        const parts = layout && { features: new Float32Array(crops.length * layout.count * layout.dim), visibility: new Float32Array(crops.length * layout.count), layout };
        if (parts) {
          crops.forEach((crop, i) => {
            parts.features.set(crop.parts!.features, i * layout!.count * layout!.dim);
            parts.visibility.set(crop.parts!.visibility, i * layout!.count);
          });
        }
        const transfer = parts ? [flat.buffer, parts.features.buffer, parts.visibility.buffer] : [flat.buffer];
        send({ id: request.id, type: 'embedded', embeddings: flat, counts, dimension: embedder.dimension, ...(parts ? { parts } : {}), timings: [...timings] }, transfer);
        return;
      }
      case 'setOutputFilter':
        models.detector.setOutputFilter(request.filter);
        send({ id: request.id, type: 'done' });
        return;
      case 'close':
        await models.release();
        send({ id: request.id, type: 'done' });
        port.close();
        return;
    }
  };
  port.on('message', (request: WorkerRequest) => {
    handle(request).catch((error: unknown) => send({ id: request.id, type: 'error', message: error instanceof Error ? error.message : String(error) }));
  });
  send({ type: 'ready', providers: models.providers, detectorModel: data.loaded.config.models.detector, embedderModels });
} catch (error) {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error), ...(error instanceof OperatorError ? { exitCode: error.exitCode } : {}) });
}
