import type { Box } from './geometry.js';

/** Object classes crosscam reasons about; detectors map their own label sets onto these. */
export const OBJECT_CLASSES = ['person', 'car', 'bus', 'truck', 'motorcycle', 'bicycle'] as const;
export type ObjectClass = (typeof OBJECT_CLASSES)[number];

/**
 * One decoded video frame, packed RGB (HWC, 3 bytes per pixel).
 * `data` may be a view into a reused buffer: consumers that keep pixels past the
 * current pipeline step must copy them.
 */
export interface Frame {
  cameraId: string;
  /** 0-based index of the frame in its source (after fps conversion). */
  index: number;
  /** Media time of the frame in seconds. */
  pts: number;
  /** Wall-clock time the frame was received, ms since epoch. */
  receivedAt: number;
  width: number;
  height: number;
  data: Uint8Array;
}

export interface Detection {
  box: Box;
  score: number;
  objectClass: ObjectClass;
}
