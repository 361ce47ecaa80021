import { boxHeight, footPointIn, type Polygon } from '../core/geometry.js';
import type { Detection, ObjectClass } from '../core/types.js';

/** One camera's view of the shared detector's output. */
export interface DetectionFilterOptions {
  classes: readonly ObjectClass[];
  minScore: number;
  minBoxHeight: number;
  /** Areas to ignore, points as fractions (0..1) of frame width and height. */
  masks: readonly Polygon[];
}

/**
 * Keeps the detections this camera cares about. A detection is masked when its
 * foot point lies inside a mask.
 */
export function filterDetections(
  detections: readonly Detection[],
  frame: { width: number; height: number },
  options: DetectionFilterOptions,
): Detection[] {
  return detections.filter((d) => {
    if (d.score < options.minScore || !options.classes.includes(d.objectClass) || boxHeight(d.box) < options.minBoxHeight) return false;
    return !options.masks.some((mask) => footPointIn(d.box, frame, mask));
  });
}
