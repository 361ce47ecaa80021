/**
 * Gallery search at scale: top-10 among N identities of 512-d unit prototypes, through the
 * gallery's own PrototypeIndex, on every path it has — the JS scan (brute force, the ground
 * truth), usearch's exact float32 scan (for reference), the int8 scan rescored exactly, and
 * the HNSW graph — with latency p50/p99, recall@10 against brute force, the graph's build time
 * (the background build a daemon does at start, one thread) and the process's RSS.
 *
 * Prototypes are synthetic, not random: re-ID embeddings live near a low-dimensional manifold
 * (random 512-d vectors would be all nearly orthogonal, which makes a graph index look worse
 * and a shortlist look better than on real data). Each is a shared mean plus 96 latent
 * directions with a 1/√k spectrum plus isotropic noise; a query is a gallery prototype seen
 * again with more noise (a new sighting of a known identity).
 *
 * Every path is timed on the same queries after WARM_UP others (first touches of a freshly
 * built graph's memory are not searches a running daemon makes), and its recall@10 is taken
 * against usearch's exact float32 scan over all of them (brute force, on every core, so that
 * p99 at 10⁶ is a percentile of 1000 queries, not the second slowest of 100). The JS scan is
 * timed on at most 100 of them above 10⁵: it is the slow reference.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { exactSearch, MetricKind } from 'usearch';
import { openStateStore, storageUsage } from '../src/core/state-store.js';
import { gaussianRandom, uniformRandom } from '../src/core/random.js';
import { normaliseInPlace } from '../src/core/vectors.js';
import { RAW_SPACE } from '../src/features/feature-space.js';
import { Gallery } from '../src/gallery/gallery.js';
import { PrototypeIndex } from '../src/gallery/prototype-index.js';
import { DEFAULT_ANN_SETTINGS } from '../src/search/ann-index.js';
import { percentile } from './cameras.js';

export interface GallerySearchPath {
  /** ann-k256: the matcher's query (256 most similar), its top 10 compared. */
  path: 'js-scan' | 'usearch-exact-f32' | 'int8-scan' | 'ann' | 'ann-k256' | 'ann-full-dimension' | 'ann-full-dimension-k256';
  queries: number;
  p50Ms: number;
  p99Ms: number;
  /** Fraction of the exact top-10 (usearch's float32 scan) found. */
  recallAt10: number;
}

export interface GallerySearchResult {
  identities: number;
  dimension: number;
  loadS: number;
  annBuildS: number;
  /** The principal subspace the graph was built in (null: the full dimension). */
  annSubspace: { dimension: number; varianceKept: number } | null;
  /** The same graph built at full dimension (null: not built at this size). */
  annFullDimensionBuildS: number | null;
  rssMbLoaded: number;
  rssMbWithGraph: number;
  /** A daemon's start: the gallery opened from LMDB (records read, decoded, indexed); null above lmdbUpTo. */
  lmdb: { openS: number; databaseMb: number } | null;
  paths: GallerySearchPath[];
}

export interface GallerySearchOptions {
  sizes: readonly number[];
  dimension?: number;
  /** Queries timed per path (the JS scan takes fewer above 10⁵: it is the slow reference). */
  queries?: number;
  /** Largest size also written to LMDB to time the gallery's open (≈ 8 KB per enrolled identity at 512-d). */
  lmdbUpTo?: number;
  /** Largest size whose graph is also built at full dimension, to compare with the principal subspace in one run. */
  fullDimensionUpTo?: number;
  log?: (line: string) => void;
}

const K = 10;
const LATENT = 96;
/** Queries each path answers untimed before the timed ones. */
const WARM_UP = 50;

export function syntheticGallery(count: number, dimension: number, seed = 1) {
  const random = uniformRandom(seed);
  const normal = gaussianRandom(random);
  const basis = Float32Array.from({ length: LATENT * dimension }, () => normal() / Math.sqrt(dimension));
  const mean = Float32Array.from({ length: dimension }, () => (0.6 * normal()) / Math.sqrt(dimension));
  const latent = new Float32Array(LATENT);
  const prototypes = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) {
    const row = prototypes.subarray(i * dimension, (i + 1) * dimension);
    for (let k = 0; k < LATENT; k++) latent[k] = normal() / Math.sqrt(k + 1);
    for (let j = 0; j < dimension; j++) {
      let x = mean[j]! + (0.35 * normal()) / Math.sqrt(dimension);
      for (let k = 0; k < LATENT; k++) x += 2.2 * latent[k]! * basis[k * dimension + j]!;
      row[j] = x;
    }
    normaliseInPlace(row);
  }
  /** New sightings of known identities: a prototype plus noise, renormalised. */
  const queries = (n: number) =>
    Array.from({ length: n }, () => {
      const source = Math.floor(random() * count);
      const row = prototypes.slice(source * dimension, (source + 1) * dimension);
      for (let j = 0; j < dimension; j++) row[j]! += (0.6 * normal()) / Math.sqrt(dimension);
      return normaliseInPlace(row);
    });
  return { prototypes, queries };
}

const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

function timed(
  warmUp: readonly Float32Array[],
  queries: readonly Float32Array[],
  search: (query: Float32Array) => string[],
): { p50Ms: number; p99Ms: number; results: string[][] } {
  for (const query of warmUp) search(query);
  const times: number[] = [];
  const results: string[][] = [];
  for (const query of queries) {
    const started = performance.now();
    results.push(search(query));
    times.push(performance.now() - started);
  }
  return { p50Ms: percentile(times, 0.5), p99Ms: percentile(times, 0.99), results };
}

/** Exact top-K ids of every query: usearch's float32 scan on every core (the ground truth). */
function exactTopK(prototypes: Float32Array, queries: readonly Float32Array[], dimension: number): string[][] {
  const matrix = new Float32Array(queries.length * dimension);
  queries.forEach((query, i) => matrix.set(query, i * dimension));
  const found = exactSearch(prototypes, matrix, dimension, K, MetricKind.IP, os.cpus().length);
  return queries.map((_, i) => Array.from(found.keys.subarray(i * K, (i + 1) * K), (key) => `person-${key}`));
}

function recall(found: readonly string[][], truth: readonly string[][]): number {
  let hits = 0;
  for (let i = 0; i < found.length; i++) {
    const expected = new Set(truth[i]);
    hits += found[i]!.filter((id) => expected.has(id)).length;
  }
  return hits / (found.length * K);
}

/** Writes the prototypes as enrolled identities, then times a fresh Gallery over the store. */
async function measureLmdbOpen(prototypes: Float32Array, count: number, dimension: number): Promise<{ openS: number; databaseMb: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-bench-gallery-'));
  const galleryOptions = { space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 10, retention: { sightingsDays: 30, identitiesDays: 90 } };
  const storeOptions = { path: dir, mapSizeMb: Math.ceil((count * 8 * dimension) / 2 ** 20) + 256 };
  try {
    const store = openStateStore(storeOptions);
    const writer = new Gallery({ store, ...galleryOptions });
    for (let at = 0; at < count; at += 5000) {
      writer.write((tx) => {
        for (let i = at; i < Math.min(count, at + 5000); i++) {
          tx.enrolIdentity({ objectClass: 'person', embedding: prototypes.slice(i * dimension, (i + 1) * dimension), label: `p${i}`, at: 0 });
        }
      });
    }
    writer.close();
    await store.close();
    const reopened = openStateStore(storeOptions);
    const started = performance.now();
    const gallery = new Gallery({ store: reopened, ...galleryOptions });
    const openS = (performance.now() - started) / 1000;
    if (gallery.classSize('person') !== count) throw new Error(`the gallery reopened with ${gallery.classSize('person')} of ${count} identities`);
    const databaseMb = Math.round(storageUsage(reopened, dir).usedBytes / 2 ** 20);
    gallery.close();
    await reopened.close();
    return { openS, databaseMb };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface SizeOptions {
  count: number;
  dimension: number;
  queryCount: number;
  lmdbUpTo: number;
  fullDimensionUpTo: number;
  log: (line: string) => void;
}

async function measureSize({ count, dimension, queryCount, lmdbUpTo, fullDimensionUpTo, log }: SizeOptions): Promise<GallerySearchResult> {
  const { prototypes, queries: makeQueries } = syntheticGallery(count, dimension);
  const lmdb = count <= lmdbUpTo ? await measureLmdbOpen(prototypes, count, dimension) : null;
  if (lmdb) log(`gallery ${count}: opened from LMDB (${lmdb.databaseMb} MiB) in ${lmdb.openS.toFixed(2)} s`);
  const [warmUp, queries] = [makeQueries(WARM_UP), makeQueries(queryCount)];
  const truth = exactTopK(prototypes, queries, dimension);
  const index = new PrototypeIndex(dimension, { annFrom: count });
  const loadStarted = performance.now();
  for (let i = 0; i < count; i++) index.load(`person-${i}`, prototypes.subarray(i * dimension, (i + 1) * dimension));
  const loadS = (performance.now() - loadStarted) / 1000;
  const rssMbLoaded = rssMb();
  const ids = (hits: readonly { id: string }[]) => hits.map((hit) => hit.id);

  const paths: GallerySearchPath[] = [];
  const compare = (path: GallerySearchPath['path'], search: (query: Float32Array) => string[], upTo = queries.length) => {
    const run = timed(warmUp.slice(0, Math.min(WARM_UP, upTo)), queries.slice(0, upTo), search);
    const recallAt10 = recall(run.results, truth);
    paths.push({ path, queries: run.results.length, p50Ms: run.p50Ms, p99Ms: run.p99Ms, recallAt10 });
    log(`gallery ${count}: ${path} p50 ${run.p50Ms.toFixed(2)} ms p99 ${run.p99Ms.toFixed(2)} ms recall@10 ${recallAt10.toFixed(3)} (${run.results.length} queries)`);
  };
  // The JS scan over the float rows: the index's own brute force (the slow reference above 10⁵).
  compare('js-scan', (query) => ids(index.searchExhaustive(query, K)), count > 100_000 ? Math.min(queryCount, 100) : queryCount);
  compare('usearch-exact-f32', (query) => {
    const found = exactSearch(prototypes, query, dimension, K, MetricKind.IP, 1);
    return Array.from(found.keys, (key) => `person-${key}`);
  });
  // A getter TypeScript would narrow across the awaited build below.
  const pathNow = (): string => index.searchPath;
  if (pathNow() !== 'int8-scan') throw new Error(`expected the int8 scan before the graph is built, got ${pathNow()}`);
  compare('int8-scan', (query) => ids(index.search(query, K)));

  log(`gallery ${count}: building the graph (one thread, in the background as the daemon does)`);
  const build = await index.finishLoad();
  if (build === undefined || pathNow() !== 'ann') throw new Error('the graph was not built');
  compare('ann', (query) => ids(index.search(query, K)));
  compare('ann-k256', (query) => ids(index.search(query, 256).slice(0, K)));
  const rssMbWithGraph = rssMb();
  index.dispose();
  let annFullDimensionBuildS: number | null = null;
  if (count <= fullDimensionUpTo) {
    log(`gallery ${count}: building the graph at full dimension, for comparison`);
    const full = new PrototypeIndex(dimension, { annFrom: count, ann: { ...DEFAULT_ANN_SETTINGS, subspaceDimension: dimension } });
    for (let i = 0; i < count; i++) full.load(`person-${i}`, prototypes.subarray(i * dimension, (i + 1) * dimension));
    const fullBuild = await full.finishLoad();
    if (fullBuild === undefined || fullBuild.subspace !== null) throw new Error('the full-dimension graph was not built');
    annFullDimensionBuildS = fullBuild.seconds;
    compare('ann-full-dimension', (query) => ids(full.search(query, K)));
    compare('ann-full-dimension-k256', (query) => ids(full.search(query, 256).slice(0, K)));
    full.dispose();
  }
  return { identities: count, dimension, loadS, annBuildS: build.seconds, annSubspace: build.subspace, annFullDimensionBuildS, rssMbLoaded, rssMbWithGraph, lmdb, paths };
}

export async function measureGallerySearch(options: GallerySearchOptions): Promise<GallerySearchResult[]> {
  const { dimension = 512, queries = 1000, lmdbUpTo = 100_000, fullDimensionUpTo = 100_000, log = () => {} } = options;
  const results: GallerySearchResult[] = [];
  for (const count of options.sizes) results.push(await measureSize({ count, dimension, queryCount: queries, lmdbUpTo, fullDimensionUpTo, log }));
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: { sizes: { type: 'string', default: '10000,100000' }, queries: { type: 'string', default: '1000' }, 'full-dimension-up-to': { type: 'string', default: '100000' } },
  });
  const results = await measureGallerySearch({ sizes: values.sizes.split(',').map(Number), queries: Number(values.queries), fullDimensionUpTo: Number(values['full-dimension-up-to']), log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(results, null, 1)}\n`);
}
