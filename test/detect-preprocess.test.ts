import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import type { Frame } from '../src/core/types.js';
import { FramePreprocessor } from '../src/detect/preprocess.js';
import { placeFrame } from '../src/detect/input-placement.js';
import type { ImageInputSpec } from '../src/models/catalog-schema.js';

const openSession = (model: Uint8Array) => ort.InferenceSession.create(model);

function frameOf(width: number, height: number, data: Uint8Array): Frame {
  return { cameraId: 'test', index: 0, pts: 0, receivedAt: 0, width, height, data };
}

function inputSpec(overrides: Partial<ImageInputSpec> & Pick<ImageInputSpec, 'dims' | 'resize'>): ImageInputSpec {
  return { name: 'images', type: 'float32', layout: 'NCHW', channelOrder: 'bgr', pixelScale: 1, mean: [0, 0, 0], std: [1, 1, 1], ...overrides };
}

/**
 * Straightforward reference: cv2.resize INTER_LINEAR (half-pixel centres, edge clamp, no
 * antialias) on float values, placed on a pad canvas, channel order, (x·scale − mean)/std.
 */
function referencePreprocess(frame: Frame, input: ImageInputSpec): Float32Array {
  const [, , inputHeight, inputWidth] = input.dims;
  const p = placeFrame({ frameWidth: frame.width, frameHeight: frame.height, inputWidth, inputHeight, resize: input.resize });
  const source = (length: number, resized: number, at: number) => {
    let f = (at + 0.5) * (length / resized) - 0.5;
    if (f < 0) f = 0;
    if (f > length - 1) f = length - 1;
    const i0 = Math.floor(f);
    return { i0, i1: Math.min(i0 + 1, length - 1), t: f - i0 };
  };
  const pixel = (x: number, y: number, c: number) => frame.data[(y * frame.width + x) * 3 + c]!;
  const padValue = input.resize.mode === 'letterbox' ? input.resize.padValue : 0;
  const out = new Float32Array(3 * inputHeight * inputWidth);
  for (let c = 0; c < 3; c++) {
    const sourceChannel = input.channelOrder === 'bgr' ? 2 - c : c;
    for (let y = 0; y < inputHeight; y++) {
      for (let x = 0; x < inputWidth; x++) {
        const rx = x - p.padLeft;
        const ry = y - p.padTop;
        let value = padValue;
        if (rx >= 0 && ry >= 0 && rx < p.resizedWidth && ry < p.resizedHeight) {
          const sx = source(frame.width, p.resizedWidth, rx);
          const sy = source(frame.height, p.resizedHeight, ry);
          const top = pixel(sx.i0, sy.i0, sourceChannel) * (1 - sx.t) + pixel(sx.i1, sy.i0, sourceChannel) * sx.t;
          const bottom = pixel(sx.i0, sy.i1, sourceChannel) * (1 - sx.t) + pixel(sx.i1, sy.i1, sourceChannel) * sx.t;
          value = top * (1 - sy.t) + bottom * sy.t;
        }
        out[(c * inputHeight + y) * inputWidth + x] = (value * input.pixelScale - input.mean[c]!) / input.std[c]!;
      }
    }
  }
  return out;
}

function syntheticFrame(width: number, height: number): Frame {
  return frameOf(width, height, Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 37 + (i % 7) * 11) % 256));
}

function maxDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - b[i]!)), 0);
}

const CASES: { name: string; width: number; height: number; input: ImageInputSpec }[] = [
  {
    name: 'letterbox top-left, BGR 0..255, downscale',
    width: 7,
    height: 5,
    input: inputSpec({ dims: [1, 3, 6, 6], resize: { mode: 'letterbox', padValue: 114, align: 'top-left' } }),
  },
  {
    name: 'letterbox centred, RGB, 1/255 with mean/std, upscale',
    width: 5,
    height: 3,
    input: inputSpec({
      dims: [1, 3, 8, 8],
      channelOrder: 'rgb',
      pixelScale: 1 / 255,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      resize: { mode: 'letterbox', padValue: 0, align: 'center' },
    }),
  },
  {
    name: 'stretch, downscale in x and upscale in y',
    width: 9,
    height: 4,
    input: inputSpec({ dims: [1, 3, 6, 4], resize: { mode: 'stretch' } }),
  },
];

for (const { name, width, height, input } of CASES) {
  test(`preprocessing graph matches the JS reference within 1e-3: ${name}`, async () => {
    const preprocessor = new FramePreprocessor({ input, openSession });
    const frame = syntheticFrame(width, height);
    const { tensor } = await preprocessor.run(frame);
    assert.deepEqual(tensor.dims, input.dims);
    const expected = referencePreprocess(frame, input);
    assert.ok(maxDifference(tensor.data as Float32Array, expected) < 1e-3);
    await preprocessor.release();
  });
}

for (const { trim, inputRows } of [{ trim: undefined, inputRows: 416 }, { trim: 32, inputRows: 320 }]) {
  test(`letterbox geometry at 768x576${trim ? ', trimmed' : ''}: 416x312 image on top, then ${inputRows - 312} rows of 114; BGR order`, async () => {
    const resize = { mode: 'letterbox', padValue: 114, align: 'top-left', ...(trim ? { trimToMultiple: trim } : {}) } as const;
    const preprocessor = new FramePreprocessor({ input: inputSpec({ dims: [1, 3, 416, 416], resize }), openSession });
    // uniform colour R=10 G=20 B=30: any resize keeps it, so rows are either image or pad
    const data = new Uint8Array(768 * 576 * 3);
    for (let i = 0; i < data.length; i += 3) data.set([10, 20, 30], i);
    const { tensor, placement } = await preprocessor.run(frameOf(768, 576, data));
    assert.deepEqual(tensor.dims, [1, 3, inputRows, 416]);
    assert.deepEqual(
      [placement.inputWidth, placement.inputHeight, placement.resizedWidth, placement.resizedHeight, placement.padLeft, placement.padTop],
      [416, inputRows, 416, 312, 0, 0],
    );
    const values = tensor.data as Float32Array;
    assert.equal(values.length, 3 * inputRows * 416);
    const plane = inputRows * 416;
    // the resize's float arithmetic leaves a uniform colour within a few ulps of itself
    const rowIs = (channel: number, row: number, value: number) =>
      values.subarray(channel * plane + row * 416, channel * plane + (row + 1) * 416).every((v) => Math.abs(v - value) < 1e-3);
    for (const [channel, colour] of [[0, 30], [1, 20], [2, 10]] as const) {
      for (let row = 0; row < 312; row++) assert.ok(rowIs(channel, row, colour), `channel ${channel} row ${row} is the image`);
      for (let row = 312; row < inputRows; row++) assert.ok(rowIs(channel, row, 114), `channel ${channel} row ${row} is pad`);
    }
    await preprocessor.release();
  });
}

test('one session and one reused output tensor per frame size; frames may be views into a larger buffer', async () => {
  const input = inputSpec({ dims: [1, 3, 6, 6], resize: { mode: 'letterbox', padValue: 114, align: 'top-left' } });
  const opened: string[] = [];
  const preprocessor = new FramePreprocessor({ input, openSession: (model, label) => (opened.push(label), openSession(model)) });
  const small = syntheticFrame(7, 5);
  const first = await preprocessor.run(small);
  const firstValues = Float32Array.from(first.tensor.data as Float32Array);
  const ring = new Uint8Array(1000);
  ring.set(small.data, 100);
  const again = await preprocessor.run(frameOf(7, 5, ring.subarray(100, 100 + small.data.length)));
  assert.equal(again.tensor, first.tensor);
  assert.deepEqual(Float32Array.from(again.tensor.data as Float32Array), firstValues);
  const other = syntheticFrame(4, 9);
  const third = await preprocessor.run(other);
  assert.notEqual(third.tensor, first.tensor);
  assert.ok(maxDifference(third.tensor.data as Float32Array, referencePreprocess(other, input)) < 1e-3);
  assert.equal((await preprocessor.run(small)).tensor, first.tensor);
  assert.deepEqual(opened, ['preprocess 7x5 -> 6x6', 'preprocess 4x9 -> 6x6']);
  await assert.rejects(preprocessor.run(frameOf(7, 5, new Uint8Array(10))), /expected 105/);
  await preprocessor.release();
});
