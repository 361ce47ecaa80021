/**
 * The prototypes of one object class in one contiguous row-major matrix: exact cosine
 * search by brute-force dot products (unit vectors), and each identity's difficulty
 * (DESIGN seed 002): c_i = max_{n≠i} cos(W_i, W_n), the similarity to its closest
 * other identity.
 *
 * Difficulties are kept incrementally: changing one prototype costs one pass over the
 * matrix (N dot products). An identity whose closest neighbour moved away or was
 * removed is marked stale and recomputed (one pass) when next asked; after a bulk load
 * every identity starts stale, so start-up costs no N² work.
 */
import { normaliseInPlace } from '../core/vectors.js';

export interface SearchHit {
  id: string;
  similarity: number;
}

const INITIAL_CAPACITY = 64;
/** Difficulty of an identity with no other identity of its class: nothing to be confused with. */
const ALONE = -1;

export class PrototypeIndex {
  private matrix: Float32Array;
  private readonly ids: string[] = [];
  private readonly slots = new Map<string, number>();
  /** Length of each row before normalisation (a re-projection shifts the unnormalised prototype). */
  private norms: Float64Array;
  private difficulties: Float64Array;
  /** Slot of the closest other prototype, -1 when none. */
  private nearest: Int32Array;
  private stale: Uint8Array;
  /** Normalisation buffer for incoming prototypes. */
  private readonly scratch: Float32Array;

  constructor(readonly dimension: number) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
    this.matrix = new Float32Array(INITIAL_CAPACITY * dimension);
    this.norms = new Float64Array(INITIAL_CAPACITY);
    this.difficulties = new Float64Array(INITIAL_CAPACITY);
    this.nearest = new Int32Array(INITIAL_CAPACITY).fill(-1);
    this.stale = new Uint8Array(INITIAL_CAPACITY);
    this.scratch = new Float32Array(dimension);
  }

  get size(): number {
    return this.ids.length;
  }

  has(id: string): boolean {
    return this.slots.has(id);
  }

  /** Identity ids in slot order (the order of `matrixView` rows). */
  identityIds(): readonly string[] {
    return this.ids;
  }

  /** The first `size` rows; a view that is valid until the next write. */
  matrixView(): Float32Array {
    return this.matrix.subarray(0, this.ids.length * this.dimension);
  }

  /** A copy of an identity's prototype. */
  prototype(id: string): Float32Array | undefined {
    const slot = this.slots.get(id);
    return slot === undefined ? undefined : this.matrix.slice(slot * this.dimension, (slot + 1) * this.dimension);
  }

  /** The prototype as it was given (before normalisation), a copy. */
  unnormalised(id: string): Float32Array | undefined {
    const slot = this.slots.get(id);
    if (slot === undefined) return undefined;
    const row = this.matrix.slice(slot * this.dimension, (slot + 1) * this.dimension);
    const norm = this.norms[slot]!;
    for (let i = 0; i < row.length; i++) row[i]! *= norm;
    return row;
  }

  /** Cosine similarity of a unit query to an identity's prototype. */
  similarity(id: string, query: Float32Array): number {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`identity ${id} is not in the index`);
    this.checkDimension(query);
    return this.rowDot(slot, query, 0);
  }

  /** Cosine similarity of a unit query to every prototype, in slot order (the order of `identityIds`). */
  similarities(query: Float32Array): Float32Array {
    this.checkDimension(query);
    const out = new Float32Array(this.ids.length);
    for (let slot = 0; slot < out.length; slot++) out[slot] = this.rowDot(slot, query, 0);
    return out;
  }

  /** The `k` most similar identities to a unit query, best first. */
  search(query: Float32Array, k: number): SearchHit[] {
    this.checkDimension(query);
    const hits: SearchHit[] = [];
    for (let slot = 0; slot < this.ids.length; slot++) {
      const similarity = this.rowDot(slot, query, 0);
      if (hits.length === k && similarity <= hits[k - 1]!.similarity) continue;
      let at = hits.length < k ? hits.length : k - 1;
      while (at > 0 && hits[at - 1]!.similarity < similarity) at--;
      hits.splice(at, 0, { id: this.ids[slot]!, similarity });
      if (hits.length > k) hits.pop();
    }
    return hits;
  }

  /**
   * Adds or replaces an identity's prototype (normalised copy) and updates difficulties.
   * Returns false (and does no work) when the prototype is unchanged.
   */
  set(id: string, prototype: Float32Array): boolean {
    const slot = this.write(id, prototype);
    if (slot === undefined) return false;
    let best = ALONE;
    let bestSlot = -1;
    for (let other = 0; other < this.ids.length; other++) {
      if (other === slot) continue;
      const similarity = this.rowDot(other, this.matrix, slot * this.dimension);
      if (similarity > best) {
        best = similarity;
        bestSlot = other;
      }
      if (this.stale[other] === 1) continue;
      if (similarity >= this.difficulties[other]!) {
        this.difficulties[other] = similarity;
        this.nearest[other] = slot;
      } else if (this.nearest[other] === slot) {
        // Its closest neighbour moved away; another one may now be closest.
        this.stale[other] = 1;
      }
    }
    this.difficulties[slot] = best;
    this.nearest[slot] = bestSlot;
    this.stale[slot] = 0;
    return true;
  }

  /** Adds or replaces a prototype without touching difficulties (bulk load); the identity starts stale. */
  load(id: string, prototype: Float32Array): void {
    const slot = this.write(id, prototype);
    if (slot !== undefined) this.stale[slot] = 1;
  }

  remove(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    const last = this.ids.length - 1;
    for (let other = 0; other <= last; other++) {
      if (this.nearest[other] === slot) this.stale[other] = 1;
      else if (this.nearest[other] === last) this.nearest[other] = slot;
    }
    if (slot !== last) {
      const lastId = this.ids[last]!;
      this.matrix.copyWithin(slot * this.dimension, last * this.dimension, (last + 1) * this.dimension);
      this.ids[slot] = lastId;
      this.slots.set(lastId, slot);
      this.norms[slot] = this.norms[last]!;
      this.difficulties[slot] = this.difficulties[last]!;
      this.nearest[slot] = this.nearest[last]!;
      this.stale[slot] = this.stale[last]!;
    }
    this.ids.pop();
    this.slots.delete(id);
    return true;
  }

  /** c_i = max_{n≠i} cos(W_i, W_n); -1 when the identity is alone in its class. */
  difficulty(id: string): number {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`identity ${id} is not in the index`);
    if (this.stale[slot] === 1) this.recomputeDifficulty(slot);
    return this.difficulties[slot]!;
  }

  /**
   * c_i with some identities left out (e.g. ones about to be merged with this one): the index's
   * value when its nearest neighbour is not among them, else one pass over the matrix.
   */
  difficultyExcluding(id: string, excluded: ReadonlySet<string>): number {
    const value = this.difficulty(id);
    const slot = this.slots.get(id)!;
    const nearest = this.nearest[slot]!;
    if (nearest === -1 || !excluded.has(this.ids[nearest]!)) return value;
    let best = ALONE;
    for (let other = 0; other < this.ids.length; other++) {
      if (other === slot || excluded.has(this.ids[other]!)) continue;
      best = Math.max(best, this.rowDot(other, this.matrix, slot * this.dimension));
    }
    return best;
  }

  private recomputeDifficulty(slot: number): void {
    let best = ALONE;
    let bestSlot = -1;
    for (let other = 0; other < this.ids.length; other++) {
      if (other === slot) continue;
      const similarity = this.rowDot(other, this.matrix, slot * this.dimension);
      if (similarity > best) {
        best = similarity;
        bestSlot = other;
      }
    }
    this.difficulties[slot] = best;
    this.nearest[slot] = bestSlot;
    this.stale[slot] = 0;
  }

  /** Stores the normalised prototype and its length; returns its slot, or undefined when an existing row is unchanged. */
  private write(id: string, prototype: Float32Array): number | undefined {
    this.checkDimension(prototype);
    this.scratch.set(prototype);
    let norm = 0;
    for (let i = 0; i < this.dimension; i++) norm += this.scratch[i]! * this.scratch[i]!;
    const row = normaliseInPlace(this.scratch);
    let slot = this.slots.get(id);
    if (slot !== undefined) {
      const start = slot * this.dimension;
      let same = true;
      for (let i = 0; i < this.dimension && same; i++) same = this.matrix[start + i] === row[i];
      this.norms[slot] = Math.sqrt(norm);
      if (same) return undefined;
    } else {
      this.ensureCapacity(this.ids.length + 1);
      slot = this.ids.length;
      this.ids.push(id);
      this.slots.set(id, slot);
      this.nearest[slot] = -1;
    }
    this.matrix.set(row, slot * this.dimension);
    this.norms[slot] = Math.sqrt(norm);
    return slot;
  }

  private ensureCapacity(rows: number): void {
    const capacity = this.difficulties.length;
    if (rows <= capacity) return;
    const grown = Math.max(rows, capacity * 2);
    const matrix = new Float32Array(grown * this.dimension);
    matrix.set(this.matrix);
    this.matrix = matrix;
    const norms = new Float64Array(grown);
    norms.set(this.norms);
    this.norms = norms;
    const difficulties = new Float64Array(grown);
    difficulties.set(this.difficulties);
    this.difficulties = difficulties;
    const nearest = new Int32Array(grown).fill(-1);
    nearest.set(this.nearest);
    this.nearest = nearest;
    const stale = new Uint8Array(grown);
    stale.set(this.stale);
    this.stale = stale;
  }

  private checkDimension(vector: Float32Array): void {
    if (vector.length !== this.dimension) {
      throw new RangeError(`vector has ${vector.length} dimensions, this class's prototypes have ${this.dimension}`);
    }
  }

  private rowDot(slot: number, vector: Float32Array, offset: number): number {
    return dotAt(this.matrix, slot * this.dimension, vector, offset, this.dimension);
  }
}

/** Dot product of `length` values of `a` from `aOffset` and `b` from `bOffset` (4-way unrolled: the search's inner loop). */
export function dotAt(a: Float32Array, aOffset: number, b: Float32Array, bOffset: number, length: number): number {
  const tail = length % 4;
  const end = aOffset + length - tail;
  let i = aOffset;
  let j = bOffset;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (; i < end; i += 4, j += 4) {
    s0 += a[i]! * b[j]!;
    s1 += a[i + 1]! * b[j + 1]!;
    s2 += a[i + 2]! * b[j + 2]!;
    s3 += a[i + 3]! * b[j + 3]!;
  }
  for (let k = 0; k < tail; k++) s0 += a[i + k]! * b[j + k]!;
  return s0 + s1 + s2 + s3;
}
