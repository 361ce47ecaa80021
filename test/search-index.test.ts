import { test } from 'node:test';
import assert from 'node:assert/strict';
import { INCREMENTAL_DIFFICULTY_MAX, PrototypeIndex, SCAN_FROM } from '../src/gallery/prototype-index.js';
import { AnnIndex } from '../src/search/ann-index.js';
import { QuantizedRows } from '../src/search/quantized-rows.js';
import { randomVectors } from './support/random-vectors.js';

function exactTop(rows: readonly Float32Array[], query: Float32Array, k: number): number[] {
  const scored = rows.map((row, slot) => ({ slot, similarity: row.reduce((sum, value, i) => sum + value * query[i]!, 0) }));
  scored.sort((a, b) => b.similarity - a.similarity);
  return scored.slice(0, k).map((hit) => hit.slot);
}

/** Fraction of the exact top-k found by a search, over several queries. */
function recall(found: readonly (readonly number[])[], exact: readonly (readonly number[])[]): number {
  let hits = 0;
  let total = 0;
  for (let q = 0; q < exact.length; q++) {
    const set = new Set(found[q]);
    hits += exact[q]!.filter((slot) => set.has(slot)).length;
    total += exact[q]!.length;
  }
  return hits / total;
}

test('the int8 shortlist holds the exact top 10 (rescoring then gives the exact answer)', () => {
  const rows = randomVectors(3000, 64, 11);
  const quantized = new QuantizedRows(64);
  rows.forEach((row, slot) => quantized.set(slot, row));
  const queries = randomVectors(40, 64, 12);
  const found = queries.map((query) => Array.from(quantized.shortlist(query, 72)));
  assert.equal(recall(found, queries.map((query) => exactTop(rows, query, 10))), 1);
  // Shortlists come best first by the int8 dot product: the top slot is the exact best here.
  assert.equal(found[0]![0], exactTop(rows, queries[0]!, 1)[0]);
});

test('the int8 rows follow swap-removal like the float rows', () => {
  const rows = randomVectors(50, 16, 3);
  const quantized = new QuantizedRows(16);
  rows.forEach((row, slot) => quantized.set(slot, row));
  quantized.removeSwapLast(10); // row 49 now sits in slot 10
  quantized.removeSwapLast(48); // the last row itself
  assert.equal(quantized.size, 48);
  assert.equal(quantized.shortlist(rows[49]!, 1)[0], 10);
  assert.notEqual(quantized.shortlist(rows[48]!, 1)[0], 48);
  assert.throws(() => quantized.set(60, rows[0]!), /past the end/);
});

test('queries that are views into a larger buffer are read from their own offset (usearch ignores byteOffset)', async () => {
  const rows = randomVectors(200, 8, 5);
  const buffer = new Float32Array(8 * 3);
  buffer.set(rows[123]!, 8); // the query is the middle third of the buffer
  const view = buffer.subarray(8, 16);
  const quantized = new QuantizedRows(8);
  rows.forEach((row, slot) => quantized.set(slot, row));
  assert.equal(quantized.shortlist(view, 1)[0], 123);
  const ann = new AnnIndex(8);
  await ann.rebuild({ keys: rows.map((_, key) => key), vectorOf: (key) => rows[key] });
  assert.equal(ann.search(view, 1)[0]!.key, 123);
});

test('the graph matches brute force (recall@10) and keeps up with writes made during its build', async () => {
  const rows = randomVectors(3000, 24, 21);
  const live = new Map(rows.map((row, key) => [key, row]));
  const ann = new AnnIndex(24);
  assert.deepEqual(ann.search(rows[0]!, 5), [], 'no graph, no answer (the caller scans)');
  const build = ann.rebuild({ keys: [...live.keys()], vectorOf: (key) => live.get(key) });
  assert.equal(ann.rebuilding, true);
  // During the build: one key removed, one replaced by another vector, one new.
  live.delete(7);
  ann.remove(7);
  const moved = randomVectors(1, 24, 99)[0]!;
  live.set(8, moved);
  ann.upsert(8, moved);
  const added = randomVectors(1, 24, 100)[0]!;
  live.set(5000, added);
  ann.upsert(5000, added);
  const report = await build;
  assert.equal(report?.vectors, 3000);
  assert.equal(report.subspace, null, 'vectors of 24 dimensions are searched as they are');
  assert.equal(ann.ready, true);
  assert.equal(ann.search(moved, 1)[0]!.key, 8);
  assert.equal(ann.search(added, 1)[0]!.key, 5000);
  assert.ok(!ann.search(rows[7]!, 10).some((hit) => hit.key === 7), 'a key removed during the build is not found');
  const keys = [...live.keys()];
  const vectors = keys.map((key) => live.get(key)!);
  const queries = randomVectors(50, 24, 22);
  const found = queries.map((query) => ann.search(query, 10).map((hit) => keys.indexOf(hit.key)));
  const measured = recall(found, queries.map((query) => exactTop(vectors, query, 10)));
  assert.ok(measured >= 0.97, `recall@10 ${measured}`);
  // Replacing a key after the build (remove + add in the graph) moves it.
  ann.upsert(8, rows[8]!);
  assert.equal(ann.search(rows[8]!, 1)[0]!.key, 8);
});

test('a graph in a principal subspace: rescoring its shortlist finds the exact top 10, and writes made while it fits are kept', async () => {
  // 64-d unit vectors near a 10-d subspace (as re-ID embeddings near their manifold).
  const dimension = 64;
  const axes = randomVectors(10, dimension, 51);
  const near = (coefficients: Float32Array, noise: Float32Array) => {
    const vector = noise.map((value) => 0.03 * value);
    coefficients.forEach((c, a) => axes[a]!.forEach((value, i) => (vector[i]! += c * value)));
    const norm = Math.hypot(...vector);
    return vector.map((value) => value / norm);
  };
  const noises = randomVectors(3001, dimension, 53);
  const rows = randomVectors(3001, 10, 52).map((coefficients, i) => near(coefficients, noises[i]!));
  const live = new Map(rows.slice(0, 3000).map((row, key) => [key, row]));
  const ann = new AnnIndex(dimension, { connectivity: 16, expansionAdd: 64, expansionSearch: 64, subspaceDimension: 16 });
  const build = ann.rebuild({ keys: [...live.keys()], vectorOf: (key) => live.get(key) });
  assert.equal(ann.rebuilding, true);
  live.set(7000, rows[3000]!); // written while the subspace is being fitted, before the graph exists
  ann.upsert(7000, rows[3000]!);
  const report = await build;
  assert.equal(report?.subspace?.dimension, 16);
  assert.ok(report.subspace.varianceKept > 0.99 && report.subspace.varianceKept <= 1, `energy kept ${report.subspace.varianceKept}`);
  assert.equal(report.vectors, 3001);
  assert.equal(ann.search(rows[3000]!, 1)[0]!.key, 7000);
  const keys = [...live.keys()];
  const vectors = keys.map((key) => live.get(key)!);
  const queries = randomVectors(40, 10, 54).map((coefficients, i) => near(coefficients, randomVectors(40, dimension, 55)[i]!));
  const exactDot = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, i) => sum + value * b[i]!, 0);
  const found = queries.map((query) =>
    ann
      .search(query, 40)
      .map((hit) => ({ key: hit.key, similarity: exactDot(live.get(hit.key)!, query) }))
      .sort((a, b) => b.similarity - a.similarity)
      .slice(0, 10)
      .map((hit) => keys.indexOf(hit.key)),
  );
  const measured = recall(found, queries.map((query) => exactTop(vectors, query, 10)));
  assert.ok(measured >= 0.97, `recall@10 ${measured}`);
});

test('a newer rebuild supersedes one in progress', async () => {
  const rows = randomVectors(400, 8, 31);
  const ann = new AnnIndex(8);
  const first = ann.rebuild({ keys: rows.map((_, key) => key), vectorOf: (key) => rows[key] });
  const second = ann.rebuild({ keys: [0, 1, 2], vectorOf: (key) => rows[key] });
  assert.equal(await first, undefined);
  assert.equal((await second)?.vectors, 3);
  assert.equal(ann.size, 3);
});

test('the prototype index answers exactly on every path: JS scan, int8 scan and graph', async () => {
  const dimension = 32;
  const count = SCAN_FROM + 1500;
  const rows = randomVectors(count, dimension, 41);
  const built: { vectors: number }[] = [];
  const index = new PrototypeIndex(dimension, { annFrom: SCAN_FROM + 1000, onAnnBuilt: (report) => built.push(report) });
  rows.slice(0, 1000).forEach((row, i) => index.set(`p${i}`, row));
  assert.equal(index.searchPath, 'scan');
  rows.slice(1000, SCAN_FROM + 500).forEach((row, i) => index.set(`p${i + 1000}`, row));
  assert.equal(index.searchPath, 'int8-scan');
  const queries = randomVectors(30, dimension, 42);
  for (const query of queries) assert.deepEqual(index.search(query, 10), index.searchExhaustive(query, 10));
  // Crossing annFrom starts the graph build; the scan serves until it is complete.
  rows.slice(SCAN_FROM + 500).forEach((row, i) => index.set(`p${i + SCAN_FROM + 500}`, row));
  assert.equal(index.annBuilding, true);
  assert.equal(index.searchPath, 'int8-scan');
  while (index.annBuilding) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.equal(index.searchPath, 'ann');
  assert.equal(built.length, 1);
  // Writes after the build reach the graph: a removed identity is never returned, a moved one is found where it went.
  index.remove('p3');
  index.set('p4', rows[3]!);
  const hits = index.search(rows[3]!, 5);
  assert.equal(hits[0]!.id, 'p4');
  assert.ok(!hits.some((hit) => hit.id === 'p3'));
  let agree = 0;
  for (const query of queries) {
    const exact = index.searchExhaustive(query, 10);
    const found = index.search(query, 10);
    const ids = new Set(exact.map((hit) => hit.id));
    agree += found.filter((hit) => ids.has(hit.id)).length;
    // Similarities are exact (float rows), whatever path found the ids.
    for (const hit of found) assert.equal(hit.similarity, index.similarity(hit.id, query));
  }
  assert.ok(agree / (queries.length * 10) >= 0.97, `recall@10 ${agree / (queries.length * 10)}`);
  // A bulk load outdates the graph: finishLoad rebuilds it, the scan serves meanwhile.
  index.load('p5', rows[6]!);
  assert.equal(index.searchPath, 'int8-scan');
  assert.equal((await index.finishLoad())?.vectors, count - 1);
  assert.equal(index.searchPath, 'ann');
  index.dispose();
  assert.equal(index.searchPath, 'int8-scan');
});

test('a class too large for incremental difficulties gets c_i from a search, the same value', () => {
  const dimension = 8;
  const rows = randomVectors(INCREMENTAL_DIFFICULTY_MAX + 10, dimension, 51);
  const index = new PrototypeIndex(dimension);
  rows.forEach((row, i) => index.set(`p${i}`, row));
  const brute = (slot: number, excluded: ReadonlySet<number>) => {
    let best = -1;
    rows.forEach((_, other) => {
      if (other === slot || excluded.has(other)) return;
      best = Math.max(best, index.similarity(`p${other}`, rows[slot]!));
    });
    return best;
  };
  for (const slot of [0, 17, 5000]) {
    assert.ok(Math.abs(index.difficulty(`p${slot}`) - brute(slot, new Set())) < 1e-6);
    const nearest = index.searchExhaustive(rows[slot]!, 2)[1]!.id;
    const excluded = new Set([Number(nearest.slice(1))]);
    assert.ok(Math.abs(index.difficultyExcluding(`p${slot}`, new Set([nearest])) - brute(slot, excluded)) < 1e-6);
  }
  // Back under the limit, difficulties are tracked again and recomputed (not stale cached values).
  for (let i = 0; i < 20; i++) index.remove(`p${i}`);
  for (const slot of [25, 40]) assert.ok(Math.abs(index.difficulty(`p${slot}`) - brute(slot, new Set(Array.from({ length: 20 }, (_, i) => i)))) < 1e-6);
});
