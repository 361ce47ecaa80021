import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { buildOnnxModel, decodeOnnxModel, type GraphSpec } from '../src/runtime/onnx-graph.js';
import { freeModelDims } from '../src/runtime/onnx-free-dims.js';

/** y = 2·relu(x) at a fixed 4x4, with the intermediate shape written down as exporters do. */
const FIXED: GraphSpec = {
  name: 'fixed',
  inputs: [{ name: 'x', type: 'float32', dims: [1, 3, 4, 4] }],
  outputs: [{ name: 'y', type: 'float32', dims: [1, 3, 4, 4] }],
  valueInfo: [{ name: 'mid', type: 'float32', dims: [1, 3, 4, 4] }],
  nodes: [
    { op: 'Relu', inputs: ['x'], outputs: ['mid'] },
    { op: 'Mul', inputs: ['mid', 'two'], outputs: ['y'] },
  ],
  initializers: [{ name: 'two', type: 'float32', dims: [], values: [2] }],
};

interface DecodedGraph {
  input: { name: string; type: { tensorType: { shape: { dim: { dimValue?: number; dimParam?: string }[] } } } }[];
  output: DecodedGraph['input'];
  valueInfo?: unknown[];
  node: unknown[];
  initializer: unknown[];
}

const dimsOf = (values: DecodedGraph['input']) => values.map((v) => v.type.tensorType.shape.dim.map((d) => d.dimParam ?? d.dimValue));

test('freed axes become symbolic: one session runs other sizes, intermediate shapes are dropped, the rest is kept', async () => {
  const model = buildOnnxModel(FIXED);
  const freed = freeModelDims(model, [
    { tensor: 'x', axes: { 2: 'height', 3: 'width' } },
    { tensor: 'y', axes: { 2: 'height', 3: 'width' } },
  ]);
  const before = decodeOnnxModel(model).graph as DecodedGraph;
  const after = decodeOnnxModel(freed).graph as DecodedGraph;
  assert.equal(before.valueInfo?.length, 1);
  assert.equal(after.valueInfo, undefined);
  assert.deepEqual(dimsOf(after.input), [[1, 3, 'height', 'width']]);
  assert.deepEqual(dimsOf(after.output), [[1, 3, 'height', 'width']]);
  assert.deepEqual([after.node, after.initializer], [before.node, before.initializer]);

  const session = await ort.InferenceSession.create(freed);
  try {
    assert.deepEqual(session.inputMetadata.map((m) => (m.isTensor ? m.shape : [])), [[1, 3, 'height', 'width']]);
    const x = Float32Array.from({ length: 3 * 2 * 5 }, (_, i) => i - 15);
    const { y } = await session.run({ x: new ort.Tensor('float32', x, [1, 3, 2, 5]) });
    assert.deepEqual(y!.dims, [1, 3, 2, 5]);
    assert.deepEqual(Array.from(y!.data as Float32Array), Array.from(x, (v) => 2 * Math.max(0, v)));
  } finally {
    await session.release();
  }
  // the fixed model refuses that size: freeing is what makes it run
  const fixed = await ort.InferenceSession.create(model);
  await assert.rejects(fixed.run({ x: new ort.Tensor('float32', new Float32Array(30), [1, 3, 2, 5]) }), /invalid dimensions/i);
  await fixed.release();
});

test('fields the rewrite does not touch are copied byte for byte', () => {
  const { valueInfo: _dropped, ...plain } = FIXED;
  const model = buildOnnxModel(plain);
  assert.ok(Buffer.from(freeModelDims(model, [])).equals(Buffer.from(model)));
});

test('a tensor or axis the model does not have is an error naming it', () => {
  const model = buildOnnxModel(FIXED);
  assert.throws(() => freeModelDims(model, [{ tensor: 'images', axes: { 2: 'height' } }]), /no input or output 'images'/);
  assert.throws(() => freeModelDims(model, [{ tensor: 'x', axes: { 2: 'height', 7: 'depth' } }]), /no axis 7 in 'x'/);
});
