/**
 * Scores published cross-camera matches against MOT ground truth (DESIGN.md, "cross-camera
 * end to end"): each side's best crop is mapped back to the source video (media time →
 * frame, camera crop offset → source pixels) and to the ground-truth identity its box
 * overlaps (IoU ≥ 0.5). A match is correct when both sides land on the same identity.
 */
import { iou, type Box } from '../core/geometry.js';
import type { MotRecord } from './mot-ground-truth.js';

/** How a camera's frames relate to the source video with ground truth. */
export interface VirtualCamera {
  /** Where the camera's frame sits in the source frame (e.g. a right-half crop: x 384). */
  offsetX: number;
  offsetY: number;
}

export interface SourceVideo {
  /** Frame rate of the source in its container. */
  fps: number;
  /** Frames of the source; media times past the end wrap around (looped playback). */
  frames: number;
}

export interface MatchSideRef {
  camera: string;
  pts: number;
  box: readonly [number, number, number, number] | readonly number[];
}

export interface ScoredMatch {
  /** Ground-truth identity of each side, null when no ground-truth box overlaps it enough. */
  sightingIdentity: number | null;
  matchedIdentity: number | null;
  correct: boolean;
}

/** Video frame index (0-based) shown at media time `pts`. */
export function sourceFrameAt(pts: number, video: SourceVideo): number {
  return Math.round(pts * video.fps) % video.frames;
}

/** Ground-truth identity whose box best overlaps `box` (source pixels) in `frame`, if IoU ≥ minIou. */
export function groundTruthIdentity(gtByFrame: ReadonlyMap<number, readonly MotRecord[]>, frame: number, box: Box, minIou = 0.5): number | null {
  let best: { id: number; iou: number } | null = null;
  // MOT frame n+1 is video frame n.
  for (const record of gtByFrame.get(frame + 1) ?? []) {
    if (!record.consider) continue;
    const overlap = iou(record.box, box);
    if (overlap >= minIou && (!best || overlap > best.iou)) best = { id: record.id, iou: overlap };
  }
  return best?.id ?? null;
}

/** A first watch-list hit (`matched` null) has no earlier side to score: never correct here. */
export function scoreMatch(
  match: { sighting: MatchSideRef; matched: MatchSideRef | null },
  gtByFrame: ReadonlyMap<number, readonly MotRecord[]>,
  cameras: Readonly<Record<string, VirtualCamera>>,
  video: SourceVideo,
): ScoredMatch {
  const identityOf = (side: MatchSideRef): number | null => {
    const camera = cameras[side.camera];
    if (!camera) throw new Error(`no geometry for camera ${side.camera}`);
    const [x1, y1, x2, y2] = side.box;
    const box = { x1: x1 + camera.offsetX, y1: y1 + camera.offsetY, x2: x2 + camera.offsetX, y2: y2 + camera.offsetY };
    return groundTruthIdentity(gtByFrame, sourceFrameAt(side.pts, video), box);
  };
  const sightingIdentity = identityOf(match.sighting);
  const matchedIdentity = match.matched ? identityOf(match.matched) : null;
  return { sightingIdentity, matchedIdentity, correct: sightingIdentity !== null && sightingIdentity === matchedIdentity };
}
