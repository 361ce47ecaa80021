import { gaussianRandom, uniformRandom } from '../../src/core/random.js';
import { normalised } from '../../src/core/vectors.js';

const D = 16;

/**
 * A site of two cameras: 60 people walk past A, then B. B adds a component along one direction
 * that differs from track to track (a colour cast that depends on the clothes): centring cannot
 * remove it, and it is what confident cross-camera pairs differ by.
 */
export function syntheticSite() {
  const normal = gaussianRandom(uniformRandom(5));
  const vector = (scale = 1) => Float32Array.from({ length: D }, () => scale * normal());
  const shift = normalised(vector());
  const tracks: { cameraId: string; trackId: number; start: number; embedding: Float32Array; halves: [Float32Array, Float32Array] }[] = [];
  for (let person = 0; person < 60; person++) {
    const identity = normalised(vector());
    for (const [cameraId, offset] of [['A', 0], ['B', 60_000]] as const) {
      const seen = () => {
        const v = Float32Array.from(identity, (x) => x + 0.15 * normal());
        if (cameraId === 'B') {
          const cast = 2.5 * normal();
          for (let i = 0; i < D; i++) v[i]! += cast * shift[i]!;
        }
        return normalised(v);
      };
      const halves: [Float32Array, Float32Array] = [seen(), seen()];
      const embedding = normalised(Float32Array.from(halves[0], (x, i) => x + halves[1][i]!));
      tracks.push({ cameraId, trackId: person, start: person * 10_000 + offset, embedding, halves });
    }
  }
  return tracks;
}

