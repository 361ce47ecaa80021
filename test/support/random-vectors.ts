import { normalised } from '../../src/core/vectors.js';

/** Deterministic pseudo-random unit vectors (xorshift), so a failure can be replayed. */
export function randomVectors(count: number, dimension: number, seed = 7): Float32Array[] {
  let state = seed;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 2 ** 32) * 2 - 1;
  };
  return Array.from({ length: count }, () => normalised(Float32Array.from({ length: dimension }, next)));
}
