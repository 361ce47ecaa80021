/**
 * Approximate nearest-neighbour search over unit vectors (usearch's HNSW graph, inner
 * product, int8 storage): the gallery's search once a class holds so many identities that
 * even the int8 scan is too slow per query. Int8 distances are coarse (usearch scales a unit
 * vector's small components by 127), so its order is only a shortlist: the caller retrieves
 * more than it needs and rescores exactly. Measured at 10⁵ 512-d vectors, retrieving 128 and
 * rescoring: recall@10 0.993 at p99 0.69 ms with int8, 0.990 at 1.30 ms with half precision,
 * and half the memory.
 *
 * Building a graph over 10⁶ vectors takes minutes, so it is built in small synchronous
 * chunks between turns of the event loop (cameras keep being served) and swapped in when
 * complete; until then `ready` is false and the caller searches exactly. Writes arriving
 * during a build go to the graph being built as well, so it is current when swapped in.
 */
import { Index, MetricKind, ScalarKind, type Matches } from 'usearch';

export interface AnnSettings {
  /** HNSW edges per node (M). */
  connectivity: number;
  /** Candidate list length while inserting (efConstruction). */
  expansionAdd: number;
  /** Candidate list length while searching (ef): recall against latency. */
  expansionSearch: number;
}

/** Measured on 10⁶ 512-d vectors in bench/gallery-search.ts (docs/performance.md). */
export const DEFAULT_ANN_SETTINGS: AnnSettings = { connectivity: 32, expansionAdd: 128, expansionSearch: 128 };

export interface AnnBuildSource {
  /** Keys to insert, read once when the build starts. */
  keys: readonly number[];
  /** A key's current unit vector, undefined when it was removed meanwhile. */
  vectorOf(key: number): Float32Array | undefined;
}

export interface AnnBuildReport {
  vectors: number;
  seconds: number;
}

export interface AnnNeighbour {
  key: number;
  /** Inner product computed by the index (int8): rescore where exact values matter. */
  similarity: number;
}

/** Vectors added per synchronous step of a build: a few ms of blocking at a time. */
const BUILD_CHUNK = 32;

export class AnnIndex {
  private active: Index | undefined;
  private building: Index | undefined;
  private buildGeneration = 0;
  /** usearch ignores a typed array's byteOffset: every vector passed in is copied here first. */
  private readonly scratch: Float32Array;
  private readonly keyScratch = new BigUint64Array(1);

  constructor(
    readonly dimension: number,
    private readonly settings: AnnSettings = DEFAULT_ANN_SETTINGS,
  ) {
    this.scratch = new Float32Array(dimension);
  }

  /** Whether a complete graph answers searches. */
  get ready(): boolean {
    return this.active !== undefined;
  }

  get size(): number {
    return this.active?.size() ?? 0;
  }

  get rebuilding(): boolean {
    return this.building !== undefined;
  }

  /** Adds or replaces a vector in the graph and in one being built. */
  upsert(key: number, vector: Float32Array, offset = 0): void {
    this.scratch.set(vector.subarray(offset, offset + this.dimension));
    this.keyScratch[0] = BigInt(key);
    for (const index of this.targets()) {
      if (index.contains(this.keyScratch[0])) index.remove(this.keyScratch[0]);
      index.add(this.keyScratch, this.scratch, 1);
    }
  }

  remove(key: number): void {
    const id = BigInt(key);
    for (const index of this.targets()) if (index.contains(id)) index.remove(id);
  }

  /** Drops the graph (searches go exact) and stops a build in progress. */
  clear(): void {
    this.active = undefined;
    this.building = undefined;
    this.buildGeneration++;
  }

  /**
   * Drops the current graph (its vectors are outdated: searches go exact meanwhile), builds a
   * new one from `source` in the background and swaps it in. A later rebuild or clear
   * supersedes this one (its promise then resolves undefined).
   */
  async rebuild(source: AnnBuildSource): Promise<AnnBuildReport | undefined> {
    const generation = ++this.buildGeneration;
    const started = performance.now();
    const index = this.newIndex();
    this.building = index;
    this.active = undefined;
    const keys = new BigUint64Array(BUILD_CHUNK);
    const vectors = new Float32Array(BUILD_CHUNK * this.dimension);
    for (let at = 0; at < source.keys.length; ) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (generation !== this.buildGeneration) return undefined;
      let filled = 0;
      for (; at < source.keys.length && filled < BUILD_CHUNK; at++) {
        const key = source.keys[at]!;
        const vector = source.vectorOf(key);
        // Removed meanwhile, or already added by an upsert during the build (which is newer).
        if (vector === undefined || index.contains(BigInt(key))) continue;
        keys[filled] = BigInt(key);
        vectors.set(vector.subarray(0, this.dimension), filled * this.dimension);
        filled++;
      }
      if (filled === BUILD_CHUNK) index.add(keys, vectors, 1);
      else if (filled > 0) index.add(keys.slice(0, filled), vectors.slice(0, filled * this.dimension), 1);
    }
    if (generation !== this.buildGeneration) return undefined;
    this.active = index;
    this.building = undefined;
    return { vectors: index.size(), seconds: (performance.now() - started) / 1000 };
  }

  /** The `k` nearest keys by inner product, best first; empty when no graph is ready. */
  search(query: Float32Array, k: number): AnnNeighbour[] {
    const index = this.active;
    if (index === undefined || k < 1 || index.size() === 0) return [];
    this.scratch.set(query.subarray(0, this.dimension));
    const matches = index.search(this.scratch, Math.min(k, index.size()), 1) as Matches;
    const neighbours: AnnNeighbour[] = [];
    for (let i = 0; i < matches.keys.length; i++) {
      neighbours.push({ key: Number(matches.keys[i]), similarity: 1 - matches.distances[i]! });
    }
    return neighbours;
  }

  private *targets(): Generator<Index> {
    if (this.active) yield this.active;
    if (this.building) yield this.building;
  }

  private newIndex(): Index {
    return new Index({
      dimensions: this.dimension,
      metric: MetricKind.IP,
      quantization: ScalarKind.I8,
      connectivity: this.settings.connectivity,
      expansion_add: this.settings.expansionAdd,
      expansion_search: this.settings.expansionSearch,
      multi: false,
    });
  }
}
