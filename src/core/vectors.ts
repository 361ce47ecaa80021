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
