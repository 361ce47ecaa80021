import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drawBoxes, glyphAtlas, type RgbImage } from '../src/snapshots/box-overlay.js';

const YELLOW = [0xff, 0xd4, 0x00];
const black = (width: number, height: number): RgbImage => ({ data: Buffer.alloc(width * height * 3), width, height });
const pixel = (image: RgbImage, x: number, y: number) => [...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3)];
/** Pixels in [x1, x2) × [y1, y2) that are not black. */
function painted(image: RgbImage, x1: number, y1: number, x2: number, y2: number): number {
  let count = 0;
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) count += pixel(image, x, y).some((v) => v > 0) ? 1 : 0;
  return count;
}

test('box overlay: a stroke-wide outline in the overlay colour, the inside and outside untouched, the label above the box', async () => {
  const atlas = await glyphAtlas(12);
  assert.deepEqual([atlas.cellWidth, atlas.cellHeight], [8, 15]);
  const image = black(80, 60);
  drawBoxes(image, [{ box: { x1: 10.2, y1: 30, x2: 29.6, y2: 50 }, label: 'person #7' }], 2, atlas);
  // Box edges at x 10..29, y 30..49 (rounded): two pixels of outline on each side.
  for (const [x, y] of [[10, 30], [29, 49], [11, 40], [28, 40], [20, 31], [20, 48]] as const) assert.deepEqual(pixel(image, x, y), YELLOW, `(${x}, ${y}) is outline`);
  assert.equal(painted(image, 12, 32, 28, 48), 0, 'the inside is untouched');
  assert.equal(painted(image, 0, 50, 80, 60), 0, 'nothing below the box');
  assert.equal(painted(image, 30, 30, 80, 50), 0, 'nothing right of the box');
  // The label: its cells start at x 12, y 30 − 15 − 1 = 14, and 'person #7' has ink in its cells.
  const label = painted(image, 12, 14, 12 + 9 * 8, 29);
  assert.ok(label > 40, `the label is drawn (${label} pixels)`);
  assert.equal(painted(image, 0, 0, 80, 14), 0, 'nothing above the label');
});

test('box overlay: boxes at the edges are clipped, their labels kept inside the image', async () => {
  const atlas = await glyphAtlas(12);
  const image = black(60, 40);
  // At the top: the label goes inside the box. At the right edge: moved left to fit.
  drawBoxes(image, [{ box: { x1: 45, y1: -5, x2: 70, y2: 30 }, label: 'car #12' }], 2, atlas);
  assert.deepEqual(pixel(image, 59, 20), YELLOW, 'the right edge is clipped to the image');
  assert.deepEqual(pixel(image, 50, 0), YELLOW, 'the top edge too');
  // 'car #12' is 7 cells of 8 px: it starts at x 60 − 56 = 4, left of the box, y 0 + 2.
  const label = painted(image, 4, 2, 45, 2 + 15);
  assert.ok(label > 30, `the label is inside the image, left of the box (${label} pixels)`);
  assert.equal(painted(image, 0, 0, 4, 40), 0, 'and starts where it fits');
});
