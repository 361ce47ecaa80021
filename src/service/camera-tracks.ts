/**
 * A camera's frames through its vision pipeline, as track events on the bus: `new` when a
 * track is confirmed, throttled `update`s, `trackReady` once a live track has its best crops
 * (for an early decision) and `end` with its embedding. Shared by the live camera worker and
 * the offline cross-camera evaluation, so both feed the identity stage the same events.
 */
import { footPointIn, type Box, type Polygon } from '../core/geometry.js';
import type { Frame, ObjectClass } from '../core/types.js';
import type { CameraFrameResult, CameraPipeline, EndedTrack, TrackSighting } from '../pipeline/camera-pipeline.js';
import type { DaemonEvents } from './daemon-events.js';
import type { EventBus } from './event-bus.js';

export interface Zone {
  name: string;
  polygon: Polygon;
}

export interface CameraTracksOptions {
  pipeline: Pick<CameraPipeline, 'process' | 'finish' | 'appearance'>;
  bus: EventBus<DaemonEvents>;
  zones: readonly Zone[];
  /** A live track's sighting is re-published at most this often (media seconds). */
  updateIntervalS: number;
  /** Crops after which a live track is announced ready for an early decision; undefined: only at its end. */
  readyAfterCrops?: number;
  /** Wall clock of the events, ms since epoch. */
  now: () => number;
}

export class CameraTracks {
  /** Confirmed tracks not yet ended: their class and the media time of their last published sighting. */
  private readonly live = new Map<number, { objectClass: ObjectClass; publishedPts: number }>();
  private readonly ready = new Set<number>();
  private frameSize = { width: 1, height: 1 };

  constructor(private readonly options: CameraTracksOptions) {}

  /** Runs one frame through the pipeline and announces what changed; returns the pipeline's result. */
  async process(frame: Frame): Promise<CameraFrameResult> {
    this.frameSize = { width: frame.width, height: frame.height };
    const result = await this.options.pipeline.process(frame);
    const at = this.options.now();
    for (const sighting of result.started) {
      this.live.set(sighting.trackId, { objectClass: sighting.objectClass, publishedPts: sighting.lastPts });
      this.emitTrack('new', sighting, at);
    }
    for (const sighting of result.updated) {
      this.announceIfReady(sighting);
      const track = this.live.get(sighting.trackId);
      const last = track?.publishedPts ?? -Infinity;
      // Tolerance: media times are sums of float frame steps (1.4 − 0.4 < 1).
      if (sighting.lastPts - last >= this.options.updateIntervalS - 1e-6) {
        if (track) track.publishedPts = sighting.lastPts;
        else this.live.set(sighting.trackId, { objectClass: sighting.objectClass, publishedPts: sighting.lastPts });
        this.emitTrack('update', sighting, at);
      }
    }
    this.endTracks(result.ended);
    return result;
  }

  /** Ends every live track (the stream ended or restarted, the camera stops). */
  finish(): void {
    this.endTracks(this.options.pipeline.finish());
  }

  /** Confirmed live tracks, counted by class. */
  liveByClass(): Partial<Record<ObjectClass, number>> {
    const counts: Partial<Record<ObjectClass, number>> = {};
    for (const { objectClass } of this.live.values()) counts[objectClass] = (counts[objectClass] ?? 0) + 1;
    return counts;
  }

  private announceIfReady(sighting: TrackSighting): void {
    const needed = this.options.readyAfterCrops;
    if (needed === undefined || this.ready.has(sighting.trackId)) return;
    const appearance = this.options.pipeline.appearance(sighting.trackId);
    if (!appearance || appearance.crops < needed) return;
    this.ready.add(sighting.trackId);
    this.options.bus.emit('trackReady', { sighting, embedding: appearance.embedding, ...(appearance.parts ? { parts: appearance.parts } : {}) });
  }

  private endTracks(tracks: readonly EndedTrack[]): void {
    for (const track of tracks) {
      this.live.delete(track.trackId);
      this.ready.delete(track.trackId);
      this.emitTrack('end', track, this.options.now(), track);
    }
  }

  private emitTrack(type: 'new' | 'update' | 'end', sighting: TrackSighting, at: number, ended?: Pick<EndedTrack, 'embedding' | 'parts' | 'halves'>): void {
    const { embedding, parts, halves } = ended ?? {};
    this.options.bus.emit('track', {
      type,
      sighting,
      zones: this.zonesOf(sighting.box),
      at,
      ...(embedding ? { embedding } : {}),
      ...(parts ? { parts } : {}),
      ...(halves ? { halves } : {}),
    });
  }

  private zonesOf(box: Box): string[] {
    return this.options.zones.filter((zone) => footPointIn(box, this.frameSize, zone.polygon)).map((zone) => zone.name);
  }
}
