import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Box } from '../src/core/geometry.js';
import { COLOUR_TABLE_SIZE, CropPreprocessor, identityColourTable, type CropPreprocessSpec } from '../src/embed/crop-preprocess.js';

/** Deterministic RGB test image with smooth and sharp structure in every channel. */
function syntheticImage(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = (x * 37 + y * 11) % 256;
      data[o + 1] = (x * y * 7 + 13) % 256;
      data[o + 2] = (x ^ y) * 9 % 256;
    }
  }
  return data;
}

/**
 * Reference: cut the integer crop out, then resize it like cv2.resize INTER_LINEAR
 * (half-pixel centres, source coordinates clamped to the crop).
 */
function referenceResize(image: Uint8Array, width: number, box: Box, outH: number, outW: number): Float32Array {
  const cropW = box.x2 - box.x1;
  const cropH = box.y2 - box.y1;
  const out = new Float32Array(3 * outH * outW);
  const pixel = (x: number, y: number, c: number) => image[((box.y1 + y) * width + box.x1 + x) * 3 + c]!;
  for (let i = 0; i < outH; i++) {
    const sy = Math.min(Math.max((i + 0.5) * (cropH / outH) - 0.5, 0), cropH - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, cropH - 1);
    const fy = sy - y0;
    for (let j = 0; j < outW; j++) {
      const sx = Math.min(Math.max((j + 0.5) * (cropW / outW) - 0.5, 0), cropW - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, cropW - 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const top = pixel(x0, y0, c) * (1 - fx) + pixel(x1, y0, c) * fx;
        const bottom = pixel(x0, y1, c) * (1 - fx) + pixel(x1, y1, c) * fx;
        out[(c * outH + i) * outW + j] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

const RAW: CropPreprocessSpec = { outputHeight: 16, outputWidth: 8, channelOrder: 'rgb', pixelScale: 1, mean: [0, 0, 0], std: [1, 1, 1] };

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

test('RoiAlign crop matches a cv2-style half-pixel bilinear resize (up- and downscaling, whole frame and inner crops)', async () => {
  const width = 40;
  const height = 36;
  const data = syntheticImage(width, height);
  const frame = { width, height, data };
  const pre = await CropPreprocessor.create(RAW, 4);
  // Whole frame, a 2:1 downscale crop touching the bottom edge and a mildly upscaled crop in
  // the bottom-right corner: all sample points lie inside their box, where both conventions agree.
  const boxes: Box[] = [
    { x1: 0, y1: 0, x2: width, y2: height },
    { x1: 6, y1: 4, x2: 22, y2: 36 },
    { x1: 24, y1: 14, x2: 40, y2: 36 },
  ];
  const out = await pre.run(frame, boxes);
  assert.deepEqual(out.dims, [3, 3, 16, 8]);
  const all = out.data as Float32Array;
  const per = 3 * 16 * 8;
  for (const [k, box] of boxes.entries()) {
    const got = all.subarray(k * per, (k + 1) * per);
    const want = referenceResize(data, width, box, 16, 8);
    assert.ok(maxAbsDiff(got, want) < 1e-3, `box ${k}: max diff ${maxAbsDiff(got, want)}`);
  }
  await pre.release();
});

test('upscaled inner crop: interior matches the reference, edges blend the real neighbour pixel', async () => {
  const width = 40;
  const height = 30;
  const data = syntheticImage(width, height);
  const pre = await CropPreprocessor.create({ ...RAW, outputHeight: 24, outputWidth: 12 }, 1);
  const box = { x1: 10, y1: 8, x2: 16, y2: 20 };
  const got = (await pre.run({ width, height, data }, [box])).data as Float32Array;
  const want = referenceResize(data, width, box, 24, 12);
  // Rows/cols 0 and last sample within half a source pixel of the box edge.
  for (let c = 0; c < 3; c++) {
    for (let i = 1; i < 23; i++) {
      for (let j = 1; j < 11; j++) {
        const k = (c * 24 + i) * 12 + j;
        assert.ok(Math.abs(got[k]! - want[k]!) < 1e-3, `c${c} (${i},${j}): ${got[k]} vs ${want[k]}`);
      }
    }
  }
  // Top-left output sample sits at frame (9.75, 7.75): a bilinear blend of pixels (9..10, 7..8).
  const p = (x: number, y: number) => data[(y * width + x) * 3]!;
  const expected = 0.25 * 0.25 * p(9, 7) + 0.75 * 0.25 * p(10, 7) + 0.25 * 0.75 * p(9, 8) + 0.75 * 0.75 * p(10, 8);
  assert.ok(Math.abs(got[0]! - expected) < 1e-3, `${got[0]} vs ${expected}`);
  await pre.release();
});

test('normalisation and channel order follow the contract (bgr, pixel scale, mean/std)', async () => {
  // 2x2 frame of one colour: every sample equals the colour.
  const rgb = [200, 100, 50];
  const data = Uint8Array.from({ length: 12 }, (_, i) => rgb[i % 3]!);
  const spec: CropPreprocessSpec = {
    outputHeight: 2,
    outputWidth: 2,
    channelOrder: 'bgr',
    pixelScale: 1 / 255,
    mean: [0.1, 0.2, 0.3],
    std: [0.5, 0.25, 0.2],
  };
  const expected = [50, 100, 200].map((v, c) => (v / 255 - spec.mean[c]!) / spec.std[c]!);
  const pre = await CropPreprocessor.create(spec, 1);
  const a = (await pre.run({ width: 2, height: 2, data }, [{ x1: 0, y1: 0, x2: 2, y2: 2 }])).data as Float32Array;
  for (let c = 0; c < 3; c++) for (let k = 0; k < 4; k++) assert.ok(Math.abs(a[c * 4 + k]! - expected[c]!) < 1e-5);
  await pre.release();
});

test('a colour table maps every crop level before normalisation; the identity table changes nothing', async () => {
  const width = 40;
  const height = 36;
  const frame = { width, height, data: syntheticImage(width, height) };
  const boxes: Box[] = [
    { x1: 0, y1: 0, x2: width, y2: height },
    { x1: 3.5, y1: 2.25, x2: 21, y2: 30.5 },
  ];
  const plain = await CropPreprocessor.create(RAW, 2);
  const mapped = await CropPreprocessor.create({ ...RAW, colourTable: true }, 2);
  const want = Float32Array.from((await plain.run(frame, boxes)).data as Float32Array);
  // No table and the identity table: the same crops, levels rounded to the nearest table entry.
  assert.ok(maxAbsDiff((await mapped.run(frame, boxes)).data as Float32Array, want) <= 0.5 + 1e-3);
  assert.ok(maxAbsDiff((await mapped.run(frame, boxes, 0, identityColourTable())).data as Float32Array, want) <= 0.5 + 1e-3);
  // R inverted, G halved, B + 10 (clamped at 255): each a known function of the rounded level.
  const table = new Float32Array(COLOUR_TABLE_SIZE);
  for (let v = 0; v < 256; v++) {
    table[v] = 255 - v;
    table[256 + v] = v / 2;
    table[512 + v] = Math.min(255, v + 10);
  }
  const got = (await mapped.run(frame, boxes, 0, table)).data as Float32Array;
  const plane = 16 * 8;
  for (let i = 0; i < want.length; i++) {
    const channel = Math.floor(i / plane) % 3;
    // Round half to even, as ONNX Round does.
    const raw = want[i]!;
    const level = Math.abs(raw - Math.floor(raw) - 0.5) < 1e-4 ? 2 * Math.round(raw / 2) : Math.round(raw);
    const expected = channel === 0 ? 255 - level : channel === 1 ? level / 2 : Math.min(255, level + 10);
    assert.ok(Math.abs(got[i]! - expected) < 1e-3, `value ${i} (channel ${channel}, level ${level}): ${got[i]} instead of ${expected}`);
  }
  await assert.rejects(mapped.run(frame, boxes, 0, new Float32Array(10)), /colour table has 768 entries/);
  await plain.release();
  await mapped.release();
});
