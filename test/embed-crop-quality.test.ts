import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessCrop, DEFAULT_CROP_QUALITY, frameCropQualities, type CropQualityInput } from '../src/embed/crop-quality.js';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} vs ${expected}`);

/** An upright 0.4 w/h person box, well inside a 640x480 frame, alone. */
const base: CropQualityInput = {
  box: { x1: 100, y1: 100, x2: 164, y2: 260 },
  objectClass: 'person',
  frameWidth: 640,
  frameHeight: 480,
  others: [],
};

test('an unobstructed, comfortably tall, person-shaped crop scores 1', () => {
  assert.deepEqual(assessCrop(base), { quality: 1, size: 1, shape: 1, truncation: 1, occlusion: 0 });
});

test('height ramps from minHeight (0) to comfortableHeight (1)', () => {
  // Keep w/h = 0.4 so only size changes: heights 32 (min), 80 (halfway), 128 (comfortable).
  for (const [h, expected] of [[32, 0], [80, 0.5], [128, 1], [20, 0]] as const) {
    const q = assessCrop({ ...base, box: { x1: 100, y1: 100, x2: 100 + 0.4 * h, y2: 100 + h } });
    close(q.size, expected, `size at h=${h}`);
    close(q.quality, expected, `quality at h=${h}`);
  }
});

test('shape falls with the log of the aspect ratio error and reaches 0 at the tolerance', () => {
  // w/h 0.8 is twice the person's 0.4: 1 − ln2/ln3.
  close(assessCrop({ ...base, box: { x1: 100, y1: 100, x2: 228, y2: 260 } }).shape, 1 - Math.log(2) / Math.log(3), 'twice as wide');
  // w/h 0.2 (half as wide) scores the same as twice as wide.
  close(assessCrop({ ...base, box: { x1: 100, y1: 100, x2: 132, y2: 260 } }).shape, 1 - Math.log(2) / Math.log(3), 'half as wide');
  // w/h 1.2 = 3 × 0.4: at the tolerance.
  close(assessCrop({ ...base, box: { x1: 100, y1: 100, x2: 292, y2: 260 } }).shape, 0, 'three times as wide');
  // A car box of w/h 1.5 is its class's usual shape.
  close(assessCrop({ ...base, objectClass: 'car', box: { x1: 100, y1: 100, x2: 340, y2: 260 } }).shape, 1, 'car');
});

test('truncation: visible fraction times the edge penalty per side at the border', () => {
  // Touches the left border exactly: one cut side.
  close(assessCrop({ ...base, box: { x1: 0, y1: 100, x2: 64, y2: 260 } }).truncation, 0.5, 'touching left');
  // Within the 2 px margin of the bottom.
  close(assessCrop({ ...base, box: { x1: 100, y1: 319, x2: 164, y2: 479 } }).truncation, 0.5, 'near bottom');
  // Half of it beyond the right border (x 608..672 in a 640 wide frame): 0.5 visible · 0.5.
  const cut = assessCrop({ ...base, box: { x1: 608, y1: 100, x2: 672, y2: 260 } });
  close(cut.truncation, 0.25, 'half outside');
  // Shape is judged on the visible part (32x160 = w/h 0.2).
  close(cut.shape, 1 - Math.log(2) / Math.log(3), 'visible shape');
  // Top-left corner: two sides.
  close(assessCrop({ ...base, box: { x1: 1, y1: 0, x2: 65, y2: 160 } }).truncation, 0.25, 'corner');
});

test('occlusion: a box in front counts fully, one behind by behindWeight, several combine', () => {
  // Other box covering the right quarter of the crop (16 of 64 px wide, full height).
  const front = { x1: 148, y1: 90, x2: 200, y2: 280 }; // bottom 280 > 260: closer to the camera
  const behind = { x1: 148, y1: 80, x2: 200, y2: 250 }; // bottom 250 < 260; covers rows 100..250 = 150 of 160
  const inFront = assessCrop({ ...base, others: [front] });
  close(inFront.occlusion, 0.25, 'in front');
  close(inFront.quality, 0.75, 'quality in front');
  const behindQ = assessCrop({ ...base, others: [behind] });
  close(behindQ.occlusion, DEFAULT_CROP_QUALITY.behindWeight * (16 * 150) / (64 * 160), 'behind');
  // A second front box over the left quarter: clear = 0.75 · 0.75.
  const left = { x1: 60, y1: 90, x2: 116, y2: 300 };
  close(assessCrop({ ...base, others: [front, left] }).occlusion, 1 - 0.75 * 0.75, 'two in front');
  // A box elsewhere changes nothing.
  close(assessCrop({ ...base, others: [{ x1: 400, y1: 100, x2: 450, y2: 300 }] }).quality, 1, 'disjoint');
});

test('frameCropQualities judges each box against the others of the frame', () => {
  const a = { box: base.box, objectClass: 'person' as const };
  const b = { box: { x1: 148, y1: 120, x2: 212, y2: 280 }, objectClass: 'person' as const }; // in front of a
  const [qa, qb] = frameCropQualities([a, b], { width: 640, height: 480 });
  // a: 16x140 of its 64x160 covered by b in front.
  close(qa!, 1 - (16 * 140) / (64 * 160), 'a');
  // b: same intersection over b's own area, a is behind b.
  close(qb!, 1 - DEFAULT_CROP_QUALITY.behindWeight * (16 * 140) / (64 * 160), 'b');
  assert.equal(assessCrop({ ...base, box: { x1: 5, y1: 5, x2: 5, y2: 50 } }).quality, 0, 'empty box');
});
