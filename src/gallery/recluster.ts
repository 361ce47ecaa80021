/**
 * Scheduled re-clustering (DESIGN seed 000): identities of one class whose prototypes are
 * at least `mergeThreshold` cosine-similar are linked, and each connected group becomes one
 * identity — single-link clustering, i.e. DBSCAN with minPts 1 and eps = 1 − threshold over
 * cosine distance. Two safeguards an operator expects: identities seen at the same time on
 * one camera (two objects in one view) and two watch-list identities are never joined; links
 * are taken strongest first, so such a conflict blocks the weakest link.
 */
import * as ort from 'onnxruntime-node';
import type { ObjectClass } from '../core/types.js';
import { attr, buildOnnxModel } from '../runtime/onnx-graph.js';
import { normaliseInPlace } from '../core/vectors.js';
import type { SightingRef } from '../match/decision.js';
import type { Gallery } from './gallery.js';
import { bestExemplars, type IdentityRecord } from './records.js';

export interface ReclusterOptions {
  /** Cosine similarity at or above which two prototypes are linked. */
  mergeThreshold: number;
  /** Prototype rows compared so far, out of the total (for a progress bar). */
  onProgress?: (done: number, total: number) => void;
}

export interface IdentityMerge {
  objectClass: ObjectClass;
  /** Surviving id: the watch-list identity if one is in the group, else the oldest. */
  kept: string;
  /** Ids merged into it (now gone). */
  merged: string[];
  /** Sightings moved to the kept identity. */
  movedSightings: number;
}

/** Similarity values per Gram block (rows × identities), bounding the block's memory to 16 MB. */
const BLOCK_VALUES = 4 * 2 ** 20;

interface Group {
  watchlist: boolean;
  spans: Pick<SightingRef, 'cameraId' | 'firstSeenAt' | 'lastSeenAt'>[];
}

export async function recluster(gallery: Gallery, options: ReclusterOptions): Promise<IdentityMerge[]> {
  gallery.refresh();
  const snapshots = gallery.classes().map((objectClass) => ({ objectClass, snapshot: gallery.snapshot(objectClass)! }));
  const total = snapshots.reduce((sum, { snapshot }) => sum + snapshot.ids.length, 0);
  let done = 0;
  const merges: IdentityMerge[] = [];
  for (const { objectClass, snapshot } of snapshots) {
    const links = await similarPairs(snapshot.matrix, snapshot.dimension, options.mergeThreshold, {
      onRows: (rows) => {
        done += rows;
        options.onProgress?.(done, total);
      },
    });
    for (const group of groupsOf(gallery, snapshot.ids, links)) {
      const merge = mergeGroup(gallery, objectClass, group);
      if (merge) merges.push(merge);
    }
  }
  return merges;
}

/**
 * Pairs (i < j) with similarity ≥ threshold, strongest first. The Gram matrix W·Wᵀ is computed
 * by onnxruntime (one thread, off the event loop) in row blocks against the rows after them:
 * about 20× faster than a JS loop at 10k × 512 and the daemon keeps processing frames meanwhile.
 */
export async function similarPairs(
  matrix: Float32Array,
  dimension: number,
  threshold: number,
  options: { onRows?: (rows: number) => void; blockRows?: number } = {},
): Promise<[i: number, j: number, similarity: number][]> {
  const rows = matrix.length / dimension;
  const pairs: [number, number, number][] = [];
  if (rows < 2) {
    options.onRows?.(rows);
    return pairs;
  }
  const session = await gramSession();
  try {
    const blockRows = options.blockRows ?? Math.max(1, Math.min(1024, Math.floor(BLOCK_VALUES / rows)));
    for (let start = 0; start < rows; start += blockRows) {
      const count = Math.min(blockRows, rows - start);
      const rest = rows - start;
      const { s } = await session.run({
        a: new ort.Tensor('float32', matrix.subarray(start * dimension, (start + count) * dimension), [count, dimension]),
        b: new ort.Tensor('float32', matrix.subarray(start * dimension), [rest, dimension]),
      });
      const similarities = s!.data as Float32Array;
      for (let r = 0; r < count; r++) {
        // Row r of the block is identity start + r; column c is identity start + c; keep c > r (i < j).
        for (let c = r + 1; c < rest; c++) {
          const similarity = similarities[r * rest + c]!;
          if (similarity >= threshold) pairs.push([start + r, start + c, similarity]);
        }
      }
      options.onRows?.(count);
    }
  } finally {
    await session.release();
  }
  return pairs.sort((p, q) => q[2] - p[2]);
}

/** S = A·Bᵀ for row blocks of unit prototypes. */
function gramSession(): Promise<ort.InferenceSession> {
  const model = buildOnnxModel({
    name: 'prototype_gram',
    inputs: [
      { name: 'a', type: 'float32', dims: ['m', 'd'] },
      { name: 'b', type: 'float32', dims: ['n', 'd'] },
    ],
    outputs: [{ name: 's', type: 'float32', dims: ['m', 'n'] }],
    nodes: [{ op: 'Gemm', inputs: ['a', 'b'], outputs: ['s'], attributes: { transB: attr.int(1) } }],
  });
  return ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

/** Union-find over the links, refusing a union that would put conflicting identities together. */
function groupsOf(gallery: Gallery, ids: readonly string[], links: readonly [number, number, number][]): string[][] {
  const parent = ids.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const groups = new Map<number, Group>();
  const groupOf = (root: number): Group => {
    let group = groups.get(root);
    if (group === undefined) {
      const id = ids[root]!;
      group = {
        watchlist: gallery.identity(id)?.watchlist ?? false,
        spans: gallery.sightingsOf(id).map(({ cameraId, firstSeenAt, lastSeenAt }) => ({ cameraId, firstSeenAt, lastSeenAt })),
      };
      groups.set(root, group);
    }
    return group;
  };
  for (const [i, j] of links) {
    const [ri, rj] = [find(i), find(j)];
    if (ri === rj) continue;
    const [gi, gj] = [groupOf(ri), groupOf(rj)];
    if (conflict(gi, gj)) continue;
    parent[rj] = ri;
    gi.watchlist ||= gj.watchlist;
    gi.spans.push(...gj.spans);
    groups.delete(rj);
  }
  const members = new Map<number, string[]>();
  ids.forEach((id, i) => {
    const root = find(i);
    const group = members.get(root);
    if (group) group.push(id);
    else members.set(root, [id]);
  });
  return [...members.values()].filter((group) => group.length > 1);
}

function conflict(a: Group, b: Group): boolean {
  if (a.watchlist && b.watchlist) return true;
  return a.spans.some((x) =>
    b.spans.some((y) => x.cameraId === y.cameraId && x.firstSeenAt <= y.lastSeenAt && y.firstSeenAt <= x.lastSeenAt),
  );
}

/** Merges one group in one transaction; identities that vanished meanwhile (forgotten, expired) are skipped. */
function mergeGroup(gallery: Gallery, objectClass: ObjectClass, ids: readonly string[]): IdentityMerge | undefined {
  return gallery.write((tx) => {
    const records = ids.map((id) => tx.readIdentity(id)).filter((record): record is IdentityRecord => record !== undefined);
    if (records.length < 2) return undefined;
    records.sort((a, b) => Number(b.watchlist) - Number(a.watchlist) || a.createdAt - b.createdAt || a.id.localeCompare(b.id));
    const [kept, ...merged] = records as [IdentityRecord, ...IdentityRecord[]];
    let movedSightings = 0;
    for (const record of merged) {
      for (const sighting of gallery.sightingsOf(record.id)) {
        tx.putSighting({ ...sighting, identityId: kept.id }, sighting);
        movedSightings += 1;
      }
      tx.deleteIdentity(record.id);
    }
    tx.putIdentity(mergedRecord(kept, records, gallery.exemplarsPerIdentity));
    return { objectClass, kept: kept.id, merged: merged.map((record) => record.id), movedSightings };
  });
}

/**
 * The union of `records` under `kept`'s id: prototype = count-weighted mean of the
 * prototypes (a never-seen watch-list identity weighs 1), renormalised; the best exemplars
 * of all; counts summed; time span and per-camera latest sightings combined.
 */
export function mergedRecord(kept: IdentityRecord, records: readonly IdentityRecord[], maxExemplars: number): IdentityRecord {
  const prototype = new Float32Array(kept.prototype.length);
  const cameras: IdentityRecord['cameras'] = {};
  let firstSeenAt: number | undefined;
  let lastSeenAt: number | undefined;
  for (const record of records) {
    const weight = Math.max(1, record.count);
    for (let i = 0; i < prototype.length; i++) prototype[i] += weight * record.prototype[i]!;
    for (const [cameraId, sighting] of Object.entries(record.cameras)) {
      if ((cameras[cameraId]?.lastSeenAt ?? -Infinity) < sighting.lastSeenAt) cameras[cameraId] = sighting;
    }
    if (record.firstSeenAt !== undefined) firstSeenAt = Math.min(firstSeenAt ?? Infinity, record.firstSeenAt);
    if (record.lastSeenAt !== undefined) lastSeenAt = Math.max(lastSeenAt ?? -Infinity, record.lastSeenAt);
  }
  normaliseInPlace(prototype);
  const label = kept.label ?? records.find((record) => record.label !== undefined)?.label;
  return {
    ...kept,
    prototype,
    exemplars: bestExemplars(records.flatMap((record) => record.exemplars), maxExemplars),
    count: records.reduce((sum, record) => sum + record.count, 0),
    createdAt: Math.min(...records.map((record) => record.createdAt)),
    ...(firstSeenAt !== undefined ? { firstSeenAt } : {}),
    ...(lastSeenAt !== undefined ? { lastSeenAt } : {}),
    cameras,
    ...(label !== undefined ? { label } : {}),
    watchlist: records.some((record) => record.watchlist),
  };
}
