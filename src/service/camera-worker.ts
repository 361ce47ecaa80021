/**
 * One camera in the daemon: its live source feeds its vision pipeline, newest frame
 * first, and every track change becomes a `track` event on the bus (see CameraTracks).
 * Errors in a frame are logged and counted; the camera keeps going.
 */
import type { Logger } from '../core/logger.js';
import type { ObjectClass } from '../core/types.js';
import type { CameraStatus } from '../ingest/camera-status.js';
import type { CameraSource, LiveFrame } from '../ingest/camera-source.js';
import type { CameraPipeline } from '../pipeline/camera-pipeline.js';
import type { CameraStatsSnapshot } from '../publish/builders.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import { CameraTracks, type Zone } from './camera-tracks.js';
import type { DaemonEvents } from './daemon-events.js';
import type { EventBus } from './event-bus.js';

export interface CameraWorkerOptions {
  source: CameraSource;
  pipeline: CameraPipeline;
  bus: EventBus<DaemonEvents>;
  logger: Logger;
  zones: readonly Zone[];
  /** A live track's sighting is re-published at most this often. */
  updateIntervalS: number;
  /** Crops after which a live track is announced ready for an early decision; undefined: only at its end. */
  readyAfterCrops?: number;
  /** Keeps the pixels of each track's best crop for its snapshots. */
  snapshots?: Pick<SnapshotStore, 'observe'>;
  /** The status (with its current fps) is re-emitted this often besides each state change; undefined: only on changes. */
  statusIntervalS?: number;
  now?: () => number;
}

/** A camera's running totals, read by the metrics endpoint. */
export interface CameraCounters {
  cameraId: string;
  status: CameraStatus;
  processedFrames: number;
  /** Wall-clock time (ms) of the last processed frame, null before the first. */
  lastProcessedAt: number | null;
  /** Detections kept by this camera's filters, by class, since it started. */
  detections: Partial<Record<ObjectClass, number>>;
  /** Frames waiting for the pipeline (0 or 1: newest frame wins). */
  queuedFrames: number;
  /** Tracks being followed now, by class. */
  liveTracks: Partial<Record<ObjectClass, number>>;
}

/** Running sums since the last stats snapshot. */
interface Interval {
  startedAt: number;
  frames: number;
  processMs: number;
  latencyMs: number;
}

export class CameraWorker {
  readonly cameraId: string;
  private readonly now: () => number;
  private readonly tracks: CameraTracks;
  private session = 0;
  private processedFrames = 0;
  private lastProcessedAt: number | null = null;
  private readonly detections: Partial<Record<ObjectClass, number>> = {};
  private interval: Interval;
  private loop: Promise<void> | undefined;
  private statusTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CameraWorkerOptions) {
    this.cameraId = options.source.cameraId;
    this.now = options.now ?? Date.now;
    this.tracks = new CameraTracks({
      pipeline: options.pipeline,
      bus: options.bus,
      zones: options.zones,
      updateIntervalS: options.updateIntervalS,
      ...(options.readyAfterCrops !== undefined ? { readyAfterCrops: options.readyAfterCrops } : {}),
      now: this.now,
    });
    this.interval = { startedAt: this.now(), frames: 0, processMs: 0, latencyMs: 0 };
  }

  start(): void {
    this.options.source.on('status', (status) => this.options.bus.emit('cameraStatus', status));
    this.options.source.start();
    this.options.bus.emit('cameraStatus', this.options.source.status());
    // A state change is emitted with the fps of that moment (0 when it comes online); the
    // periodic one carries the rate actually measured.
    if (this.options.statusIntervalS !== undefined) {
      this.statusTimer = setInterval(() => this.options.bus.emit('cameraStatus', this.options.source.status()), this.options.statusIntervalS * 1000);
      this.statusTimer.unref();
    }
    this.loop = this.run();
  }

  /** Stops the source, lets the frame in hand finish, then ends every live track. */
  async stop(): Promise<void> {
    clearInterval(this.statusTimer);
    await this.options.source.stop(); // emits the final `offline` status itself
    await this.loop;
    this.tracks.finish();
  }

  /** Figures since the previous call. */
  takeStats(): CameraStatsSnapshot {
    const now = this.now();
    const { frames, processMs, latencyMs, startedAt } = this.interval;
    this.interval = { startedAt: now, frames: 0, processMs: 0, latencyMs: 0 };
    const seconds = Math.max((now - startedAt) / 1000, 1e-3);
    return {
      cameraId: this.cameraId,
      fps: frames / seconds,
      processedFrames: this.processedFrames,
      skippedFrames: this.options.source.status().skippedFrames,
      pipelineMs: frames > 0 ? processMs / frames : null,
      latencyMs: frames > 0 ? latencyMs / frames : null,
      people: this.tracks.liveByClass().person ?? 0,
    };
  }

  counters(): CameraCounters {
    const status = this.options.source.status();
    return {
      cameraId: this.cameraId,
      status,
      processedFrames: this.processedFrames,
      lastProcessedAt: this.lastProcessedAt,
      detections: { ...this.detections },
      queuedFrames: this.options.source.pendingFrames(),
      liveTracks: this.tracks.liveByClass(),
    };
  }

  private async run(): Promise<void> {
    for await (const frame of this.options.source.frames()) {
      try {
        await this.process(frame);
      } catch (error) {
        this.options.logger.error({ camera: this.cameraId, frame: frame.index, err: error }, 'frame processing failed');
      }
    }
  }

  private async process(frame: LiveFrame): Promise<void> {
    if (frame.session !== this.session) {
      // ffmpeg restarted: media time starts again at 0, so the tracks of the old run end here.
      if (this.session !== 0) this.tracks.finish();
      this.session = frame.session;
    }
    const started = performance.now();
    const result = await this.tracks.process(frame);
    this.options.snapshots?.observe(frame, result);
    for (const detection of result.detections) this.detections[detection.objectClass] = (this.detections[detection.objectClass] ?? 0) + 1;
    this.interval.frames += 1;
    this.interval.processMs += performance.now() - started;
    this.interval.latencyMs += this.now() - frame.receivedAt;
    this.processedFrames += 1;
    this.lastProcessedAt = this.now();
  }
}
