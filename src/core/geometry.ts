/** Axis-aligned box in frame pixels, corners (x1,y1) top-left and (x2,y2) bottom-right. */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export function boxWidth(b: Box): number {
  return Math.max(0, b.x2 - b.x1);
}

export function boxHeight(b: Box): number {
  return Math.max(0, b.y2 - b.y1);
}

export function boxArea(b: Box): number {
  return boxWidth(b) * boxHeight(b);
}

export function intersectionArea(a: Box, b: Box): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  return w > 0 && h > 0 ? w * h : 0;
}

export function iou(a: Box, b: Box): number {
  const inter = intersectionArea(a, b);
  if (inter === 0) return 0;
  return inter / (boxArea(a) + boxArea(b) - inter);
}

export function clipBox(b: Box, width: number, height: number): Box {
  return {
    x1: Math.min(Math.max(b.x1, 0), width),
    y1: Math.min(Math.max(b.y1, 0), height),
    x2: Math.min(Math.max(b.x2, 0), width),
    y2: Math.min(Math.max(b.y2, 0), height),
  };
}

/** MOT-style left/top/width/height to corner form. */
export function boxFromLtwh(left: number, top: number, width: number, height: number): Box {
  return { x1: left, y1: top, x2: left + width, y2: top + height };
}

/** Vertices [x, y]; zones and masks use fractions (0..1) of the frame width and height. */
export type Polygon = readonly (readonly [number, number])[];

/** Even-odd rule; `polygon` vertices in the same units as the point. */
export function pointInPolygon(x: number, y: number, polygon: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * Whether a box stands in a polygon given as fractions of the frame: judged by its foot point
 * (bottom centre, where a person or vehicle touches the ground).
 */
export function footPointIn(box: Box, frame: { width: number; height: number }, polygon: Polygon): boolean {
  return pointInPolygon((box.x1 + box.x2) / 2 / frame.width, box.y2 / frame.height, polygon);
}
