/**
 * Worker thread of a nightly adaptation run: the training is seconds to minutes of pure JS,
 * which on the daemon's thread would stall every camera. The thread lowers its own nice value
 * first (on Linux the nice value is per thread), so the cameras' threads keep the CPU.
 */
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import type { AdaptConfig } from '../config/adapt-schema.js';
import { runAdaptation } from './adaptation-run.js';
import { ResidualAdapter, type AdapterWeights } from './residual-adapter.js';
import type { AdaptationTrack } from './trainer.js';

export interface TrainingJob {
  tracks: AdaptationTrack[];
  offsets: Record<string, Float32Array>;
  active: AdapterWeights | null;
  config: AdaptConfig;
  nowIso: string;
  nice: number;
}

export type TrainingMessage =
  | { type: 'epoch'; epoch: number; epochs: number; loss: number; seconds: number }
  | { type: 'done'; outcome: Omit<ReturnType<typeof runAdaptation>, 'adapter'> }
  | { type: 'error'; message: string };

const job = workerData as TrainingJob;
const post = (message: TrainingMessage) => parentPort!.postMessage(message);
try {
  try {
    os.setPriority(0, job.nice);
  } catch {
    // Not permitted (e.g. raising priority without the capability): train at the inherited priority.
  }
  const { adapter: _adapter, ...outcome } = runAdaptation({
    tracks: job.tracks,
    offsetOf: (cameraId) => job.offsets[cameraId],
    active: job.active ? new ResidualAdapter(job.active) : undefined,
    config: job.config,
    now: new Date(job.nowIso),
    onEpoch: (report) => post({ type: 'epoch', epoch: report.epoch, epochs: job.config.epochs, loss: report.loss, seconds: report.seconds }),
  });
  post({ type: 'done', outcome });
} catch (error) {
  post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}
