/**
 * A re-ID model with parts, small enough to compute by hand: its input is [batch, 3, height,
 * width]; the global embedding is the crop's mean colour, the two parts the mean colours of its
 * top and bottom halves, each part's visibility that half's mean level / 255 (so a test can
 * make a part "hidden" by painting it black).
 */
import { attr, buildOnnxModel } from '../../src/runtime/onnx-graph.js';

export function tinyPartModel(height: number, width: number): Uint8Array {
  return buildOnnxModel({
    name: 'tiny_part_reid',
    inputs: [{ name: 'input', type: 'float32', dims: ['batch', 3, height, width] }],
    outputs: [
      { name: 'output', type: 'float32', dims: ['batch', 3] },
      { name: 'parts', type: 'float32', dims: ['batch', 2, 3] },
      { name: 'visibility', type: 'float32', dims: ['batch', 2] },
    ],
    initializers: [
      { name: 'halves_shape', type: 'int64', dims: [4], values: [0, 3, 2, height / 2] },
      { name: 'level', type: 'float32', dims: [], values: [255] },
    ],
    nodes: [
      { op: 'GlobalAveragePool', inputs: ['input'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['output'], attributes: { axis: attr.int(1) } },
      { op: 'ReduceMean', inputs: ['input'], outputs: ['rows'], attributes: { axes: attr.ints([3]), keepdims: attr.int(0) } },
      { op: 'Reshape', inputs: ['rows', 'halves_shape'], outputs: ['halves'] },
      { op: 'ReduceMean', inputs: ['halves'], outputs: ['half_means'], attributes: { axes: attr.ints([3]), keepdims: attr.int(0) } },
      { op: 'Transpose', inputs: ['half_means'], outputs: ['parts'], attributes: { perm: attr.ints([0, 2, 1]) } },
      { op: 'ReduceMean', inputs: ['parts'], outputs: ['part_levels'], attributes: { axes: attr.ints([2]), keepdims: attr.int(0) } },
      { op: 'Div', inputs: ['part_levels', 'level'], outputs: ['visibility'] },
    ],
  });
}

/** The catalog fields (schema's camelCase) that declare the tiny model's outputs and parts. */
export const TINY_PART_ENTRY = (height: number, width: number) => ({
  input: { name: 'input', layout: 'NCHW', dims: ['batch', 3, height, width], channelOrder: 'rgb', pixelScale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: { mode: 'stretch' } },
  outputs: [
    { name: 'output', dims: ['batch', 3] },
    { name: 'parts', dims: ['batch', 2, 3] },
    { name: 'visibility', dims: ['batch', 2] },
  ],
  reid: { embeddingDim: 3, objectClasses: ['person'], parts: { output: 'parts', visibility: 'visibility', count: 2, dim: 3 } },
});
