/**
 * Builds small ONNX models in memory. crosscam uses it to run pixel preprocessing
 * (layout change, resize, crop, normalisation) inside onnxruntime instead of JS
 * loops, and tests use it to make tiny models with known answers.
 * Only the parts of onnx.proto these graphs need are declared; field numbers are
 * those of onnx/onnx.proto.
 */
import protobuf from 'protobufjs';

const ONNX_DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7 },
            ints: { rule: 'repeated', type: 'int64', id: 8 },
            type: { type: 'int32', id: 20 },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: { tensorType: { type: 'Tensor', id: 1 } },
          nested: {
            Tensor: {
              fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } },
            },
          },
        },
        OperatorSetIdProto: {
          fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } },
        },
      },
    },
  },
};

const ModelProto = protobuf.Root.fromJSON(ONNX_DESCRIPTOR).lookupType('onnx.ModelProto');

/** Reads model bytes back as a plain object with the fields above (tests inspect rewritten models with it). */
export function decodeOnnxModel(model: Uint8Array): Record<string, unknown> {
  return ModelProto.toObject(ModelProto.decode(model), { longs: Number, bytes: Array, defaults: false });
}

/** ONNX TensorProto.DataType codes for the element types crosscam uses. */
const DATA_TYPE_CODE = { float32: 1, uint8: 2, int32: 6, int64: 7 } as const;
export type OnnxElementType = keyof typeof DATA_TYPE_CODE;

/** AttributeProto.AttributeType codes. */
const ATTRIBUTE_TYPE_CODE = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

export type AttributeValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'ints'; value: readonly number[] };

/** Attribute constructors: ONNX distinguishes int from float attributes, JS numbers do not. */
export const attr = {
  float: (value: number): AttributeValue => ({ kind: 'float', value }),
  int: (value: number): AttributeValue => ({ kind: 'int', value }),
  string: (value: string): AttributeValue => ({ kind: 'string', value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: 'floats', value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: 'ints', value }),
};

export interface GraphValue {
  name: string;
  type: OnnxElementType;
  /** Fixed sizes as numbers, symbolic (dynamic) ones as names. */
  dims: readonly (number | string)[];
}

export interface GraphNode {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface GraphInitializer {
  name: string;
  type: OnnxElementType;
  dims: readonly number[];
  values: readonly number[];
}

export interface GraphSpec {
  name: string;
  inputs: readonly GraphValue[];
  outputs: readonly GraphValue[];
  nodes: readonly GraphNode[];
  initializers?: readonly GraphInitializer[];
  /** Shapes of intermediate tensors, as exporters write them (tests of onnx-free-dims.ts). */
  valueInfo?: readonly GraphValue[];
  /** Default opset 17 (IR version 8), which onnxruntime 1.x runs on every provider. */
  opset?: number;
}

function rawBytes(init: GraphInitializer): Uint8Array {
  switch (init.type) {
    case 'float32':
      return new Uint8Array(Float32Array.from(init.values).buffer);
    case 'uint8':
      return Uint8Array.from(init.values);
    case 'int32':
      return new Uint8Array(Int32Array.from(init.values).buffer);
    case 'int64':
      return new Uint8Array(BigInt64Array.from(init.values, (v) => BigInt(v)).buffer);
  }
}

function valueInfo(v: GraphValue) {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: DATA_TYPE_CODE[v.type],
        shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, a: AttributeValue) {
  const base = { name, type: ATTRIBUTE_TYPE_CODE[a.kind] };
  switch (a.kind) {
    case 'float':
      return { ...base, f: a.value };
    case 'int':
      return { ...base, i: a.value };
    case 'string':
      return { ...base, s: new TextEncoder().encode(a.value) };
    case 'floats':
      return { ...base, floats: [...a.value] };
    case 'ints':
      return { ...base, ints: [...a.value] };
  }
}

/** Serialises a graph into ONNX model bytes, ready for `InferenceSession.create(bytes)`. */
export function buildOnnxModel(spec: GraphSpec): Uint8Array {
  const opset = spec.opset ?? 17;
  const message = ModelProto.fromObject({
    irVersion: 8,
    producerName: 'crosscam',
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: spec.name,
      node: spec.nodes.map((n, index) => ({
        name: `${n.op}_${index}`,
        opType: n.op,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: (spec.initializers ?? []).map((init) => ({
        name: init.name,
        dataType: DATA_TYPE_CODE[init.type],
        dims: [...init.dims],
        rawData: rawBytes(init),
      })),
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      valueInfo: (spec.valueInfo ?? []).map(valueInfo),
    },
  });
  return ModelProto.encode(message).finish();
}
