/**
 * An int8 mirror of a matrix of unit rows, scanned natively (usearch's exact search): the
 * exact search's first stage. Brute force over float32 rows is bound by memory bandwidth
 * here (10⁵ × 512 floats = 200 MB per query, ~22 ms); int8 rows are a quarter of that
 * (~2.5 ms). The caller rescores the shortlist with the float32 rows, so the quantisation
 * error only matters at the shortlist's edge.
 */
import { exactSearch, MetricKind, type Matches } from 'usearch';

/**
 * Fixed scale for every row, so int8 dot products rank as the float ones do (a per-row scale
 * would bias the ranking). A unit vector of a few hundred dimensions has no component near
 * 0.5; one above saturates, which only lowers that row's shortlist score.
 */
const SCALE = 254;
const INITIAL_ROWS = 64;

export class QuantizedRows {
  private rows: Int8Array;
  private count = 0;
  /** usearch reads typed arrays from the start of their buffer (it ignores byteOffset): queries go through this own-buffer copy. */
  private readonly query: Int8Array;

  constructor(readonly dimension: number) {
    this.rows = new Int8Array(INITIAL_ROWS * dimension);
    this.query = new Int8Array(dimension);
  }

  get size(): number {
    return this.count;
  }

  /** Writes row `slot` (slot ≤ size: an existing row or the next one) from a float32 unit vector at `offset`. */
  set(slot: number, vector: Float32Array, offset = 0): void {
    if (slot > this.count) throw new RangeError(`slot ${slot} is past the end (${this.count} rows)`);
    if (slot === this.count) {
      this.grow(slot + 1);
      this.count++;
    }
    quantise(vector, offset, this.rows, slot * this.dimension, this.dimension);
  }

  /** Moves the last row into `slot` and drops the last (the swap-remove of the float rows). */
  removeSwapLast(slot: number): void {
    const last = this.count - 1;
    if (slot < 0 || slot > last) throw new RangeError(`slot ${slot} is not a row (${this.count} rows)`);
    if (slot !== last) this.rows.copyWithin(slot * this.dimension, last * this.dimension, (last + 1) * this.dimension);
    this.count--;
  }

  clear(): void {
    this.count = 0;
  }

  /** Slots of the `count` rows with the highest int8 dot product with a unit query, best first. */
  shortlist(query: Float32Array, count: number): Uint32Array {
    const wanted = Math.min(count, this.count);
    if (wanted === 0) return new Uint32Array(0);
    quantise(query, 0, this.query, 0, this.dimension);
    const dataset = this.rows.subarray(0, this.count * this.dimension);
    const matches = exactSearch(dataset, this.query, this.dimension, wanted, MetricKind.IP, 1) as Matches;
    const slots = new Uint32Array(matches.keys.length);
    for (let i = 0; i < slots.length; i++) slots[i] = Number(matches.keys[i]);
    return slots;
  }

  private grow(rows: number): void {
    if (rows * this.dimension <= this.rows.length) return;
    const grown = new Int8Array(Math.max(rows, (2 * this.rows.length) / this.dimension) * this.dimension);
    grown.set(this.rows.subarray(0, this.count * this.dimension));
    this.rows = grown;
  }
}

function quantise(source: Float32Array, from: number, target: Int8Array, to: number, length: number): void {
  for (let i = 0; i < length; i++) {
    const value = Math.round(source[from + i]! * SCALE);
    target[to + i] = value > 127 ? 127 : value < -127 ? -127 : value;
  }
}
