import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { attr, buildOnnxModel } from '../src/runtime/onnx-graph.js';

test('a built graph runs in onnxruntime with the declared ops, attributes and initializers', async () => {
  const model = buildOnnxModel({
    name: 'cast_transpose_scale',
    inputs: [{ name: 'x', type: 'uint8', dims: ['h', 'w', 3] }],
    outputs: [{ name: 'y', type: 'float32', dims: [3, 'h', 'w'] }],
    initializers: [{ name: 'scale', type: 'float32', dims: [], values: [0.5] }],
    nodes: [
      { op: 'Cast', inputs: ['x'], outputs: ['xf'], attributes: { to: attr.int(1) } },
      { op: 'Transpose', inputs: ['xf'], outputs: ['xt'], attributes: { perm: attr.ints([2, 0, 1]) } },
      { op: 'Mul', inputs: ['xt', 'scale'], outputs: ['y'] },
    ],
  });
  const session = await ort.InferenceSession.create(model);
  // 1x2 image, pixels (10,20,30) and (40,50,60)
  const x = new ort.Tensor('uint8', Uint8Array.from([10, 20, 30, 40, 50, 60]), [1, 2, 3]);
  const { y } = await session.run({ x });
  assert.deepEqual(y!.dims, [3, 1, 2]);
  assert.deepEqual(Array.from(y!.data as Float32Array), [5, 20, 10, 25, 15, 30]);
});
