/**
 * Decoders for detector output tensors. They read the raw typed array and keep only
 * candidates above the minimum score whose class crosscam wants, writing them into a
 * reused struct-of-arrays list: nothing is allocated per anchor or per candidate.
 * Boxes stay in model-input pixels; the detector maps them back to the frame.
 */
import { OBJECT_CLASSES, type ObjectClass } from '../core/types.js';

/** Thresholded candidates: corners x1,y1,x2,y2 interleaved, score, index into OBJECT_CLASSES. */
export class CandidateList {
  count = 0;
  boxes: Float32Array;
  scores: Float32Array;
  classes: Uint8Array;

  constructor(capacity = 256) {
    this.boxes = new Float32Array(capacity * 4);
    this.scores = new Float32Array(capacity);
    this.classes = new Uint8Array(capacity);
  }

  clear(): void {
    this.count = 0;
  }

  push(x1: number, y1: number, x2: number, y2: number, score: number, classIndex: number): void {
    if (this.count === this.scores.length) this.grow();
    const i = this.count;
    this.boxes[i * 4] = x1;
    this.boxes[i * 4 + 1] = y1;
    this.boxes[i * 4 + 2] = x2;
    this.boxes[i * 4 + 3] = y2;
    this.scores[i] = score;
    this.classes[i] = classIndex;
    this.count = i + 1;
  }

  private grow(): void {
    const capacity = this.scores.length * 2;
    const boxes = new Float32Array(capacity * 4);
    boxes.set(this.boxes);
    const scores = new Float32Array(capacity);
    scores.set(this.scores);
    const classes = new Uint8Array(capacity);
    classes.set(this.classes);
    this.boxes = boxes;
    this.scores = scores;
    this.classes = classes;
  }
}

/**
 * Detector class index -> index into OBJECT_CLASSES, or -1 for classes the catalog does
 * not map or the operator did not enable.
 */
export function buildClassLookup(classMap: ReadonlyMap<number, ObjectClass>, classCount: number, enabled: readonly ObjectClass[]): Int8Array {
  const lookup = new Int8Array(classCount).fill(-1);
  for (const [index, objectClass] of classMap) {
    if (index < classCount && enabled.includes(objectClass)) lookup[index] = OBJECT_CLASSES.indexOf(objectClass);
  }
  return lookup;
}

export interface DecodeOptions {
  minScore: number;
  /** From buildClassLookup; its length is the detector's class count. */
  classLookup: Int8Array;
}

/** Per grid point of a YOLOX output: cell column, cell row and stride. */
export interface YoloxGrid {
  x: Float32Array;
  y: Float32Array;
  stride: Float32Array;
}

/** Grid points level by level in stride order, row-major within a level (y outer, x inner). */
export function yoloxGrid(strides: readonly number[], inputWidth: number, inputHeight: number): YoloxGrid {
  const levels = strides.map((stride) => ({ stride, columns: Math.ceil(inputWidth / stride), rows: Math.ceil(inputHeight / stride) }));
  const total = levels.reduce((sum, level) => sum + level.columns * level.rows, 0);
  const grid: YoloxGrid = { x: new Float32Array(total), y: new Float32Array(total), stride: new Float32Array(total) };
  let point = 0;
  for (const { stride, columns, rows } of levels) {
    for (let row = 0; row < rows; row++) {
      for (let column = 0; column < columns; column++, point++) {
        grid.x[point] = column;
        grid.y[point] = row;
        grid.stride[point] = stride;
      }
    }
  }
  return grid;
}

/**
 * YOLOX raw grid [1, N, 5 + C]: per point (x, y, w, h, objectness, C class scores), scores
 * already through a sigmoid. Centre = (pred + cell) · stride, size = exp(pred) · stride,
 * score = objectness × best class score (the best class over all C, as the reference does).
 */
export function decodeYolox(output: Float32Array, grid: YoloxGrid, options: DecodeOptions, into: CandidateList): void {
  const points = grid.x.length;
  const classCount = options.classLookup.length;
  const fields = 5 + classCount;
  if (output.length !== points * fields) {
    throw new Error(`YOLOX output has ${output.length} values, expected ${points} points x ${fields}`);
  }
  const { minScore, classLookup } = options;
  into.clear();
  for (let point = 0, base = 0; point < points; point++, base += fields) {
    const objectness = output[base + 4]!;
    // score = objectness × class score ≤ objectness: most points end here
    if (objectness < minScore) continue;
    let best = 0;
    let bestScore = output[base + 5]!;
    for (let c = 1; c < classCount; c++) {
      const value = output[base + 5 + c]!;
      if (value > bestScore) {
        bestScore = value;
        best = c;
      }
    }
    const score = objectness * bestScore;
    const classIndex = classLookup[best]!;
    if (score < minScore || classIndex < 0) continue;
    const stride = grid.stride[point]!;
    const cx = (output[base]! + grid.x[point]!) * stride;
    const cy = (output[base + 1]! + grid.y[point]!) * stride;
    const halfW = (Math.exp(output[base + 2]!) * stride) / 2;
    const halfH = (Math.exp(output[base + 3]!) * stride) / 2;
    into.push(cx - halfW, cy - halfH, cx + halfW, cy + halfH, score, classIndex);
  }
}

/**
 * YOLOv8-style decoded output [1, 4 + C, N] (transposed: one row per field): cx, cy, w, h
 * in input pixels, then C class scores, no objectness; score = best class score.
 */
export function decodeYolov8(output: Float32Array, options: DecodeOptions, into: CandidateList): void {
  const classCount = options.classLookup.length;
  const fields = 4 + classCount;
  const points = output.length / fields;
  if (!Number.isInteger(points)) throw new Error(`YOLOv8 output has ${output.length} values, not a multiple of ${fields} fields`);
  const { minScore, classLookup } = options;
  into.clear();
  for (let point = 0; point < points; point++) {
    let best = 0;
    let bestScore = output[4 * points + point]!;
    for (let c = 1; c < classCount; c++) {
      const value = output[(4 + c) * points + point]!;
      if (value > bestScore) {
        bestScore = value;
        best = c;
      }
    }
    const classIndex = classLookup[best]!;
    if (bestScore < minScore || classIndex < 0) continue;
    const cx = output[point]!;
    const cy = output[points + point]!;
    const halfW = output[2 * points + point]! / 2;
    const halfH = output[3 * points + point]! / 2;
    into.push(cx - halfW, cy - halfH, cx + halfW, cy + halfH, bestScore, classIndex);
  }
}
