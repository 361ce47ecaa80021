import { munkres } from 'munkres';

/**
 * Rectangular assignment where leaving a row or column unassigned has a price.
 *
 * Solved exactly with the Hungarian method on the usual augmented square matrix
 * (the `extend_cost` construction of lapjv used by ByteTrack, and the fake-node
 * construction of IDF1): every row r may instead take its own dummy column at
 * `unassignedRowCost(r)`, every column c its own dummy row at `unassignedColCost(c)`,
 * and dummy rows pair with dummy columns for free.
 */
export interface AssignmentProblem {
  rows: number;
  cols: number;
  /** Cost of pairing row r with column c; non-negative, or Infinity when the pair is not allowed. */
  cost: (row: number, col: number) => number;
  /** Non-negative price of leaving row r unassigned. */
  unassignedRowCost: (row: number) => number;
  /** Non-negative price of leaving column c unassigned. */
  unassignedColCost: (col: number) => number;
}

export interface AssignmentResult {
  /** [row, col] pairs, sorted by row. */
  pairs: Array<[number, number]>;
  unassignedRows: number[];
  unassignedCols: number[];
}

export function solveAssignment(problem: AssignmentProblem): AssignmentResult {
  const { rows, cols } = problem;
  const rowCosts = Array.from({ length: rows }, (_, r) => problem.unassignedRowCost(r));
  const colCosts = Array.from({ length: cols }, (_, c) => problem.unassignedColCost(c));
  // Any solution that uses a forbidden cell costs more than leaving everything unassigned,
  // so a finite stand-in for Infinity keeps the solver in plain arithmetic.
  let forbidden = 1;
  for (const v of rowCosts) forbidden += v;
  for (const v of colCosts) forbidden += v;

  const size = rows + cols;
  const matrix: Float64Array[] = [];
  for (let r = 0; r < size; r++) {
    const line = new Float64Array(size).fill(forbidden);
    if (r < rows) {
      for (let c = 0; c < cols; c++) {
        const v = problem.cost(r, c);
        if (Number.isFinite(v)) line[c] = v;
      }
      line[cols + r] = rowCosts[r]!;
    } else {
      line[r - rows] = colCosts[r - rows]!;
      line.fill(0, cols);
    }
    matrix.push(line);
  }

  const rowTaken = new Uint8Array(rows);
  const colTaken = new Uint8Array(cols);
  const pairs: Array<[number, number]> = [];
  for (const [r, c] of munkres(matrix)) {
    if (r < rows && c < cols && matrix[r]![c]! < forbidden) {
      pairs.push([r, c]);
      rowTaken[r] = 1;
      colTaken[c] = 1;
    }
  }
  pairs.sort((a, b) => a[0] - b[0]);
  const unassignedRows: number[] = [];
  const unassignedCols: number[] = [];
  for (let r = 0; r < rows; r++) if (!rowTaken[r]) unassignedRows.push(r);
  for (let c = 0; c < cols; c++) if (!colTaken[c]) unassignedCols.push(c);
  return { pairs, unassignedRows, unassignedCols };
}
