/**
 * One camera's vision pipeline: frame → detections → tracks → crops → embeddings.
 * It turns each frame into track events and, when a track ends, hands over the
 * track's appearance (quality-weighted embedding of its best crops) for matching.
 */
import type { Box } from '../core/geometry.js';
import type { Detection, Frame, ObjectClass } from '../core/types.js';
import { filterDetections, type DetectionFilterOptions } from '../detect/detection-filter.js';
import type { Detector } from '../detect/detector.js';
import { frameCropQualities } from '../embed/crop-quality.js';
import type { Embedder } from '../embed/embedder.js';
import type { ColourNormaliser } from '../colour/camera-colour.js';
import { TrackEmbedding, type BestCrop } from '../embed/track-embedding.js';
import type { PartEmbedding } from '../embed/part-embedding.js';
import { ByteTracker, type ByteTrackerOptions, type TrackState, type TrackView } from '../track/tracker.js';

/** The re-ID model of each class that has one (the catalog entry lists the classes it serves). */
export type ClassEmbedders = Partial<Record<ObjectClass, Pick<Embedder, 'embed'>>>;

/** What the outside world learns about a track at one moment. */
export interface TrackSighting {
  cameraId: string;
  trackId: number;
  objectClass: ObjectClass;
  state: TrackState;
  /** Box of the last matched detection, frame pixels. */
  box: Box;
  score: number;
  firstPts: number;
  lastPts: number;
  firstFrameIndex: number;
  lastFrameIndex: number;
  /** Wall-clock times (ms since epoch) of the first and last detection. */
  firstSeenAt: number;
  lastSeenAt: number;
  /** Quality of the best crop kept so far (0 before any). */
  quality: number;
  bestCrop?: BestCrop;
}

export interface EndedTrack extends TrackSighting {
  /** Track embedding; absent when no crop was good enough or the class has no re-ID model. */
  embedding?: Float32Array;
  /** The track's parts, from a part model (see TrackEmbedding.parts). */
  parts?: PartEmbedding;
  /** Embeddings of the earlier and the later half of those crops (see TrackEmbedding.halves). */
  halves?: [Float32Array, Float32Array];
  /** Crops behind the embedding. */
  crops: number;
}

export interface CameraFrameResult {
  /** Detections this camera kept (after class, score, height and mask filters). */
  detections: Detection[];
  started: TrackSighting[];
  updated: TrackSighting[];
  ended: EndedTrack[];
}

export interface CameraPipelineOptions {
  cameraId: string;
  /** Fed to camera-aware re-ID models. */
  cameraIndex?: number;
  detector: Pick<Detector, 'detect'>;
  /** A class without one is tracked and reported, never embedded nor matched. */
  embedders: ClassEmbedders;
  filter: DetectionFilterOptions;
  tracker?: Partial<ByteTrackerOptions>;
  /** Crops kept per track for its embedding (K). */
  bestCrops: number;
  /** Crops below this quality are not embedded. */
  minCropQuality: number;
  /** Media seconds between two embedded crops of one track. */
  minCropIntervalS?: number;
  /** The cameras' colour normalisation: person crops are embedded through the camera's table, and teach it. */
  colour?: ColourNormaliser;
}

export class CameraPipeline {
  readonly cameraId: string;
  private readonly tracker: ByteTracker;
  private readonly appearances = new Map<number, TrackEmbedding>();
  /** Wall-clock start of each live track, fixed when first reported: it is part of the track's key downstream. */
  private readonly firstSeenAt = new Map<number, number>();
  /** Clock of the latest frame, to turn track media times into wall-clock times. */
  private clock = { pts: 0, receivedAt: 0 };
  /** Crops sent to the re-ID models so far: the re-ID work the crop selection chose. */
  embeddedCrops = 0;

  constructor(private readonly options: CameraPipelineOptions) {
    this.cameraId = options.cameraId;
    this.tracker = new ByteTracker(options.tracker);
  }

  async process(frame: Frame): Promise<CameraFrameResult> {
    return this.processDetected(frame, await this.options.detector.detect(frame));
  }

  /** As process, for a frame already through the detector (`rawDetections`: its output before this camera's filters). */
  async processDetected(frame: Frame, rawDetections: readonly Detection[]): Promise<CameraFrameResult> {
    this.clock = { pts: frame.pts, receivedAt: frame.receivedAt };
    const detections = filterDetections(rawDetections, frame, this.options.filter);
    const events = this.tracker.update(detections, { pts: frame.pts, frameIndex: frame.index });
    await this.embedCrops(frame, detections, [...events.started, ...events.updated]);
    return {
      detections,
      started: events.started.map((track) => this.sighting(track)),
      updated: events.updated.map((track) => this.sighting(track)),
      ended: events.ended.map((track) => this.end(track)),
    };
  }

  /** Ends every live track (end of a file, camera removed). */
  finish(): EndedTrack[] {
    return this.tracker.flush().map((track) => this.end(track));
  }

  /** Current embedding (and parts) of a live track and the crops behind it, for matching before it ends. */
  appearance(trackId: number): { embedding: Float32Array; parts?: PartEmbedding; quality: number; crops: number } | undefined {
    const appearance = this.appearances.get(trackId);
    const embedding = appearance?.embedding();
    const parts = appearance?.parts();
    return embedding && { embedding, ...(parts ? { parts } : {}), quality: appearance!.bestCrop()!.quality, crops: appearance!.size };
  }

  /** Embeds, in one batch per re-ID model, the crops of this frame that can improve their track. */
  private async embedCrops(frame: Frame, detections: readonly Detection[], tracks: readonly TrackView[]): Promise<void> {
    const qualities = frameCropQualities(detections, frame);
    const wanted = new Map<Pick<Embedder, 'embed'>, { track: TrackView; appearance: TrackEmbedding; box: Box; quality: number }[]>();
    for (const track of tracks) {
      const embedder = this.options.embedders[track.objectClass];
      if (track.matchedDetectionIndex === null || embedder === undefined) continue;
      const quality = qualities[track.matchedDetectionIndex];
      let appearance = this.appearances.get(track.id);
      if (!appearance) {
        appearance = new TrackEmbedding({ k: this.options.bestCrops, ...(this.options.minCropIntervalS !== undefined ? { minIntervalS: this.options.minCropIntervalS } : {}) });
        this.appearances.set(track.id, appearance);
      }
      if (quality < this.options.minCropQuality || !appearance.shouldEmbed(quality, frame.pts)) continue;
      const list = wanted.get(embedder) ?? [];
      list.push({ track, appearance, box: detections[track.matchedDetectionIndex].box, quality });
      wanted.set(embedder, list);
    }
    const { colour } = this.options;
    for (const [embedder, crops] of wanted) {
      this.embeddedCrops += crops.length;
      const boxes = crops.map((crop) => crop.box);
      const colourTable = colour?.table(this.cameraId);
      const people = colour ? crops.filter((crop) => crop.track.objectClass === 'person').map((crop) => crop.box) : [];
      if (people.length > 0) colour!.observe(this.cameraId, frame, people);
      const embeddings = await embedder.embed(frame, boxes, {
        ...(this.options.cameraIndex !== undefined ? { cameraIndex: this.options.cameraIndex } : {}),
        ...(colourTable ? { colourTable } : {}),
      });
      crops.forEach((crop, i) => {
        const { embedding, parts } = embeddings[i]!;
        crop.appearance.add({ embedding, ...(parts ? { parts } : {}), quality: crop.quality, pts: frame.pts, frameIndex: frame.index, box: crop.box });
      });
    }
  }

  private wallClock(pts: number): number {
    return Math.round(this.clock.receivedAt - (this.clock.pts - pts) * 1000);
  }

  private sighting(track: TrackView): TrackSighting {
    const best = this.appearances.get(track.id)?.bestCrop();
    let firstSeenAt = this.firstSeenAt.get(track.id);
    if (firstSeenAt === undefined) {
      firstSeenAt = this.wallClock(track.firstPts);
      this.firstSeenAt.set(track.id, firstSeenAt);
    }
    return {
      cameraId: this.cameraId,
      trackId: track.id,
      objectClass: track.objectClass,
      state: track.state,
      box: { ...track.box },
      score: track.score,
      firstPts: track.firstPts,
      lastPts: track.lastPts,
      firstFrameIndex: track.firstFrameIndex,
      lastFrameIndex: track.lastFrameIndex,
      firstSeenAt,
      lastSeenAt: this.wallClock(track.lastPts),
      quality: best?.quality ?? 0,
      ...(best ? { bestCrop: best } : {}),
    };
  }

  private end(track: TrackView): EndedTrack {
    const sighting = this.sighting(track);
    const appearance = this.appearances.get(track.id);
    this.appearances.delete(track.id);
    this.firstSeenAt.delete(track.id);
    const embedding = appearance?.embedding();
    const parts = appearance?.parts();
    const halves = appearance?.halves();
    return { ...sighting, ...(embedding ? { embedding } : {}), ...(parts ? { parts } : {}), ...(halves ? { halves } : {}), crops: appearance?.size ?? 0 };
  }
}
