/**
 * The prototypes of one object class in one contiguous row-major matrix: top-k cosine
 * search (unit vectors), and each identity's difficulty (DESIGN seed 002):
 * c_i = max_{n≠i} cos(W_i, W_n), the similarity to its closest other identity.
 *
 * Search by size (docs/performance.md, "Gallery search"): a JS pass over the float rows for
 * a small class; from SCAN_FROM rows an int8 scan (search/quantized-rows.ts) shortlists and
 * the float rows rescore; from `annFrom` rows an HNSW graph (search/ann-index.ts) answers
 * once built in the background, the scan until then. Similarities returned are always exact.
 *
 * Difficulties of a class up to INCREMENTAL_DIFFICULTY_MAX rows are kept incrementally:
 * changing one prototype costs one pass over the matrix (N dot products). An identity whose
 * closest neighbour moved away or was removed is marked stale and recomputed (one pass) when
 * next asked; after a bulk load every identity starts stale, so start-up costs no N² work.
 * A larger class asks the search for the nearest other prototype instead (one query).
 */
import { normaliseInPlace } from '../core/vectors.js';
import { AnnIndex, type AnnBuildReport, type AnnSettings } from '../search/ann-index.js';
import { QuantizedRows } from '../search/quantized-rows.js';

export interface SearchHit {
  id: string;
  similarity: number;
}

export interface PrototypeIndexOptions {
  /** Rows from which the HNSW graph serves searches (undefined: never, the int8 scan serves). */
  annFrom?: number;
  ann?: AnnSettings;
  /** Told when a background graph build completes (its size and duration). */
  onAnnBuilt?: (report: AnnBuildReport) => void;
  onAnnFailed?: (error: Error) => void;
}

interface RankedSlot {
  slot: number;
  /** Exact similarity of the slot's float row to the query. */
  similarity: number;
}

const INITIAL_CAPACITY = 64;
/** Difficulty of an identity with no other identity of its class: nothing to be confused with. */
const ALONE = -1;
/** Below this many rows a JS pass over the float rows is as fast as the scan's call. */
export const SCAN_FROM = 2048;
/** Shortlist of the int8 scan for a top-k query: k·4 + 32 rows, rescored exactly. */
const SHORTLIST_FACTOR = 4;
const SHORTLIST_EXTRA = 32;
/** The graph's int8 order in its subspace is a shortlist: max(k·2, its ef) neighbours retrieved, rescored exactly. */
const ANN_RETRIEVE_FACTOR = 2;
/** Above this many rows one pass per write (N dot products) costs more than a search per query. */
export const INCREMENTAL_DIFFICULTY_MAX = 16_384;

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
  /** Stable search key of each slot (slots move on removal, graph keys must not). */
  private keys: Float64Array;
  private readonly slotOfKey = new Map<number, number>();
  private nextKey = 0;
  private readonly quantized: QuantizedRows;
  private ann: AnnIndex | undefined;
  /** Rows were bulk-loaded since the graph was built: it is rebuilt by finishLoad. */
  private annOutdated = false;
  /** The class was above INCREMENTAL_DIFFICULTY_MAX: cached difficulties may be outdated. */
  private difficultiesUntracked = false;

  constructor(
    readonly dimension: number,
    private readonly options: PrototypeIndexOptions = {},
  ) {
    if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be a positive integer, got ${dimension}`);
    this.quantized = new QuantizedRows(dimension);
    this.keys = new Float64Array(INITIAL_CAPACITY);
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

  /** The `k` most similar identities to a unit query, best first (exact similarities). */
  search(query: Float32Array, k: number): SearchHit[] {
    this.checkDimension(query);
    if (k < 1) return [];
    return this.toHits(this.topSlots(query, k));
  }

  /** The brute-force answer over the float rows, whatever the size (the reference the fast paths are tested against). */
  searchExhaustive(query: Float32Array, k: number): SearchHit[] {
    this.checkDimension(query);
    return this.toHits(this.scanSlots(query, k));
  }

  /** Which path answers a search now (for stats and tests). */
  get searchPath(): 'scan' | 'int8-scan' | 'ann' {
    if (this.ann?.ready && !this.annOutdated) return 'ann';
    return this.ids.length < SCAN_FROM ? 'scan' : 'int8-scan';
  }

  /** Whether a graph is being built in the background. */
  get annBuilding(): boolean {
    return this.ann?.rebuilding ?? false;
  }

  /**
   * After bulk `load`s: starts the background graph build when the class is large enough and
   * its graph is missing or outdated. Resolves with the build's report (undefined when none
   * was needed or a newer build superseded it).
   */
  finishLoad(): Promise<AnnBuildReport | undefined> {
    const { annFrom } = this.options;
    if (annFrom === undefined || this.ids.length < annFrom) {
      this.ann?.clear();
      this.ann = undefined;
      this.annOutdated = false;
      return Promise.resolve(undefined);
    }
    if (this.ann !== undefined && !this.annOutdated) return Promise.resolve(undefined);
    this.ann ??= new AnnIndex(this.dimension, this.options.ann);
    this.annOutdated = false;
    const build = this.ann.rebuild({
      keys: Array.from(this.keys.subarray(0, this.ids.length)),
      vectorOf: (key) => {
        const slot = this.slotOfKey.get(key);
        return slot === undefined ? undefined : this.matrix.subarray(slot * this.dimension, (slot + 1) * this.dimension);
      },
    });
    return build.then(
      (report) => {
        if (report) this.options.onAnnBuilt?.(report);
        return report;
      },
      (error: unknown) => {
        // The scan keeps serving: a failed graph costs speed, not answers.
        this.ann = undefined;
        this.options.onAnnFailed?.(error instanceof Error ? error : new Error(String(error)));
        return undefined;
      },
    );
  }

  /** Stops a background build and frees the graph (the index is being replaced). */
  dispose(): void {
    this.ann?.clear();
    this.ann = undefined;
  }

  private toHits(ranked: readonly RankedSlot[]): SearchHit[] {
    return ranked.map(({ slot, similarity }) => ({ id: this.ids[slot]!, similarity }));
  }

  /** The k best slots with their exact similarities, best first, by the path of searchPath. */
  private topSlots(query: Float32Array, k: number): RankedSlot[] {
    if (this.searchPath === 'ann') {
      const retrieved = Math.max(k * ANN_RETRIEVE_FACTOR, this.ann!.expansionSearch);
      const slots = this.ann!.search(query, retrieved).map((neighbour) => this.slotOfKey.get(neighbour.key)!);
      return this.byExactSimilarity(slots, query, k);
    }
    if (this.ids.length < SCAN_FROM) return this.scanSlots(query, k);
    const shortlist = this.quantized.shortlist(query, k * SHORTLIST_FACTOR + SHORTLIST_EXTRA);
    return this.byExactSimilarity(Array.from(shortlist), query, k);
  }

  private byExactSimilarity(slots: readonly number[], query: Float32Array, k: number): RankedSlot[] {
    const scored = slots.map((slot) => ({ slot, similarity: this.rowDot(slot, query, 0) }));
    scored.sort((a, b) => b.similarity - a.similarity);
    return scored.slice(0, k);
  }

  private scanSlots(query: Float32Array, k: number): RankedSlot[] {
    const best: RankedSlot[] = [];
    for (let slot = 0; slot < this.ids.length; slot++) {
      const similarity = this.rowDot(slot, query, 0);
      if (best.length === k && similarity <= best[k - 1]!.similarity) continue;
      let at = best.length < k ? best.length : k - 1;
      while (at > 0 && best[at - 1]!.similarity < similarity) at--;
      best.splice(at, 0, { slot, similarity });
      if (best.length > k) best.pop();
    }
    return best;
  }

  /**
   * Adds or replaces an identity's prototype (normalised copy) and updates difficulties.
   * Returns false (and does no work) when the prototype is unchanged.
   */
  set(id: string, prototype: Float32Array): boolean {
    const slot = this.write(id, prototype);
    if (slot === undefined) return false;
    this.ann?.upsert(this.keys[slot]!, this.matrix, slot * this.dimension);
    const { annFrom } = this.options;
    if (annFrom !== undefined && this.ann === undefined && this.ids.length >= annFrom) void this.finishLoad();
    if (!this.tracksDifficulties()) {
      this.stale[slot] = 1;
      return true;
    }
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
    if (slot === undefined) return;
    this.stale[slot] = 1;
    if (this.ann !== undefined) this.annOutdated = true;
  }

  remove(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    const last = this.ids.length - 1;
    for (let other = 0; other <= last; other++) {
      if (this.nearest[other] === slot) this.stale[other] = 1;
      else if (this.nearest[other] === last) this.nearest[other] = slot;
    }
    this.ann?.remove(this.keys[slot]!);
    this.slotOfKey.delete(this.keys[slot]!);
    this.quantized.removeSwapLast(slot);
    if (slot !== last) {
      const lastId = this.ids[last]!;
      this.matrix.copyWithin(slot * this.dimension, last * this.dimension, (last + 1) * this.dimension);
      this.keys[slot] = this.keys[last]!;
      this.slotOfKey.set(this.keys[slot]!, slot);
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
    if (!this.tracksDifficulties()) return this.nearestOther(slot, new Set());
    if (this.stale[slot] === 1) this.recomputeDifficulty(slot);
    return this.difficulties[slot]!;
  }

  /**
   * c_i with some identities left out (e.g. ones about to be merged with this one): the index's
   * value when its nearest neighbour is not among them, else one pass over the matrix.
   */
  difficultyExcluding(id: string, excluded: ReadonlySet<string>): number {
    const slot = this.slots.get(id);
    if (slot === undefined) throw new Error(`identity ${id} is not in the index`);
    if (!this.tracksDifficulties()) return this.nearestOther(slot, excluded);
    const value = this.difficulty(id);
    const nearest = this.nearest[slot]!;
    if (nearest === -1 || !excluded.has(this.ids[nearest]!)) return value;
    let best = ALONE;
    for (let other = 0; other < this.ids.length; other++) {
      if (other === slot || excluded.has(this.ids[other]!)) continue;
      best = Math.max(best, this.rowDot(other, this.matrix, slot * this.dimension));
    }
    return best;
  }

  /**
   * Whether difficulties are kept by passes over the matrix (a class up to
   * INCREMENTAL_DIFFICULTY_MAX rows). Coming back under the limit, every cached value may be
   * outdated, so all are recomputed when next asked.
   */
  private tracksDifficulties(): boolean {
    if (this.ids.length > INCREMENTAL_DIFFICULTY_MAX) {
      this.difficultiesUntracked = true;
      return false;
    }
    if (this.difficultiesUntracked) {
      this.stale.fill(1, 0, this.ids.length);
      this.difficultiesUntracked = false;
    }
    return true;
  }

  /** The highest similarity of a row to another one not excluded, by one search (a large class). */
  private nearestOther(slot: number, excluded: ReadonlySet<string>): number {
    const row = this.matrix.subarray(slot * this.dimension, (slot + 1) * this.dimension);
    for (const other of this.topSlots(row, excluded.size + 2)) {
      if (other.slot !== slot && !excluded.has(this.ids[other.slot]!)) return other.similarity;
    }
    return ALONE;
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
      this.keys[slot] = this.nextKey;
      this.slotOfKey.set(this.nextKey++, slot);
    }
    this.matrix.set(row, slot * this.dimension);
    this.quantized.set(slot, row);
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
    const keys = new Float64Array(grown);
    keys.set(this.keys);
    this.keys = keys;
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
