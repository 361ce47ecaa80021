/**
 * One camera in the daemon: its live source feeds its vision pipeline, newest frame
 * first, and every track change becomes a `track` event on the bus. Errors in a frame
 * are logged and counted; the camera keeps going.
 */
import { footPointIn, type Box, type Polygon } from '../core/geometry.js';
import type { Logger } from '../core/logger.js';
import type { CameraSource, LiveFrame } from '../ingest/camera-source.js';
import type { CameraPipeline, EndedTrack, TrackSighting } from '../pipeline/camera-pipeline.js';
import type { CameraStatsSnapshot } from '../publish/builders.js';
import type { DaemonEvents } from './daemon-events.js';
import type { EventBus } from './event-bus.js';

export interface Zone {
  name: string;
  polygon: Polygon;
}

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
  now?: () => number;
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
  private readonly lastUpdate = new Map<number, number>();
  private readonly ready = new Set<number>();
  private session = 0;
  private frameSize = { width: 1, height: 1 };
  private processedFrames = 0;
  private interval: Interval;
  private loop: Promise<void> | undefined;

  constructor(private readonly options: CameraWorkerOptions) {
    this.cameraId = options.source.cameraId;
    this.now = options.now ?? Date.now;
    this.interval = { startedAt: this.now(), frames: 0, processMs: 0, latencyMs: 0 };
  }

  start(): void {
    this.options.source.on('status', (status) => this.options.bus.emit('cameraStatus', status));
    this.options.source.start();
    this.options.bus.emit('cameraStatus', this.options.source.status());
    this.loop = this.run();
  }

  /** Stops the source, lets the frame in hand finish, then ends every live track. */
  async stop(): Promise<void> {
    await this.options.source.stop();
    await this.loop;
    this.endTracks(this.options.pipeline.finish());
    this.options.bus.emit('cameraStatus', this.options.source.status());
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
      if (this.session !== 0) this.endTracks(this.options.pipeline.finish());
      this.session = frame.session;
    }
    this.frameSize = { width: frame.width, height: frame.height };
    const started = performance.now();
    const result = await this.options.pipeline.process(frame);
    const at = this.now();
    this.interval.frames += 1;
    this.interval.processMs += performance.now() - started;
    this.interval.latencyMs += at - frame.receivedAt;
    this.processedFrames += 1;

    for (const sighting of result.started) {
      this.lastUpdate.set(sighting.trackId, sighting.lastPts);
      this.emitTrack('new', sighting, at);
    }
    for (const sighting of result.updated) {
      this.announceIfReady(sighting);
      const last = this.lastUpdate.get(sighting.trackId) ?? -Infinity;
      // Tolerance: media times are sums of float frame steps (1.4 − 0.4 < 1).
      if (sighting.lastPts - last >= this.options.updateIntervalS - 1e-6) {
        this.lastUpdate.set(sighting.trackId, sighting.lastPts);
        this.emitTrack('update', sighting, at);
      }
    }
    this.endTracks(result.ended);
  }

  private announceIfReady(sighting: TrackSighting): void {
    const needed = this.options.readyAfterCrops;
    if (needed === undefined || this.ready.has(sighting.trackId)) return;
    const appearance = this.options.pipeline.appearance(sighting.trackId);
    if (!appearance || appearance.crops < needed) return;
    this.ready.add(sighting.trackId);
    this.options.bus.emit('trackReady', { sighting, embedding: appearance.embedding });
  }

  private endTracks(tracks: readonly EndedTrack[]): void {
    for (const track of tracks) {
      this.lastUpdate.delete(track.trackId);
      this.ready.delete(track.trackId);
      this.emitTrack('end', track, this.now(), track.embedding);
    }
  }

  private emitTrack(type: 'new' | 'update' | 'end', sighting: TrackSighting, at: number, embedding?: Float32Array): void {
    this.options.bus.emit('track', { type, sighting, zones: this.zonesOf(sighting.box), at, ...(embedding ? { embedding } : {}) });
  }

  private zonesOf(box: Box): string[] {
    return this.options.zones.filter((zone) => footPointIn(box, this.frameSize, zone.polygon)).map((zone) => zone.name);
  }
}
