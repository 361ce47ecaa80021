import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Box } from '../src/core/geometry.js';
import type { Detection } from '../src/core/types.js';
import { buildClassLookup, CandidateList, decodeYolov8, decodeYolox, yoloxGrid } from '../src/detect/decode.js';
import { mapBoxToFrame, placeFrame } from '../src/detect/input-placement.js';
import { suppressOverlaps } from '../src/detect/nms.js';

interface Decoded {
  box: number[];
  score: number;
  objectClass: string;
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

function listed(candidates: CandidateList): Decoded[] {
  const out: Decoded[] = [];
  for (let i = 0; i < candidates.count; i++) {
    out.push({
      box: Array.from(candidates.boxes.subarray(i * 4, i * 4 + 4), round),
      score: round(candidates.scores[i]!),
      objectClass: ['person', 'car', 'bus', 'truck', 'motorcycle', 'bicycle'][candidates.classes[i]!]!,
    });
  }
  return out;
}

// 64x64 input, strides 8/16/32 -> 8x8 + 4x4 + 2x2 = 84 points; 3 classes mapped to person, car, bus.
const CLASS_MAP = new Map([[0, 'person'], [1, 'car'], [2, 'bus']] as const);
const POINTS = 84;
const FIELDS = 5 + 3;

function yoloxOutput(points: Record<number, number[]>): Float32Array {
  const output = new Float32Array(POINTS * FIELDS);
  for (const [point, values] of Object.entries(points)) output.set(values, Number(point) * FIELDS);
  return output;
}

const YOLOX_PREDICTIONS = {
  // stride 8, cell (x 2, y 3): point 3·8+2
  26: [0.5, 0.25, Math.log(2), Math.log(4), 0.9, 0.8, 0.1, 0.05],
  // stride 16, cell (1, 0): point 64 + 1
  65: [0, 0.5, 0, Math.log(3), 0.5, 0.1, 0.2, 0.9],
  // stride 32, cell (1, 1): point 64 + 16 + 2 + 1
  83: [0.5, 0.5, Math.log(1.5), Math.log(2.5), 1, 0.3, 0.6, 0.1],
  // objectness below the threshold
  10: [0, 0, 0, 0, 0.2, 1, 0, 0],
  // objectness passes, objectness × class (0.6 × 0.3) does not
  11: [0, 0, 0, 0, 0.6, 0.3, 0.1, 0.1],
};

test('yolox grid: levels in stride order, row-major, sized from the input', () => {
  const grid = yoloxGrid([8, 16, 32], 416, 416);
  assert.equal(grid.x.length, 3549);
  assert.deepEqual([grid.x[53], grid.y[53], grid.stride[53]], [1, 1, 8]);
  assert.deepEqual([grid.x[2704], grid.y[2704], grid.stride[2704]], [0, 0, 16]);
  assert.deepEqual([grid.x[3548], grid.y[3548], grid.stride[3548]], [12, 12, 32]);
});

test('yolox decoding: one anchor per stride level gives exact boxes and objectness × class scores', () => {
  const candidates = new CandidateList(2); // small on purpose: decoding must grow it
  const classLookup = buildClassLookup(CLASS_MAP, 3, ['person', 'car', 'bus']);
  decodeYolox(yoloxOutput(YOLOX_PREDICTIONS), yoloxGrid([8, 16, 32], 64, 64), { minScore: 0.25, classLookup }, candidates);
  assert.deepEqual(listed(candidates), [
    { box: [12, 10, 28, 42], score: 0.72, objectClass: 'person' },
    { box: [8, -16, 24, 32], score: 0.45, objectClass: 'bus' },
    { box: [24, 8, 72, 88], score: 0.6, objectClass: 'car' },
  ]);
});

test('class filter: disabled classes and classes outside the catalog map are ignored', () => {
  const candidates = new CandidateList();
  const grid = yoloxGrid([8, 16, 32], 64, 64);
  decodeYolox(yoloxOutput(YOLOX_PREDICTIONS), grid, { minScore: 0.25, classLookup: buildClassLookup(CLASS_MAP, 3, ['person', 'bus']) }, candidates);
  assert.deepEqual(listed(candidates).map((c) => c.objectClass), ['person', 'bus']);
  // class 1 unmapped: the car anchor's best class is ignored rather than re-labelled as its runner-up
  const partialMap = new Map([[0, 'person'], [2, 'bus']] as const);
  decodeYolox(yoloxOutput(YOLOX_PREDICTIONS), grid, { minScore: 0.25, classLookup: buildClassLookup(partialMap, 3, ['person', 'car', 'bus']) }, candidates);
  assert.deepEqual(listed(candidates).map((c) => c.objectClass), ['person', 'bus']);
  assert.deepEqual(Array.from(buildClassLookup(partialMap, 3, ['bus'])), [-1, -1, 2]);
});

test('yolox decoding rejects an output whose size does not fit the grid', () => {
  const classLookup = buildClassLookup(CLASS_MAP, 3, ['person']);
  assert.throws(() => decodeYolox(new Float32Array(83 * FIELDS), yoloxGrid([8, 16, 32], 64, 64), { minScore: 0.25, classLookup }, new CandidateList()), /84 points/);
});

test('yolov8 decoding: transposed [1, 4+C, N] rows, centre/size boxes, best class score', () => {
  // N = 3 points, C = 2 classes; one row per field
  const cx = [50, 0, 100];
  const cy = [60, 0, 100];
  const w = [20, 5, 10];
  const h = [40, 5, 10];
  const person = [0.7, 0.1, 0.3];
  const car = [0.2, 0.05, 0.9];
  const output = Float32Array.from([...cx, ...cy, ...w, ...h, ...person, ...car]);
  const map = new Map([[0, 'person'], [1, 'car']] as const);
  const candidates = new CandidateList();
  decodeYolov8(output, { minScore: 0.25, classLookup: buildClassLookup(map, 2, ['person', 'car']) }, candidates);
  assert.deepEqual(listed(candidates), [
    { box: [40, 40, 60, 80], score: 0.7, objectClass: 'person' },
    { box: [95, 95, 105, 105], score: 0.9, objectClass: 'car' },
  ]);
  decodeYolov8(output, { minScore: 0.25, classLookup: buildClassLookup(map, 2, ['person']) }, candidates);
  assert.deepEqual(listed(candidates).map((c) => c.box), [[40, 40, 60, 80]]);
});

test('NMS: overlapping same-class boxes suppressed greedily by score, other classes kept', () => {
  const det = (box: Box, score: number, objectClass: Detection['objectClass']): Detection => ({ box, score, objectClass });
  const a = det({ x1: 0, y1: 0, x2: 10, y2: 10 }, 0.9, 'person');
  const b = det({ x1: 1, y1: 0, x2: 11, y2: 10 }, 0.8, 'person'); // IoU with a = 90/110
  const c = det({ x1: 0, y1: 0, x2: 10, y2: 10 }, 0.85, 'car');
  const d = det({ x1: 20, y1: 20, x2: 30, y2: 30 }, 0.7, 'person');
  // IoU with a exactly 0.5: kept at threshold 0.5 (only overlaps above the threshold suppress)
  const e = det({ x1: 0, y1: 0, x2: 10, y2: 5 }, 0.6, 'person');
  assert.deepEqual(suppressOverlaps([d, b, e, c, a], 0.5), [a, c, d, e]);
  assert.deepEqual(suppressOverlaps([d, b, e, c, a], 0.45), [a, c, d]);
  assert.deepEqual(suppressOverlaps([d, b, e, c, a], 0.85), [a, c, b, d, e]);
});

test('letterbox placement: reference YOLOX sizes, top-left and centred pads, stretch', () => {
  const input = { inputWidth: 416, inputHeight: 416 };
  const topLeft = placeFrame({ frameWidth: 768, frameHeight: 576, ...input, resize: { mode: 'letterbox', padValue: 114, align: 'top-left' } });
  assert.deepEqual(
    [topLeft.resizedWidth, topLeft.resizedHeight, topLeft.padLeft, topLeft.padTop, topLeft.scaleX, topLeft.scaleY],
    [416, 312, 0, 0, 416 / 768, 312 / 576],
  );
  const centred = placeFrame({ frameWidth: 768, frameHeight: 576, ...input, resize: { mode: 'letterbox', padValue: 114, align: 'center' } });
  assert.deepEqual([centred.padLeft, centred.padTop], [0, 52]);
  const portrait = placeFrame({ frameWidth: 480, frameHeight: 640, ...input, resize: { mode: 'letterbox', padValue: 0, align: 'center' } });
  assert.deepEqual([portrait.resizedWidth, portrait.resizedHeight, portrait.padLeft, portrait.padTop], [312, 416, 52, 0]);
  // int(w·r) truncates: 100x33 into 64 -> r = 0.64, height 21.12 -> 21
  const odd = placeFrame({ frameWidth: 100, frameHeight: 33, inputWidth: 64, inputHeight: 64, resize: { mode: 'letterbox', padValue: 114, align: 'top-left' } });
  assert.deepEqual([odd.resizedWidth, odd.resizedHeight], [64, 21]);
  const stretched = placeFrame({ frameWidth: 768, frameHeight: 576, ...input, resize: { mode: 'stretch' } });
  assert.deepEqual([stretched.resizedWidth, stretched.resizedHeight, stretched.padTop, stretched.scaleX, stretched.scaleY], [416, 416, 0, 416 / 768, 416 / 576]);
});

test('trimmed letterbox: the input shrinks to the resized frame rounded up to the multiple, the scale stays', () => {
  const input = { inputWidth: 416, inputHeight: 416 };
  const resize = { mode: 'letterbox', padValue: 114, align: 'top-left', trimToMultiple: 32 } as const;
  const wide = placeFrame({ frameWidth: 832, frameHeight: 468, ...input, resize });
  assert.deepEqual(
    [wide.inputWidth, wide.inputHeight, wide.resizedWidth, wide.resizedHeight, wide.padLeft, wide.padTop, wide.scaleX],
    [416, 256, 416, 234, 0, 0, 0.5],
  );
  const pets = placeFrame({ frameWidth: 768, frameHeight: 576, ...input, resize });
  assert.deepEqual([pets.inputWidth, pets.inputHeight, pets.resizedHeight, pets.scaleY], [416, 320, 312, 312 / 576]);
  // an exact multiple needs no pad; the catalog's size is the most it can take
  const square = placeFrame({ frameWidth: 1000, frameHeight: 1000, ...input, resize });
  assert.deepEqual([square.inputWidth, square.inputHeight], [416, 416]);
  const exact = placeFrame({ frameWidth: 832, frameHeight: 384, ...input, resize });
  assert.deepEqual([exact.inputWidth, exact.inputHeight, exact.resizedHeight], [416, 192, 192]);
  // centred: the pad left over is split on both sides of the trimmed input
  const portrait = placeFrame({ frameWidth: 480, frameHeight: 640, ...input, resize: { ...resize, align: 'center' } });
  assert.deepEqual([portrait.inputWidth, portrait.inputHeight, portrait.resizedWidth, portrait.padLeft, portrait.padTop], [320, 416, 312, 4, 0]);
  assert.deepEqual(Object.values(mapBoxToFrame({ x1: 4, y1: 0, x2: 316, y2: 416 }, portrait)), [0, 0, 480, 640]);
});

test('mapping back to the frame undoes scale and pad and clips to the frame', () => {
  const input = { frameWidth: 768, frameHeight: 576, inputWidth: 416, inputHeight: 416 };
  const close = (box: Box) => Object.values(box).map((v) => Math.round(v * 1000) / 1000);
  const topLeft = placeFrame({ ...input, resize: { mode: 'letterbox', padValue: 114, align: 'top-left' } });
  assert.deepEqual(close(mapBoxToFrame({ x1: 52, y1: 26, x2: 104, y2: 130 }, topLeft)), [96, 48, 192, 240]);
  assert.deepEqual(close(mapBoxToFrame({ x1: -10, y1: 300, x2: 500, y2: 415 }, topLeft)), [0, 553.846, 768, 576]);
  const centred = placeFrame({ ...input, resize: { mode: 'letterbox', padValue: 114, align: 'center' } });
  assert.deepEqual(close(mapBoxToFrame({ x1: 52, y1: 78, x2: 104, y2: 182 }, centred)), [96, 48, 192, 240]);
  // a box entirely in the top pad collapses onto the frame's top edge
  assert.deepEqual(close(mapBoxToFrame({ x1: 10, y1: 0, x2: 20, y2: 40 }, centred)), [18.462, 0, 36.923, 0]);
  const stretched = placeFrame({ ...input, resize: { mode: 'stretch' } });
  assert.deepEqual(close(mapBoxToFrame({ x1: 52, y1: 52, x2: 104, y2: 208 }, stretched)), [96, 72, 192, 288]);
});
