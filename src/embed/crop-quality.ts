/**
 * How useful a crop is for re-ID, q in [0, 1]. Crops that are small, oddly shaped,
 * cut by the frame edge or covered by other objects give poor embeddings, so they
 * weigh less in a track's embedding (and may not be embedded at all).
 *
 *   q = size · shape · truncation · (1 − occlusion)
 *
 *   size       = clamp((h − minHeight) / (comfortableHeight − minHeight), 0, 1)
 *   shape      = clamp(1 − |ln((w/h) / expectedAspect)| / ln(aspectTolerance), 0, 1)
 *                (1 at the class's usual w/h, 0 when aspectTolerance times wider or narrower)
 *   truncation = visible fraction of the box inside the frame
 *                · edgePenalty^(number of box sides within edgeMargin px of, or beyond, the frame border)
 *   occlusion  = 1 − Π_o (1 − w_o · |box ∩ o| / |box|) over the other boxes o of the frame,
 *                w_o = 1 when o is in front (its bottom edge is lower: closer to a
 *                ground-level camera), behindWeight otherwise (o's pixels still leak into the crop).
 */
import { boxArea, boxHeight, boxWidth, clipBox, intersectionArea, type Box } from '../core/geometry.js';
import type { ObjectClass } from '../core/types.js';

export interface CropQualityOptions {
  /** Height in px at or below which a crop is useless (q = 0). */
  minHeight: number;
  /** Height in px from which size no longer limits quality. */
  comfortableHeight: number;
  /** Width/height ratio that scores 0 when exceeded by this factor either way (> 1). */
  aspectTolerance: number;
  /** Usual width/height of each class. */
  expectedAspect: Readonly<Record<ObjectClass, number>>;
  /** A box side this close to the frame border (px) counts as cut by it. */
  edgeMargin: number;
  /** Factor per side cut by the frame border. */
  edgePenalty: number;
  /** Weight of the overlap with a box that is behind this one. */
  behindWeight: number;
}

export const DEFAULT_CROP_QUALITY: CropQualityOptions = {
  minHeight: 32,
  comfortableHeight: 128,
  aspectTolerance: 3,
  // Rough upright-pedestrian and side/three-quarter vehicle shapes.
  expectedAspect: { person: 0.4, bicycle: 0.8, motorcycle: 0.8, car: 1.5, bus: 1.6, truck: 1.5 },
  edgeMargin: 2,
  edgePenalty: 0.5,
  behindWeight: 0.3,
};

export interface CropQuality {
  quality: number;
  size: number;
  shape: number;
  truncation: number;
  occlusion: number;
}

export interface CropQualityInput {
  box: Box;
  objectClass: ObjectClass;
  frameWidth: number;
  frameHeight: number;
  /** The other boxes detected in the same frame. */
  others: readonly Box[];
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

export function assessCrop(input: CropQualityInput, options: CropQualityOptions = DEFAULT_CROP_QUALITY): CropQuality {
  const { box, frameWidth, frameHeight } = input;
  const area = boxArea(box);
  if (area === 0) return { quality: 0, size: 0, shape: 0, truncation: 0, occlusion: 1 };
  const visible = clipBox(box, frameWidth, frameHeight);
  const h = boxHeight(visible);

  const size = clamp01((h - options.minHeight) / (options.comfortableHeight - options.minHeight));
  const aspect = boxWidth(visible) / h;
  const shape = h === 0 ? 0 : clamp01(1 - Math.abs(Math.log(aspect / options.expectedAspect[input.objectClass])) / Math.log(options.aspectTolerance));

  const m = options.edgeMargin;
  const cutSides = [box.x1 <= m, box.y1 <= m, box.x2 >= frameWidth - m, box.y2 >= frameHeight - m].filter(Boolean).length;
  const truncation = (boxArea(visible) / area) * options.edgePenalty ** cutSides;

  let clear = 1;
  for (const other of input.others) {
    const covered = intersectionArea(box, other) / area;
    if (covered === 0) continue;
    const weight = other.y2 > box.y2 ? 1 : options.behindWeight;
    clear *= 1 - weight * Math.min(1, covered);
  }
  const occlusion = 1 - clear;

  return { quality: size * shape * truncation * clear, size, shape, truncation, occlusion };
}

/** Quality of every detection of one frame, each judged against all the others. */
export function frameCropQualities(
  detections: readonly { box: Box; objectClass: ObjectClass }[],
  frame: { width: number; height: number },
  options: CropQualityOptions = DEFAULT_CROP_QUALITY,
): number[] {
  const boxes = detections.map((d) => d.box);
  return detections.map(
    (d, i) =>
      assessCrop(
        { box: d.box, objectClass: d.objectClass, frameWidth: frame.width, frameHeight: frame.height, others: boxes.filter((_, j) => j !== i) },
        options,
      ).quality,
  );
}
