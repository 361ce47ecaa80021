/**
 * Snapshots of what the daemon saw: for each track, a JPEG of its best crop (full
 * resolution) and of the frame that crop came from (scaled down, every tracked box drawn).
 *
 * Pixels are copied out of the frame only when a track's best crop improves (the ingest
 * reuses its frame buffers); a frame copy is shared by the tracks that improved on it and
 * taken at most once per `frameEveryS` of media time per track. Copies live in pooled buffers
 * (pixel-pool.ts) that go back to the pool when the last holder (a live track, the camera's
 * live view, an encode under way) lets go: fresh buffers here set off V8's full collections.
 * Nothing is encoded while a
 * track is live, unless someone asks for its snapshot; when it ends, both JPEGs are written
 * under `dir` as `<id>-crop.jpg` and `<id>-frame.jpg`, id = `<camera>-<track>-<first seen ms>`.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Box } from '../core/geometry.js';
import type { Logger } from '../core/logger.js';
import { RateLimitedLog } from '../core/rate-limited-log.js';
import type { Frame } from '../core/types.js';
import { trackKeyId, type TrackKey } from '../gallery/records.js';
import type { CameraFrameResult } from '../pipeline/camera-pipeline.js';
import { drawBoxes, glyphAtlas, type RgbImage } from './box-overlay.js';
import { PixelPool, type PixelBuffer } from './pixel-pool.js';

export type SnapshotKind = 'crop' | 'frame';

export interface SnapshotStoreOptions {
  dir: string;
  /** JPEG quality, 1..100. */
  quality: number;
  /** Frames are scaled down to at most this width. */
  frameWidth: number;
  logger: Logger;
  /** Least media time between two frame copies of one track (default 2 s). */
  frameEveryS?: number;
}

/** An RGB image whose `data` is `pixels.data`. */
interface RawImage extends RgbImage {
  pixels: PixelBuffer;
}

interface FrameCopy extends RawImage {
  boxes: { box: Box; label: string }[];
  /** The boxes are drawn into `data` (at source size) by the first encode; later ones reuse them. */
  drawn: boolean;
}

interface LiveSnapshot {
  crop: RawImage;
  frame: FrameCopy;
  framePts: number;
}

export const snapshotId = trackKeyId;

const SNAPSHOT_ID = /^[A-Za-z0-9_-]+-\d+-\d+$/;
const liveKey = (cameraId: string, trackId: number) => `${cameraId}#${trackId}`;

export class SnapshotStore {
  private readonly live = new Map<string, LiveSnapshot>();
  /** Each camera's latest frame copy (taken at most every frameEveryS), for its live view. */
  private readonly latest = new Map<string, { frame: FrameCopy; pts: number }>();
  /** Writes under way, by snapshot id: a read waits for them. */
  private readonly writing = new Map<string, Promise<void>>();
  private readonly frameEveryS: number;
  private readonly pool = new PixelPool();
  /** A full disk fails every snapshot: one line a minute. */
  private readonly writeErrors: RateLimitedLog;
  private ready: Promise<unknown> | undefined;

  constructor(private readonly options: SnapshotStoreOptions) {
    this.writeErrors = new RateLimitedLog(options.logger);
    this.frameEveryS = options.frameEveryS ?? 2;
  }

  /** Called after each processed frame: keeps the pixels of the tracks whose best crop is on it. */
  observe(frame: Frame, result: Pick<CameraFrameResult, 'started' | 'updated'>): void {
    let shared: FrameCopy | undefined;
    // Each user of the shared copy holds it once; this call's own hold ends below.
    const copyFrame = (): FrameCopy => {
      shared ??= {
        ...this.copyPixels(frame.data, frame.width * frame.height * 3, frame.width, frame.height),
        boxes: [...result.started, ...result.updated].map((s) => ({ box: s.box, label: `${s.objectClass} #${s.trackId}` })),
        drawn: false,
      };
      shared.pixels.retain();
      return shared;
    };
    const latest = this.latest.get(frame.cameraId);
    if (latest === undefined || frame.pts - latest.pts >= this.frameEveryS || frame.pts < latest.pts) {
      this.latest.set(frame.cameraId, { frame: copyFrame(), pts: frame.pts });
      latest?.frame.pixels.release();
    }
    for (const sighting of [...result.started, ...result.updated]) {
      const best = sighting.bestCrop;
      if (best === undefined || best.frameIndex !== frame.index) continue;
      const key = liveKey(sighting.cameraId, sighting.trackId);
      const held = this.live.get(key);
      const crop = this.copyRegion(frame, best.box);
      if (crop === undefined) continue;
      if (held === undefined || frame.pts - held.framePts >= this.frameEveryS) {
        this.live.set(key, { crop, frame: copyFrame(), framePts: frame.pts });
        held?.frame.pixels.release();
      } else {
        this.live.set(key, { crop, frame: held.frame, framePts: held.framePts });
      }
      held?.crop.pixels.release();
    }
    shared?.pixels.release();
  }

  /** The track ended: its JPEGs are written (resolves when they are on disk). */
  end(track: TrackKey): Promise<void> {
    const key = liveKey(track.cameraId, track.trackId);
    const held = this.live.get(key);
    if (held === undefined) return Promise.resolve();
    this.live.delete(key);
    const id = snapshotId(track);
    const written = this.write(id, held).finally(() => {
      this.writing.delete(id);
      releaseSnapshot(held);
    });
    this.writing.set(id, written);
    return written;
  }

  /** The camera's latest frame (at most frameEveryS old while it streams), boxes drawn; undefined before the first. */
  async cameraFrame(cameraId: string): Promise<Buffer | undefined> {
    const latest = this.latest.get(cameraId);
    return latest && this.encodeHeld(latest.frame, (frame) => this.encodeFrame(frame));
  }

  /** Forgets a removed camera's live view. */
  dropCamera(cameraId: string): void {
    this.latest.get(cameraId)?.frame.pixels.release();
    this.latest.delete(cameraId);
  }

  /** Bytes of pixel copies held now and kept idle for reuse. */
  pixelUsage(): { inUseBytes: number; idleBytes: number } {
    return this.pool.usage();
  }

  /** A JPEG by id: encoded now for a live track, else read from disk; undefined when there is none. */
  async read(id: string, kind: SnapshotKind): Promise<Buffer | undefined> {
    if (!SNAPSHOT_ID.test(id)) return undefined;
    const held = this.liveById(id);
    if (held) return kind === 'crop' ? this.encodeHeld(held.crop, (crop) => this.encodeCrop(crop)) : this.encodeHeld(held.frame, (frame) => this.encodeFrame(frame));
    await this.writing.get(id);
    return readFile(this.file(id, kind)).catch(() => undefined);
  }

  /** Deletes the snapshots of these tracks (forgotten identities, expired sightings); returns the files removed. */
  async remove(tracks: readonly TrackKey[]): Promise<number> {
    let removed = 0;
    for (const track of tracks) {
      const id = snapshotId(track);
      const key = liveKey(track.cameraId, track.trackId);
      const held = this.live.get(key);
      this.live.delete(key);
      if (held) releaseSnapshot(held);
      await this.writing.get(id);
      for (const kind of ['crop', 'frame'] as const) {
        removed += await rm(this.file(id, kind)).then(
          () => 1,
          () => 0,
        );
      }
    }
    return removed;
  }

  /** Deletes snapshot files older than `maxAgeMs` (a sweep behind retention, for files no sighting names). */
  async pruneOlderThan(maxAgeMs: number, now: number): Promise<number> {
    const names = await readdir(this.options.dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names.filter((n) => n.endsWith('.jpg'))) {
      const file = path.join(this.options.dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info && now - info.mtimeMs > maxAgeMs) removed += await rm(file).then(() => 1, () => 0);
    }
    return removed;
  }

  private liveById(id: string): LiveSnapshot | undefined {
    const match = /^(.*)-(\d+)-\d+$/.exec(id);
    return match ? this.live.get(liveKey(match[1]!, Number(match[2]))) : undefined;
  }

  private file(id: string, kind: SnapshotKind): string {
    return path.join(this.options.dir, `${id}-${kind}.jpg`);
  }

  private async write(id: string, held: LiveSnapshot): Promise<void> {
    this.ready ??= mkdir(this.options.dir, { recursive: true });
    try {
      await this.ready;
      const [crop, frame] = await Promise.all([this.encodeCrop(held.crop), this.encodeFrame(held.frame)]);
      await writeFile(this.file(id, 'crop'), crop);
      await writeFile(this.file(id, 'frame'), frame);
    } catch (error) {
      this.writeErrors.warn('snapshot-write', { err: error, snapshot: id }, `snapshot ${id} could not be written: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Encodes an image held by someone else, holding it too until the encoder has read it (a live track may replace it meanwhile). */
  private async encodeHeld<T extends RawImage>(image: T, encode: (image: T) => Promise<Buffer>): Promise<Buffer> {
    image.pixels.retain();
    try {
      return await encode(image);
    } finally {
      image.pixels.release();
    }
  }

  /** `bytes` of `source` in a pooled buffer. */
  private copyPixels(source: Uint8Array, bytes: number, width: number, height: number): RawImage {
    const pixels = this.pool.take(bytes);
    pixels.data.set(source.subarray(0, bytes));
    return { pixels, data: pixels.data, width, height };
  }

  /** A pooled copy of the box's pixels (RGB, rows copied natively); undefined when the box is empty. */
  private copyRegion(frame: Frame, box: Box): RawImage | undefined {
    const x1 = Math.max(0, Math.floor(box.x1));
    const y1 = Math.max(0, Math.floor(box.y1));
    const x2 = Math.min(frame.width, Math.ceil(box.x2));
    const y2 = Math.min(frame.height, Math.ceil(box.y2));
    const width = x2 - x1;
    const height = y2 - y1;
    if (width <= 0 || height <= 0) return undefined;
    const pixels = this.pool.take(width * height * 3);
    const source = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    const rowBytes = width * 3;
    for (let row = 0; row < height; row++) {
      const start = ((y1 + row) * frame.width + x1) * 3;
      source.copy(pixels.data, row * rowBytes, start, start + rowBytes);
    }
    return { pixels, data: pixels.data, width, height };
  }

  private encodeCrop(crop: RawImage): Promise<Buffer> {
    return sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } }).jpeg({ quality: this.options.quality }).toBuffer();
  }

  private async encodeFrame(frame: FrameCopy): Promise<Buffer> {
    // Drawn at source size, stroke and font chosen for the output size, so they scale with it.
    const width = Math.min(frame.width, this.options.frameWidth);
    const height = Math.round((frame.height * width) / frame.width);
    if (!frame.drawn) {
      const scale = frame.width / width;
      const stroke = Math.max(2, Math.round(width / 320));
      drawBoxes(frame, frame.boxes, Math.round(stroke * scale), await glyphAtlas(Math.round(6 * stroke * scale)));
      frame.drawn = true;
    }
    const image = sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } });
    return (width === frame.width ? image : image.resize({ width, height, fit: 'fill' })).jpeg({ quality: this.options.quality }).toBuffer();
  }
}

function releaseSnapshot(held: LiveSnapshot): void {
  held.crop.pixels.release();
  held.frame.pixels.release();
}
