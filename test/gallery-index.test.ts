import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dotAt, PrototypeIndex } from '../src/gallery/prototype-index.js';
import { similarPairs } from '../src/gallery/recluster.js';
import { randomVectors } from './support/random-vectors.js';

const close = (actual: number, expected: number, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

function bruteDifficulty(vectors: Map<string, Float32Array>, id: string): number {
  let best = -1;
  for (const [other, vector] of vectors) {
    if (other === id) continue;
    let sum = 0;
    for (let i = 0; i < vector.length; i++) sum += vector[i]! * vectors.get(id)![i]!;
    best = Math.max(best, sum);
  }
  return best;
}

test('search ranks prototypes by cosine similarity, best first, exactly', () => {
  const index = new PrototypeIndex(2);
  index.set('a', Float32Array.of(1, 0));
  index.set('b', Float32Array.of(0.8, 0.6));
  index.set('c', Float32Array.of(0, 1));
  index.set('d', Float32Array.of(-1, 0));
  const hits = index.search(Float32Array.of(0.6, 0.8), 3);
  assert.deepEqual(hits.map((hit) => hit.id), ['b', 'c', 'a']);
  close(hits[0]!.similarity, 0.96);
  close(hits[1]!.similarity, 0.8);
  close(hits[2]!.similarity, 0.6);
  assert.equal(index.search(Float32Array.of(1, 0), 10).length, 4);
  assert.throws(() => index.search(Float32Array.of(1, 0, 0), 1), /3 dimensions/);
});

test('difficulty c_i = max over other identities of cos(W_i, W_n), by hand', () => {
  const index = new PrototypeIndex(2);
  index.set('x', Float32Array.of(2, 0)); // stored normalised
  assert.equal(index.difficulty('x'), -1, 'alone: nothing to be confused with');
  index.set('y', Float32Array.of(0.8, 0.6));
  index.set('z', Float32Array.of(0, 1));
  close(index.difficulty('x'), 0.8);
  close(index.difficulty('y'), 0.8);
  close(index.difficulty('z'), 0.6);
  index.remove('y');
  close(index.difficulty('x'), 0);
  close(index.difficulty('z'), 0);
  // Moving z next to x raises both.
  index.set('z', Float32Array.of(0.6, 0.8));
  close(index.difficulty('x'), 0.6);
  close(index.difficulty('z'), 0.6);
  assert.equal(index.set('z', Float32Array.of(0.6, 0.8)), false, 'an unchanged prototype costs nothing');
});

test('incremental difficulties equal a brute-force recomputation after any sequence of changes', () => {
  const vectors = randomVectors(400, 8);
  const index = new PrototypeIndex(8);
  const current = new Map<string, Float32Array>();
  // Bulk load (all stale), then a mix of adds, moves and removals.
  for (let i = 0; i < 60; i++) {
    index.load(`id-${i}`, vectors[i]!);
    current.set(`id-${i}`, vectors[i]!);
  }
  let next = 60;
  for (let step = 0; step < 300; step++) {
    const ids = [...current.keys()];
    const pick = ids[(step * 7919) % ids.length]!;
    if (step % 3 === 0) {
      index.remove(pick);
      current.delete(pick);
    } else if (step % 3 === 1) {
      index.set(pick, vectors[next % vectors.length]!);
      current.set(pick, vectors[next++ % vectors.length]!);
    } else {
      const id = `id-${next}`;
      index.set(id, vectors[next % vectors.length]!);
      current.set(id, vectors[next++ % vectors.length]!);
    }
    if (step % 25 === 0 || step === 299) {
      for (const id of current.keys()) close(index.difficulty(id), bruteDifficulty(current, id), 1e-5);
    }
  }
  assert.equal(index.size, current.size);
  for (const [id, vector] of current) index.prototype(id)!.forEach((value, i) => close(value, vector[i]!, 1e-7));
});

test('similarPairs (Gram matrix in onnxruntime, in row blocks) finds exactly the pairs a brute-force scan finds', async () => {
  const vectors = randomVectors(70, 6, 11);
  const matrix = new Float32Array(70 * 6);
  vectors.forEach((vector, i) => matrix.set(vector, i * 6));
  const expected: [number, number][] = [];
  for (let i = 0; i < 70; i++) {
    for (let j = i + 1; j < 70; j++) if (dotAt(matrix, i * 6, matrix, j * 6, 6) >= 0.6) expected.push([i, j]);
  }
  assert.ok(expected.length > 10, 'the data has links to find');
  let rows = 0;
  const pairs = await similarPairs(matrix, 6, 0.6, { blockRows: 16, onRows: (count) => (rows += count) });
  assert.equal(rows, 70);
  assert.deepEqual(pairs.map(([i, j]) => [i, j]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!), expected);
  for (let k = 1; k < pairs.length; k++) assert.ok(pairs[k - 1]![2] >= pairs[k]![2], 'strongest first');
  for (const [i, j, similarity] of pairs) close(similarity, dotAt(matrix, i * 6, matrix, j * 6, 6), 1e-5);
});

test('exact search over 10k identities × 512 dimensions stays within a per-decision budget', (t) => {
  const dimension = 512;
  const index = new PrototypeIndex(dimension);
  const vectors = randomVectors(10_000, dimension, 3);
  vectors.forEach((vector, i) => index.load(`person-${i}`, vector));
  const queries = randomVectors(20, dimension, 5);
  index.search(queries[0]!, 10); // warm-up (JIT)
  const times = queries.map((query) => {
    const start = performance.now();
    index.search(query, 10);
    return performance.now() - start;
  });
  const median = times.sort((a, b) => a - b)[times.length >> 1]!;
  t.diagnostic(`search 10000 x 512: median ${median.toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms`);
  // Measured ~6 ms on the 2-core CI machine; a tenfold regression (e.g. a copy per row) fails.
  assert.ok(median < 60, `median ${median} ms`);
  const hit = index.search(vectors[1234]!, 1)[0]!;
  assert.equal(hit.id, 'person-1234');
  close(hit.similarity, 1);
});
