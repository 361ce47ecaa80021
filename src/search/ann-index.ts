/**
 * Approximate nearest-neighbour search over unit vectors (usearch's HNSW graph, inner
 * product, int8 storage): the gallery's search once a class holds so many identities that
 * even the int8 scan is too slow per query. Int8 distances are coarse (usearch scales a unit
 * vector's small components by 127), so its order is only a shortlist: the caller retrieves
 * more than it needs and rescores exactly. Measured at 10⁵ 512-d vectors, retrieving 128 and
 * rescoring: recall@10 0.993 at p99 0.69 ms with int8, 0.990 at 1.30 ms with half precision,
 * and half the memory.
 *
 * The graph lives in the vectors' principal subspace (principal-subspace.ts, fitted on a
 * sample when a build starts): every distance a search computes then reads a tenth of the
 * bytes. The exact rescore by the caller makes up for what the projection loses.
 *
 * Building a graph over 10⁶ vectors takes minutes, so it is built in small synchronous
 * chunks between turns of the event loop (cameras keep being served) and swapped in when
 * complete; until then `ready` is false and the caller searches exactly. Writes arriving
 * during a build go to the graph being built as well, so it is current when swapped in.
 */
import { Index, MetricKind, ScalarKind, type Matches } from 'usearch';
import { fitPrincipalSubspace, projectInto, type PrincipalSubspace } from './principal-subspace.js';

export interface AnnSettings {
  /** HNSW edges per node (M). */
  connectivity: number;
  /** Candidate list length while inserting (efConstruction). */
  expansionAdd: number;
  /** Candidate list length while searching (ef): recall against latency; the caller retrieves them all for its rescore. */
  expansionSearch: number;
  /** Principal directions the graph is built in; at or above the vectors' dimension, none (the vectors as they are). */
  subspaceDimension: number;
}

/**
 * Chosen on 10⁶ synthetic 512-d prototypes (docs/performance.md): in 48 dimensions every
 * distance is one cache line of int8 and an exact 48-d ranking still holds the true top 10
 * within its first 128; M 32 and efConstruction 200 make the graph find them at ef 192
 * (recall@10 0.986 after the rescore; M 16 / efConstruction 128 needed ef 384 for 0.98).
 */
export const DEFAULT_ANN_SETTINGS: AnnSettings = { connectivity: 32, expansionAdd: 200, expansionSearch: 192, subspaceDimension: 48 };

export interface AnnBuildSource {
  /** Keys to insert, read once when the build starts. */
  keys: readonly number[];
  /** A key's current unit vector, undefined when it was removed meanwhile. */
  vectorOf(key: number): Float32Array | undefined;
}

export interface AnnBuildReport {
  vectors: number;
  seconds: number;
  /** The principal subspace the graph lives in (its dimension, the share of the vectors' energy it keeps); null: the vectors' own space. */
  subspace: { dimension: number; varianceKept: number } | null;
}

export interface AnnNeighbour {
  key: number;
  /** Inner product computed by the index (int8): rescore where exact values matter. */
  similarity: number;
}

/** Vectors added per synchronous step of a build: a few ms of blocking at a time. */
const BUILD_CHUNK = 32;
/** Vectors the subspace is fitted on (strided over the build's keys). */
const SUBSPACE_SAMPLE = 16_384;

/** A graph and the space it lives in. */
interface Graph {
  index: Index;
  subspace: PrincipalSubspace | undefined;
  /** The vector as the graph takes it (projected, or copied: usearch ignores a typed array's byteOffset). */
  input: Float32Array;
}

export class AnnIndex {
  private active: Graph | undefined;
  private building: Graph | undefined;
  private buildGeneration = 0;
  /** Keys written while a build fits its subspace (before its graph exists): added to it after. */
  private writtenDuringFit: Set<number> | undefined;
  private readonly keyScratch = new BigUint64Array(1);

  constructor(
    readonly dimension: number,
    private readonly settings: AnnSettings = DEFAULT_ANN_SETTINGS,
  ) {}

  /** Whether a complete graph answers searches. */
  get ready(): boolean {
    return this.active !== undefined;
  }

  get size(): number {
    return this.active?.index.size() ?? 0;
  }

  /** Candidates a search holds (ef): retrieving fewer costs the same search. */
  get expansionSearch(): number {
    return this.settings.expansionSearch;
  }

  get rebuilding(): boolean {
    return this.building !== undefined || this.writtenDuringFit !== undefined;
  }

  /** Adds or replaces a vector in the graph and in one being built. */
  upsert(key: number, vector: Float32Array, offset = 0): void {
    this.writtenDuringFit?.add(key);
    this.keyScratch[0] = BigInt(key);
    for (const graph of this.targets()) {
      this.toInput(graph, vector, offset);
      if (graph.index.contains(this.keyScratch[0])) graph.index.remove(this.keyScratch[0]);
      graph.index.add(this.keyScratch, graph.input, 1);
    }
  }

  remove(key: number): void {
    const id = BigInt(key);
    for (const { index } of this.targets()) if (index.contains(id)) index.remove(id);
  }

  /** Drops the graph (searches go exact) and stops a build in progress. */
  clear(): void {
    this.active = undefined;
    this.building = undefined;
    this.writtenDuringFit = undefined;
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
    this.active = undefined;
    this.building = undefined;
    const writtenDuringFit = new Set<number>();
    this.writtenDuringFit = writtenDuringFit;
    const subspace = await this.fitSubspace(source, generation);
    if (generation !== this.buildGeneration) return undefined;
    this.writtenDuringFit = undefined;
    const graph = this.newGraph(subspace);
    this.building = graph;
    const buildKeys = writtenDuringFit.size === 0 ? source.keys : [...source.keys, ...writtenDuringFit];
    const keys = new BigUint64Array(BUILD_CHUNK);
    const inputs = new Float32Array(BUILD_CHUNK * graph.input.length);
    for (let at = 0; at < buildKeys.length; ) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (generation !== this.buildGeneration) return undefined;
      let filled = 0;
      for (; at < buildKeys.length && filled < BUILD_CHUNK; at++) {
        const key = buildKeys[at]!;
        const vector = source.vectorOf(key);
        // Removed meanwhile, or already added by an upsert during the build (which is newer).
        if (vector === undefined || graph.index.contains(BigInt(key))) continue;
        keys[filled] = BigInt(key);
        this.toInput(graph, vector, 0);
        inputs.set(graph.input, filled * graph.input.length);
        filled++;
      }
      if (filled === BUILD_CHUNK) graph.index.add(keys, inputs, 1);
      else if (filled > 0) graph.index.add(keys.slice(0, filled), inputs.slice(0, filled * graph.input.length), 1);
    }
    if (generation !== this.buildGeneration) return undefined;
    this.active = graph;
    this.building = undefined;
    return {
      vectors: graph.index.size(),
      seconds: (performance.now() - started) / 1000,
      subspace: subspace ? { dimension: subspace.dimension, varianceKept: subspace.varianceKept } : null,
    };
  }

  /** The `k` nearest keys by inner product, best first; empty when no graph is ready. */
  search(query: Float32Array, k: number): AnnNeighbour[] {
    const graph = this.active;
    if (graph === undefined || k < 1 || graph.index.size() === 0) return [];
    this.toInput(graph, query, 0);
    const matches = graph.index.search(graph.input, Math.min(k, graph.index.size()), 1) as Matches;
    const neighbours: AnnNeighbour[] = [];
    for (let i = 0; i < matches.keys.length; i++) {
      neighbours.push({ key: Number(matches.keys[i]), similarity: 1 - matches.distances[i]! });
    }
    return neighbours;
  }

  private *targets(): Generator<Graph> {
    if (this.active) yield this.active;
    if (this.building) yield this.building;
  }

  private toInput(graph: Graph, vector: Float32Array, offset: number): void {
    if (graph.subspace) projectInto(graph.subspace, vector, offset, graph.input);
    else graph.input.set(vector.subarray(offset, offset + this.dimension));
  }

  /** The subspace of a strided sample of the build's vectors; undefined when the graph takes them as they are. */
  private async fitSubspace(source: AnnBuildSource, generation: number): Promise<PrincipalSubspace | undefined> {
    const dimension = this.settings.subspaceDimension;
    if (dimension >= this.dimension || dimension < 1) return undefined;
    const stride = Math.max(1, Math.floor(source.keys.length / SUBSPACE_SAMPLE));
    const samples: Float32Array[] = [];
    for (let at = 0; at < source.keys.length && samples.length < SUBSPACE_SAMPLE; at += stride) {
      const vector = source.vectorOf(source.keys[at]!);
      if (vector !== undefined) samples.push(vector.slice(0, this.dimension));
    }
    if (samples.length < dimension) return undefined; // too few vectors to say which directions matter
    const superseded = () => generation !== this.buildGeneration;
    return fitPrincipalSubspace(samples, {
      dimension,
      pause: async () => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (superseded()) throw new BuildSuperseded();
      },
    }).catch((error: unknown) => {
      if (error instanceof BuildSuperseded) return undefined;
      throw error;
    });
  }

  private newGraph(subspace: PrincipalSubspace | undefined): Graph {
    const dimensions = subspace?.dimension ?? this.dimension;
    const index = new Index({
      dimensions,
      metric: MetricKind.IP,
      quantization: ScalarKind.I8,
      connectivity: this.settings.connectivity,
      expansion_add: this.settings.expansionAdd,
      expansion_search: this.settings.expansionSearch,
      multi: false,
    });
    return { index, subspace, input: new Float32Array(dimensions) };
  }
}

/** Thrown through a subspace fit to stop it when a newer build or a clear supersedes it. */
class BuildSuperseded extends Error {}
