/** Small dense-vector helpers for embeddings (cosine similarity of unit vectors = dot product). */

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** Scales `vector` to unit length in place; an all-zero vector stays zero. Returns it. */
export function normaliseInPlace(vector: Float32Array): Float32Array {
  const norm = Math.sqrt(dot(vector, vector));
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] /= norm;
  return vector;
}

/** A unit-length copy. */
export function normalised(vector: Float32Array): Float32Array {
  return normaliseInPlace(Float32Array.from(vector));
}

/** A byte view of the vector (msgpack copies it when encoding). */
export function vectorBytes(vector: Float32Array): Uint8Array {
  return new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
}

/** A fresh, aligned Float32Array from stored bytes (the decoder's buffer may be shared or unaligned). */
export function vectorFromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`stored vector has ${bytes.byteLength} bytes, not a multiple of 4`);
  const vector = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(vector.buffer).set(bytes);
  return vector;
}

/**
 * IEEE half-precision bytes (binary16, little endian) of a vector, for embeddings kept as
 * records: a 512-dimensional one takes 1 KiB instead of 2, which lets LMDB keep it inside a
 * 4 KiB page rather than on an overflow page of its own; for unit vectors the rounding moves a
 * cosine by about 1e-4. Hand-written because Node 20 has no Float16Array and a polyfill's
 * per-element DataView calls took 0.4 ms a vector, 150 times a float32 copy.
 */
export function halfVectorBytes(vector: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vector.length * 2);
  for (let i = 0; i < vector.length; i++) {
    const bits = halfBits(vector[i]!);
    bytes[2 * i] = bits & 0xff;
    bytes[2 * i + 1] = bits >>> 8;
  }
  return bytes;
}

/** A fresh Float32Array from halfVectorBytes' output. */
export function vectorFromHalfBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 2 !== 0) throw new Error(`stored half-precision vector has ${bytes.byteLength} bytes, not a multiple of 2`);
  const table = (halfValues ??= halfValueTable());
  const vector = new Float32Array(bytes.byteLength / 2);
  for (let i = 0; i < vector.length; i++) vector[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  return vector;
}

const float32 = new Float32Array(1);
const float32Bits = new Uint32Array(float32.buffer);

/** binary16 bits of a float32 value, rounded to nearest even; overflow to infinity, NaN kept. */
function halfBits(value: number): number {
  float32[0] = value;
  const bits = float32Bits[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const biasedExponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (biasedExponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const exponent = biasedExponent - 127 + 15;
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    // Subnormal: the implicit 1 shifted in, then rounded like the normal case.
    if (exponent < -10) return sign;
    return sign | roundedShift(mantissa | 0x800000, 14 - exponent);
  }
  // A carry out of the mantissa rolls into the exponent, which is the right rounding (up to infinity).
  return sign | ((exponent << 10) + roundedShift(mantissa, 13));
}

/** value >> shift, rounded to nearest, ties to even. */
function roundedShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

let halfValues: Float32Array | undefined;

/** Every binary16 value by its bits (256 KiB, built on first use): a read is one lookup. */
function halfValueTable(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    table[bits] =
      exponent === 0 ? sign * mantissa * 2 ** -24 : exponent === 0x1f ? (mantissa !== 0 ? NaN : sign * Infinity) : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}
