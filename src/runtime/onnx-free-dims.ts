/**
 * Frees fixed dimensions of a model's inputs and outputs, so one session runs inputs of
 * several sizes. A detector exported at 416x416 runs a 16:9 frame's letterbox as 416x256
 * instead of padding it to a square: its convolutions do 0.62 times the work. The rewrite
 * works on the protobuf wire format and copies every field it does not change byte for byte
 * (a partial schema would drop what it does not declare). It also drops the graph's
 * `value_info` (the shapes the exporter inferred for intermediate tensors, which no longer
 * hold); onnxruntime infers them again when it loads the model.
 */
import protobuf from 'protobufjs';

export interface FreeDims {
  /** Input or output name. */
  tensor: string;
  /** Axis -> symbolic name it gets, e.g. { 2: 'height', 3: 'width' }. */
  axes: Readonly<Record<number, string>>;
}

/** Field numbers of onnx/onnx.proto on the path the rewrite walks. */
const FIELD = {
  modelGraph: 7,
  graphInput: 11,
  graphOutput: 12,
  graphValueInfo: 13,
  valueInfoName: 1,
  valueInfoType: 2,
  typeTensor: 1,
  tensorShape: 2,
  shapeDim: 1,
  dimParam: 2,
} as const;

const LENGTH_DELIMITED = 2;

interface WireField {
  field: number;
  wire: number;
  /** The whole encoded field, tag included. */
  raw: Uint8Array;
  /** The payload of a length-delimited field. */
  body?: Uint8Array;
}

function wireFields(bytes: Uint8Array): WireField[] {
  const reader = protobuf.Reader.create(bytes);
  const fields: WireField[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    const wire = tag & 7;
    let body: Uint8Array | undefined;
    if (wire === LENGTH_DELIMITED) {
      const length = reader.uint32();
      body = bytes.subarray(reader.pos, reader.pos + length);
      reader.skip(length);
    } else {
      reader.skipType(wire);
    }
    fields.push({ field: tag >>> 3, wire, raw: bytes.subarray(start, reader.pos), ...(body ? { body } : {}) });
  }
  return fields;
}

/**
 * Re-encodes a message: `edit` returns a field's new payload, null to drop it, or undefined
 * to keep its bytes as they are.
 */
function rewriteMessage(bytes: Uint8Array, edit: (field: WireField) => Uint8Array | null | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const field of wireFields(bytes)) {
    const replaced = field.wire === LENGTH_DELIMITED ? edit(field) : undefined;
    if (replaced === null) continue;
    parts.push(replaced === undefined ? field.raw : protobuf.Writer.create().uint32((field.field << 3) | LENGTH_DELIMITED).bytes(replaced).finish());
  }
  return concat(parts);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function valueInfoName(body: Uint8Array): string | undefined {
  const name = wireFields(body).find((f) => f.field === FIELD.valueInfoName && f.body);
  return name ? new TextDecoder().decode(name.body) : undefined;
}

/** A ValueInfoProto with the given axes of its tensor shape made symbolic. */
function freeValueInfo(body: Uint8Array, axes: Readonly<Record<number, string>>, seen: Set<number>): Uint8Array {
  const symbolic = (name: string) => protobuf.Writer.create().uint32((FIELD.dimParam << 3) | LENGTH_DELIMITED).string(name).finish();
  const shape = (shapeBody: Uint8Array) => {
    let axis = -1;
    return rewriteMessage(shapeBody, (f) => {
      if (f.field !== FIELD.shapeDim) return undefined;
      axis += 1;
      const name = axes[axis];
      if (name === undefined) return undefined;
      seen.add(axis);
      return symbolic(name);
    });
  };
  const tensor = (tensorBody: Uint8Array) => rewriteMessage(tensorBody, (f) => (f.field === FIELD.tensorShape ? shape(f.body!) : undefined));
  const type = (typeBody: Uint8Array) => rewriteMessage(typeBody, (f) => (f.field === FIELD.typeTensor ? tensor(f.body!) : undefined));
  return rewriteMessage(body, (f) => (f.field === FIELD.valueInfoType ? type(f.body!) : undefined));
}

/**
 * The model with the given axes of its inputs and outputs symbolic. Throws when a named
 * tensor or axis is not in the model, so a catalog entry that names the wrong tensor fails
 * at load, not on the first frame.
 */
export function freeModelDims(model: Uint8Array, free: readonly FreeDims[]): Uint8Array {
  const wanted = new Map(free.map((entry) => [entry.tensor, { axes: entry.axes, seen: new Set<number>() }]));
  const graph = (graphBody: Uint8Array) =>
    rewriteMessage(graphBody, (f) => {
      if (f.field === FIELD.graphValueInfo) return null;
      if (f.field !== FIELD.graphInput && f.field !== FIELD.graphOutput) return undefined;
      const target = wanted.get(valueInfoName(f.body!) ?? '');
      return target ? freeValueInfo(f.body!, target.axes, target.seen) : undefined;
    });
  const rewritten = rewriteMessage(model, (f) => (f.field === FIELD.modelGraph ? graph(f.body!) : undefined));
  for (const [tensor, { axes, seen }] of wanted) {
    const missing = Object.keys(axes).map(Number).filter((axis) => !seen.has(axis));
    if (missing.length > 0) throw new Error(`the model has no ${seen.size === 0 ? `input or output '${tensor}'` : `axis ${missing.join(', ')} in '${tensor}'`}`);
  }
  return rewritten;
}
