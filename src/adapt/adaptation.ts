/**
 * On-site adaptation as the daemon (and `crosscam adapt`) runs it: train a candidate on the
 * logged tracks, judge it on the held-out slice against the active adapter, keep it as a
 * version and activate it only if it wins; roll back to the previous version on request. The
 * matching space takes a new adapter at once (the gallery re-projects on its next refresh), and
 * each change is announced (published on MQTT as `adapter`).
 */
import { Worker } from 'node:worker_threads';
import type { AdaptConfig } from '../config/adapt-schema.js';
import type { Logger } from '../core/logger.js';
import type { RootDatabase } from '../core/state-store.js';
import { describeScore, type AdapterScore } from './adapter-check.js';
import { runAdaptation } from './adaptation-run.js';
import { AdapterVersions, type AdapterVersion } from './adapter-versions.js';
import type { ResidualAdapter } from './residual-adapter.js';
import { AdaptationTrackLog } from './track-log.js';
import type { TrainingJob, TrainingMessage } from './training-worker.js';

/** What the matching space must offer the adaptation. */
export interface AdaptedSpace {
  offset(cameraId: string): Float32Array | undefined;
  useAdapter(adapter: ResidualAdapter | undefined): void;
}

export interface AdapterChange {
  action: 'activated' | 'kept' | 'rolled_back';
  /** Active version after the change, 0: none (the plain centred space). */
  active: number;
  /** Active version before it. */
  previous: number;
  /** The run's candidate (activated or kept as a version only). */
  candidate?: { version: number; score: AdapterScore; activeScore: AdapterScore };
  at: number;
}

export interface AdaptationStatus {
  running: boolean;
  /** During a run: the epoch reached. */
  progress: { epoch: number; epochs: number } | null;
  active: number;
  loggedTracks: number;
  versions: AdapterVersion[];
}

export interface AdaptationOptions {
  trackLog: AdaptationTrackLog;
  versions: AdapterVersions;
  space: AdaptedSpace;
  config: AdaptConfig;
  logger: Logger;
  onChange?: (change: AdapterChange) => void;
  /** After the space took the store's active version (0: none), at start and at every change. */
  onApplied?: (version: number) => void;
  now?: () => number;
  /** Train in a worker thread at this nice value (the daemon); undefined: on the caller's thread (a CLI command). */
  worker?: { nice: number };
}

export class Adaptation {
  private running: Promise<AdapterChange> | undefined;
  private progress: { epoch: number; epochs: number } | null = null;
  private loaded = -1;
  private worker: Worker | undefined;

  constructor(private readonly options: AdaptationOptions) {}

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  /**
   * Makes the space use the store's active version if it is not the one loaded: at start, and
   * when another process (`crosscam adapt run | rollback`) changed it, which is then announced
   * like a change of this one. Returns whether the adapter changed.
   */
  sync(): boolean {
    const previous = this.loaded;
    if (!this.apply()) return false;
    if (previous === -1) return true;
    const active = this.options.versions.activeVersion;
    const version = active === 0 ? undefined : this.options.versions.get(active);
    const change: AdapterChange =
      version !== undefined && active > previous
        ? { action: 'activated', active, previous, candidate: { version: active, score: version.document.score, activeScore: version.document.activeScore }, at: this.now }
        : { action: 'rolled_back', active, previous, at: this.now };
    this.options.logger.info({ job: 'adapt', ...change }, `adapter version ${active === 0 ? 'none' : active} in use (changed by another process)`);
    this.options.onChange?.(change);
    return true;
  }

  /** Loads the store's active version into the space if it is not the one loaded. */
  private apply(): boolean {
    const { versions, space } = this.options;
    const active = versions.activeVersion;
    if (active === this.loaded) return false;
    space.useAdapter(versions.active()?.adapter);
    this.loaded = active;
    this.options.onApplied?.(active);
    return true;
  }

  status(): AdaptationStatus {
    return { ...this.summary(), versions: this.options.versions.list() };
  }

  /** The status without the stored versions (cheap: the daemon's stats read it). */
  summary(): Omit<AdaptationStatus, 'versions'> {
    return {
      running: this.running !== undefined,
      progress: this.progress,
      active: this.options.versions.activeVersion,
      loggedTracks: this.options.trackLog.count,
    };
  }

  /** One run; a second call while one runs joins it. */
  run(): Promise<AdapterChange> {
    this.running ??= this.train().finally(() => {
      this.running = undefined;
      this.progress = null;
    });
    return this.running;
  }

  /** Ends a training thread that is running (the daemon stops); its run fails and stores nothing. */
  async stop(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Back to the version active before the current one; undefined when none is active. */
  rollback(): AdapterChange | undefined {
    const rolled = this.options.versions.rollback();
    if (rolled === undefined) return undefined;
    this.apply();
    const change: AdapterChange = { action: 'rolled_back', active: rolled.to, previous: rolled.from, at: this.now };
    this.options.logger.info({ job: 'adapt', ...change }, `adapter rolled back from version ${rolled.from} to ${rolled.to === 0 ? 'none' : `version ${rolled.to}`}`);
    this.options.onChange?.(change);
    return change;
  }

  private async train(): Promise<AdapterChange> {
    const { trackLog, versions, config, logger } = this.options;
    // Epoch 0 until the first ends: the pair directions and the first pseudo-labels come before it.
    this.progress = { epoch: 0, epochs: config.epochs };
    trackLog.trim();
    const tracks = trackLog.recent();
    const needed = 2 * config.held_out_every;
    if (tracks.length < needed) throw new Error(`adaptation needs at least ${needed} logged tracks, has ${tracks.length}`);
    const offsets: Record<string, Float32Array> = {};
    for (const cameraId of new Set(tracks.map((track) => track.cameraId))) {
      const offset = this.options.space.offset(cameraId);
      if (offset !== undefined) offsets[cameraId] = Float32Array.from(offset);
    }
    const activeBefore = versions.activeVersion;
    const active = versions.active()?.adapter;
    const started = performance.now();
    logger.info({ job: 'adapt', tracks: tracks.length, active: activeBefore }, `adaptation: training a candidate on ${tracks.length} tracks`);
    const outcome = this.options.worker
      ? await this.trainInWorker({ tracks, offsets, active: active?.weights ?? null, config, nowIso: new Date(this.now).toISOString(), nice: this.options.worker.nice })
      : runAdaptation({ tracks, offsetOf: (cameraId) => offsets[cameraId], active, config, now: new Date(this.now), onEpoch: (epoch) => (this.progress = { epoch: epoch.epoch, epochs: config.epochs }) });
    const version = versions.add(outcome.document, outcome.activate, this.now);
    if (outcome.activate) this.apply();
    const change: AdapterChange = {
      action: outcome.activate ? 'activated' : 'kept',
      active: versions.activeVersion,
      previous: activeBefore,
      candidate: { version, score: outcome.candidate, activeScore: outcome.active },
      at: this.now,
    };
    logger.info(
      { job: 'adapt', ...change, seconds: (performance.now() - started) / 1000 },
      `adaptation: candidate version ${version} ${outcome.activate ? 'activated' : 'kept inactive'} (${describeScore(outcome.candidate)}; active: ${describeScore(outcome.active)})`,
    );
    this.options.onChange?.(change);
    return change;
  }

  private trainInWorker(job: TrainingJob): Promise<Omit<ReturnType<typeof runAdaptation>, 'adapter'>> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(new URL('./training-worker.js', import.meta.url), { workerData: job });
      this.worker = worker;
      let settled = false;
      worker.on('message', (message: TrainingMessage) => {
        if (message.type === 'epoch') {
          this.progress = { epoch: message.epoch, epochs: message.epochs };
          this.options.logger.info({ job: 'adapt', ...message }, `adaptation: epoch ${message.epoch}/${message.epochs}, loss ${message.loss.toFixed(4)}, ${message.seconds.toFixed(1)} s`);
        } else {
          settled = true;
          if (message.type === 'done') resolve(message.outcome);
          else reject(new Error(message.message));
          void worker.terminate();
        }
      });
      worker.on('error', (error) => {
        settled = true;
        reject(error);
      });
      worker.on('exit', (code) => {
        this.worker = undefined;
        if (!settled) reject(new Error(`the training thread ended before its result (code ${code}): stopped, or out of memory`));
      });
    });
  }
}


/**
 * The adaptation of a state store, from the config's `adapt` section: the one place that
 * section is read (the daemon and the `crosscam adapt` commands both open it here).
 */
export function openAdaptation(
  config: AdaptConfig,
  deps: { store: RootDatabase; space: AdaptedSpace; logger: Logger; onChange?: (change: AdapterChange) => void; onApplied?: (version: number) => void; inWorker: boolean },
): { adaptation: Adaptation; trackLog: AdaptationTrackLog } {
  const trackLog = new AdaptationTrackLog({ store: deps.store, maxTracks: config.max_tracks, objectClass: 'person' });
  const adaptation = new Adaptation({
    trackLog,
    versions: new AdapterVersions(deps.store),
    space: deps.space,
    config,
    logger: deps.logger,
    ...(deps.onChange ? { onChange: deps.onChange } : {}),
    ...(deps.onApplied ? { onApplied: deps.onApplied } : {}),
    ...(deps.inWorker ? { worker: { nice: config.nice } } : {}),
  });
  return { adaptation, trackLog };
}
