import { test } from 'node:test';
import assert from 'node:assert/strict';
import { solveAssignment } from '../src/track/assignment.js';

const fromMatrix = (m: number[][], unassignedCost: number) => ({
  rows: m.length,
  cols: m[0]?.length ?? 0,
  cost: (r: number, c: number) => m[r]![c]!,
  unassignedRowCost: () => unassignedCost,
  unassignedColCost: () => unassignedCost,
});

test('finds the minimum total cost where greedy picking of the cheapest pair fails', () => {
  // Greedy takes (0,0)=1 and is then forced into (1,1)=10: total 11. Optimal (0,1)+(1,0) = 2+3 = 5.
  const result = solveAssignment(fromMatrix([[1, 2], [3, 10]], 100));
  assert.deepEqual(result.pairs, [[0, 1], [1, 0]]);
  assert.deepEqual(result.unassignedRows, []);
  assert.deepEqual(result.unassignedCols, []);
});

test('leaves items unassigned when that is cheaper, and never uses forbidden pairs', () => {
  // Row 1 may only take column 0 (cost 0.9 > 2*0.3, so better left alone); row 0 takes column 0.
  const result = solveAssignment(fromMatrix([[0.1, Infinity, 0.5], [0.9, Infinity, Infinity]], 0.3));
  assert.deepEqual(result.pairs, [[0, 0]]);
  assert.deepEqual(result.unassignedRows, [1]);
  assert.deepEqual(result.unassignedCols, [1, 2]);
});

test('with a per-item unassigned price, matching two items beats matching one cheaply', () => {
  // Unassigned costs 0.4 per side. (0,0) alone: 0.1 + 0.4 + 0.4 = 0.9; (0,1)+(1,0): 0.2 + 0.15 = 0.35.
  const result = solveAssignment(fromMatrix([[0.1, 0.2], [0.15, Infinity]], 0.4));
  assert.deepEqual(result.pairs, [[0, 1], [1, 0]]);
});

test('rectangular and empty problems', () => {
  const wide = solveAssignment(fromMatrix([[5, 1, 7]], 100));
  assert.deepEqual(wide.pairs, [[0, 1]]);
  assert.deepEqual(wide.unassignedCols, [0, 2]);
  const none = solveAssignment({ ...fromMatrix([], 1), rows: 0, cols: 3 });
  assert.deepEqual(none, { pairs: [], unassignedRows: [], unassignedCols: [0, 1, 2] });
});

test('row- and column-specific unassigned prices (IDF1 fake nodes)', () => {
  // Pairing costs 6; leaving row 0 (price 1) and column 0 (price 2) unassigned costs 3: cheaper.
  const apart = solveAssignment({
    rows: 1, cols: 1, cost: () => 6, unassignedRowCost: () => 1, unassignedColCost: () => 2,
  });
  assert.deepEqual(apart.pairs, []);
  const together = solveAssignment({
    rows: 1, cols: 1, cost: () => 2.5, unassignedRowCost: () => 1, unassignedColCost: () => 2,
  });
  assert.deepEqual(together.pairs, [[0, 0]]);
});
