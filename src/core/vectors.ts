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
