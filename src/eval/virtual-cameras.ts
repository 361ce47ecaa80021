/**
 * Two virtual cameras cut from one recorded video, for the cross-camera evaluation: the
 * left and right (or top and bottom) parts of the frame, the second optionally through an
 * ffmpeg filter that gives it another "camera's" colour, light and sharpness. Ground truth
 * of the source is seen by each camera as the part of each box inside its region.
 */
import { boxArea, clipBox, type Box } from '../core/geometry.js';
import type { MotRecord } from './mot-ground-truth.js';

/** A camera's view: a rectangle of the source frame, source pixels. */
export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface VirtualCamera {
  id: string;
  region: Region;
  /** ffmpeg -vf chain that makes this camera's frames from the source's. */
  filter: string;
}

export interface SplitOptions {
  /** 'x': left | right at `at` of the width; 'y': top | bottom at `at` of the height. */
  axis: 'x' | 'y';
  /** Fraction of the frame where the split is, in (0, 1). */
  at: number;
  /** ffmpeg filter applied to the second camera (right or bottom) only. */
  shift?: string;
}

/** Crop offsets and sizes stay even so that chroma-subsampled sources crop exactly where asked. */
const even = (value: number) => 2 * Math.round(value / 2);

export function splitCameras(source: { width: number; height: number }, options: SplitOptions): [VirtualCamera, VirtualCamera] {
  if (!(options.at > 0 && options.at < 1)) throw new RangeError(`the split must lie inside the frame (0 < at < 1), got ${options.at}`);
  const side = options.axis === 'x' ? source.width : source.height;
  const cut = even(side * options.at);
  if (cut < 16 || side - cut < 16) throw new RangeError(`a split at ${options.at} leaves a camera under 16 px wide`);
  const [firstRegion, secondRegion]: [Region, Region] =
    options.axis === 'x'
      ? [
          { x: 0, y: 0, width: cut, height: source.height },
          { x: cut, y: 0, width: source.width - cut, height: source.height },
        ]
      : [
          { x: 0, y: 0, width: source.width, height: cut },
          { x: 0, y: cut, width: source.width, height: source.height - cut },
        ];
  const [firstId, secondId] = options.axis === 'x' ? ['left', 'right'] : ['top', 'bottom'];
  const crop = (r: Region) => `crop=${r.width}:${r.height}:${r.x}:${r.y}:exact=1`;
  return [
    { id: firstId, region: firstRegion, filter: crop(firstRegion) },
    { id: secondId, region: secondRegion, filter: options.shift ? `${crop(secondRegion)},${options.shift}` : crop(secondRegion) },
  ];
}

/** A ground-truth person as one camera sees it in one frame. */
export interface CameraTruth {
  id: number;
  /** The part of the box inside the camera's view, camera pixels. */
  box: Box;
  /** Share of the whole box inside the view. */
  visible: number;
}

/**
 * The ground truth one camera sees, by MOT frame: boxes with the consider flag, clipped to
 * the camera's region and moved into its pixel frame; boxes outside it are left out.
 */
export function cameraTruth(gtByFrame: ReadonlyMap<number, readonly MotRecord[]>, region: Region): Map<number, CameraTruth[]> {
  const byFrame = new Map<number, CameraTruth[]>();
  for (const [frame, records] of gtByFrame) {
    const seen: CameraTruth[] = [];
    for (const record of records) {
      if (!record.consider) continue;
      const moved = { x1: record.box.x1 - region.x, y1: record.box.y1 - region.y, x2: record.box.x2 - region.x, y2: record.box.y2 - region.y };
      const box = clipBox(moved, region.width, region.height);
      const area = boxArea(record.box);
      const inside = boxArea(box);
      if (inside > 0) seen.push({ id: record.id, box, visible: area > 0 ? inside / area : 0 });
    }
    if (seen.length > 0) byFrame.set(frame, seen);
  }
  return byFrame;
}

/**
 * Ground-truth people a camera really shows: in at least `minFrames` of the given MOT frames
 * with at least `minVisible` of their box inside the view.
 */
export function peopleSeen(truth: ReadonlyMap<number, readonly CameraTruth[]>, frames: Iterable<number>, options: { minVisible: number; minFrames: number }): Set<number> {
  const counts = new Map<number, number>();
  for (const frame of frames) {
    for (const person of truth.get(frame) ?? []) {
      if (person.visible >= options.minVisible) counts.set(person.id, (counts.get(person.id) ?? 0) + 1);
    }
  }
  return new Set([...counts].filter(([, n]) => n >= options.minFrames).map(([id]) => id));
}
