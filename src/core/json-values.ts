import type { Box } from './geometry.js';

/** How crosscam writes values in JSON (MQTT payloads, JSON lines, command results). */

export function round(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** [x1, y1, x2, y2] to a tenth of a pixel. */
export function boxArray(box: Box): [number, number, number, number] {
  return [round(box.x1, 1), round(box.y1, 1), round(box.x2, 1), round(box.y2, 1)];
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** ISO time, or null for a time not known (yet). */
export function isoTimeOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : isoTime(ms);
}
