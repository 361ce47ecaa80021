/** Small dense-vector helpers for embeddings (cosine similarity of unit vectors = dot product). */
import { getFloat16, setFloat16 } from '@petamoriken/float16';

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
 * IEEE half-precision bytes (little endian) of a vector, for embeddings kept as records: a
 * 512-dimensional one takes 1 KiB instead of 2, which lets LMDB keep it inside a 4 KiB page
 * rather than on an overflow page of its own (4 KiB per record); for unit vectors the rounding
 * moves a cosine by about 1e-4.
 */
export function halfVectorBytes(vector: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vector.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < vector.length; i++) setFloat16(view, i * 2, vector[i]!, true);
  return bytes;
}

/** A fresh Float32Array from halfVectorBytes' output. */
export function vectorFromHalfBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 2 !== 0) throw new Error(`stored half-precision vector has ${bytes.byteLength} bytes, not a multiple of 2`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vector = new Float32Array(bytes.byteLength / 2);
  for (let i = 0; i < vector.length; i++) vector[i] = getFloat16(view, i * 2, true);
  return vector;
}
