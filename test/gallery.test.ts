import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStateStore, type RootDatabase } from '../src/core/state-store.js';
import { normalised } from '../src/core/vectors.js';
import { RAW_SPACE } from '../src/features/feature-space.js';
import { Gallery, type GalleryOptions } from '../src/gallery/gallery.js';
import { recluster } from '../src/gallery/recluster.js';
import { DB_NAMES, sameTrack, type SightingRef, type SightingSpan } from '../src/gallery/records.js';
import { spansCoOccur } from '../src/gallery/co-occurrence.js';
import { randomVectors } from './support/random-vectors.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
const vec = (...values: number[]) => normalised(Float32Array.from(values));
const close = (actual: number | undefined, expected: number, tolerance = 1e-6) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-gallery-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function open(dir: string, options: Partial<GalleryOptions> = {}): { store: RootDatabase; gallery: Gallery } {
  const store = openStateStore({ path: dir, mapSizeMb: 64 });
  const gallery = new Gallery({ store, space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 }, ...options });
  return { store, gallery };
}

async function openTemp(t: TestContext, options: Partial<GalleryOptions> = {}) {
  const opened = open(await tempDir(t), options);
  t.after(() => opened.store.close());
  return opened;
}

interface Seed {
  prototype: Float32Array;
  /** [camera, trackId, first, last] in ms. */
  sightings?: [string, number, number, number][];
  watchlist?: boolean;
  createdAt?: number;
}

function sightingRef(cameraId: string, trackId: number, firstSeenAt: number, lastSeenAt: number): SightingRef {
  return { cameraId, trackId, objectClass: 'person', firstSeenAt, lastSeenAt, pts: 1.5, box: { x1: 1, y1: 2, x2: 3, y2: 4 }, quality: 0.7 };
}

/**
 * Writes an identity with its sightings through the gallery's transaction (the matcher's way);
 * returns its id. One without sightings, or on the watch list, is enrolled.
 */
function seed(gallery: Gallery, { prototype, sightings = [], watchlist = false, createdAt = T0 }: Seed): string {
  return gallery.write((tx) => {
    const refs = sightings.map(([camera, trackId, first, last]) => sightingRef(camera, trackId, first, last));
    const next = (ref: SightingRef, at: number) => ({
      sighting: ref,
      embedding: prototype,
      decision: { eventId: `e-${ref.cameraId}-${ref.trackId}`, outcome: 'new-identity' as const, candidates: 0, decidedAt: at },
    });
    const id =
      watchlist || refs.length === 0
        ? tx.enrolIdentity({ objectClass: 'person', embedding: prototype, label: 'seeded', at: createdAt }).id
        : tx.createIdentity(next(refs.shift()!, createdAt)).id;
    for (const ref of refs) tx.attachSighting(id, next(ref, ref.lastSeenAt), { learn: false });
    return id;
  });
}

test('identity vectors are stored as binary float32 and come back exactly; sightings\' in half precision', async (t) => {
  const { store, gallery } = await openTemp(t);
  const prototype = vec(0.1, 0.2, 0.3, 0.4);
  const id = seed(gallery, { prototype, sightings: [['A', 1, T0, T0 + 5000]] });
  assert.equal(id, 'person-000001');
  const raw = store.openDB({ name: DB_NAMES.identities }).get(id) as { appearance: { sum: unknown }; exemplars: { embedding: unknown }[] };
  assert.ok(raw.appearance.sum instanceof Uint8Array);
  assert.equal((raw.appearance.sum as Uint8Array).byteLength, 16);
  assert.ok(raw.exemplars[0]!.embedding instanceof Uint8Array);
  assert.deepEqual(gallery.readIdentity(id)!.appearance, { sum: prototype, weights: { A: 1 } });
  const storedSighting = store.openDB({ name: DB_NAMES.sightings }).get([T0 + 5000, 'A', 1]) as { embedding: Uint8Array; half?: true };
  assert.equal(storedSighting.half, true);
  assert.equal(storedSighting.embedding.byteLength, 8);
  const sighting = gallery.sightingsOf(id)[0]!.embedding;
  prototype.forEach((value, i) => close(sighting[i], value, 2 ** -11 * value));
  assert.deepEqual(gallery.sightingOfTrack({ cameraId: 'A', trackId: 1, firstSeenAt: T0 })!.identityId, id);
});

test('sightings of 512-dimensional embeddings written mostly in time order fill their pages; one older than the newest is still stored', async (t) => {
  const { gallery } = await openTemp(t);
  const [prototype] = randomVectors(1, 512, 7);
  const empty = gallery.stats().usedBytes;
  const spans = Array.from({ length: 600 }, (_, i): [string, number, number, number] => ['A', i, T0 + i * 1000, T0 + i * 1000 + 500]);
  // Every tenth sighting arrives after the next one (another camera's decision came first).
  for (let i = 10; i < spans.length; i += 10) [spans[i - 1], spans[i]] = [spans[i]!, spans[i - 1]!];
  const id = seed(gallery, { prototype: prototype!, sightings: spans });
  // Float32 (2 KiB and the record's fields) went to an overflow page: 4.2 KiB a sighting with
  // its indexes; half precision put at the end of pages split in half: 2.2 KiB (1.5 appended
  // in order, 1.8 with this disorder).
  const perSighting = (gallery.stats().usedBytes - empty) / 600;
  assert.ok(perSighting < 2000, `${perSighting.toFixed(0)} bytes a sighting`);
  const stored = gallery.sightingsOf(id).map((sighting) => sighting.trackId);
  assert.deepEqual([...stored].sort((a, b) => a - b), spans.map(([, trackId]) => trackId).sort((a, b) => a - b));
});

test('closing and reopening the environment rebuilds the same index: same search results, difficulties, ids', async (t) => {
  const dir = await tempDir(t);
  let state = 42;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const queries = Array.from({ length: 5 }, () => normalised(Float32Array.from({ length: 32 }, random)));

  const first = open(dir);
  for (let i = 0; i < 60; i++) {
    seed(first.gallery, { prototype: normalised(Float32Array.from({ length: 32 }, random)), sightings: [['A', i, T0 + i * 1000, T0 + i * 1000 + 500]] });
  }
  first.gallery.forget('person-000007');
  const before = queries.map((query) => first.gallery.search('person', query, 5));
  const difficulties = ['person-000001', 'person-000030'].map((id) => first.gallery.difficulty(id));
  const summaries = [...first.gallery.identitiesOf('person')].sort((a, b) => a.id.localeCompare(b.id));
  await first.store.close();

  const second = open(dir);
  t.after(() => second.store.close());
  assert.equal(second.gallery.identityCount, 59);
  assert.deepEqual(
    queries.map((query) => second.gallery.search('person', query, 5)),
    before,
  );
  assert.deepEqual(['person-000001', 'person-000030'].map((id) => second.gallery.difficulty(id)), difficulties);
  assert.deepEqual([...second.gallery.identitiesOf('person')].sort((a, b) => a.id.localeCompare(b.id)), summaries);
  assert.equal(seed(second.gallery, { prototype: queries[0]! }), 'person-000061', 'the id counter survives');
});

test('a throw inside a write leaves no partial record and the index untouched', async (t) => {
  const { gallery } = await openTemp(t);
  const kept = seed(gallery, { prototype: vec(1, 0), sightings: [['A', 1, T0, T0 + 1000]] });
  assert.throws(() =>
    gallery.write((tx) => {
      const decision = { eventId: 'e9', outcome: 'matched' as const, candidates: 1, decidedAt: T0 };
      tx.attachSighting(kept, { sighting: sightingRef('B', 9, T0, T0 + 1000), embedding: vec(0, 1), decision }, { learn: true });
      tx.createIdentity({ sighting: sightingRef('C', 3, T0, T0 + 1000), embedding: vec(0, 1), decision });
      throw new Error('power cut');
    }),
  /power cut/);
  assert.deepEqual(Array.from(gallery.readIdentity(kept)!.appearance.sum), [1, 0]);
  assert.equal(gallery.readIdentity(kept)!.count, 1);
  assert.deepEqual(Array.from(gallery.prototype(kept)!), [1, 0]);
  assert.equal(gallery.stats().sightings, 1);
  assert.equal(gallery.sightingOfTrack({ cameraId: 'B', trackId: 9, firstSeenAt: T0 }), undefined);
  assert.equal(seed(gallery, { prototype: vec(0, 1) }), 'person-000002');
});

test('retention deletes old sightings and long-unseen identities in batches, never watch-list ones', async (t) => {
  const { gallery } = await openTemp(t, { retentionBatch: 2 });
  const now = T0 + 200 * DAY;
  // sightings_days 30, identities_days 90
  const recent = seed(gallery, { prototype: vec(1, 0, 0), sightings: [['A', 1, now - 40 * DAY, now - 40 * DAY], ['B', 2, now - DAY, now - DAY]] });
  const faded = seed(gallery, { prototype: vec(0, 1, 0), sightings: [['A', 3, now - 95 * DAY, now - 95 * DAY], ['B', 4, now - 31 * DAY, now - 31 * DAY]] });
  const gone = seed(gallery, { prototype: vec(0, 0, 1), sightings: [['A', 5, now - 100 * DAY, now - 100 * DAY]] });
  const enrolled = seed(gallery, { prototype: vec(1, 1, 0), watchlist: true, createdAt: now - 150 * DAY });
  const oldWatched = seed(gallery, { prototype: vec(1, 0, 1), watchlist: true, sightings: [['C', 6, now - 120 * DAY, now - 120 * DAY]] });
  assert.equal(gallery.stats().sightings, 6);

  // Sightings older than 30 days: tracks 1, 3, 4, 5, 6 (5). Identities older than 90 days: faded? no (31 days), gone (1).
  const first = gallery.applyRetention(now);
  assert.deepEqual({ sightings: first.sightings, identities: first.identities }, { sightings: 5, identities: 1 });
  // Every deleted sighting's track is named, for its snapshots.
  assert.equal(first.removedTracks.length, 5);
  assert.ok(first.removedTracks.every((track) => typeof track.cameraId === 'string' && Number.isInteger(track.trackId) && track.firstSeenAt > 0));
  assert.deepEqual(
    [recent, faded, gone, enrolled, oldWatched].map((id) => gallery.identity(id) !== undefined),
    [true, true, false, true, true],
  );
  assert.equal(gallery.stats().sightings, 1);
  assert.equal(gallery.sightingsOf(recent)[0]!.trackId, 2);
  assert.equal(gallery.sightingOfTrack({ cameraId: 'A', trackId: 1, firstSeenAt: now - 40 * DAY }), undefined);
  assert.equal(gallery.readIdentity(gone), undefined);
  assert.deepEqual(gallery.search('person', vec(0, 0, 1), 5).map((hit) => hit.id).includes(gone), false);
  assert.deepEqual(gallery.applyRetention(now), { sightings: 0, identities: 0, removedTracks: [] });
  // 60 days on: recent's last sighting passes 30 days; faded (last seen 91 days before) expires, its sightings went already.
  assert.equal(gallery.applyRetention(now + 60 * DAY).identities, 1);
  assert.deepEqual([recent, faded].map((id) => gallery.identity(id) !== undefined), [true, false]);
});

test('forget removes the identity, its sightings and its index entry; an unknown id is reported', async (t) => {
  const { gallery } = await openTemp(t);
  const target = seed(gallery, { prototype: vec(1, 0), sightings: [['A', 1, T0, T0 + 1], ['B', 2, T0 + 5, T0 + 9]] });
  const other = seed(gallery, { prototype: vec(0, 1), sightings: [['A', 3, T0, T0 + 1]] });
  assert.deepEqual(gallery.forget(target), { sightings: 2 });
  assert.equal(gallery.identity(target), undefined);
  assert.equal(gallery.readIdentity(target), undefined);
  assert.deepEqual(gallery.search('person', vec(1, 0), 5).map((hit) => hit.id), [other]);
  assert.equal(gallery.stats().sightings, 1);
  assert.equal(gallery.forget('person-999999'), undefined);
});

test('a gallery reloads when another process wrote to it (e.g. the CLI forgot an identity)', async (t) => {
  const dir = await tempDir(t);
  const daemon = open(dir);
  t.after(() => daemon.store.close());
  const id = seed(daemon.gallery, { prototype: vec(1, 0), sightings: [['A', 1, T0, T0 + 1]] });
  const cli = new Gallery({ store: daemon.store, space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  assert.deepEqual(cli.forget(id), { sightings: 1 });
  assert.equal(daemon.gallery.identity(id)?.id, id, 'stale until refreshed');
  assert.equal(daemon.gallery.refresh(), true);
  assert.equal(daemon.gallery.identity(id), undefined);
  assert.equal(daemon.gallery.refresh(), false);

  // A write of its own also notices the other writer (and reloads rather than patching a stale index).
  const second = seed(daemon.gallery, { prototype: vec(0, 1) });
  assert.deepEqual(cli.forget(second), { sightings: 0 });
  const third = seed(daemon.gallery, { prototype: vec(1, 1) });
  assert.deepEqual([...daemon.gallery.identitiesOf('person')].map((summary) => summary.id), [third]);
});

test('recluster merges two split identities into the older one, moving sightings and averaging prototypes by count', async (t) => {
  const { gallery } = await openTemp(t);
  const older = seed(gallery, { prototype: vec(1, 0, 0), createdAt: T0, sightings: [['A', 1, T0, T0 + 10_000], ['B', 2, T0 + 50_000, T0 + 60_000]] });
  const split = seed(gallery, { prototype: vec(0.96, 0.28, 0), createdAt: T0 + 100_000, sightings: [['C', 3, T0 + 100_000, T0 + 110_000]] });
  const distinct = seed(gallery, { prototype: vec(0, 1, 0), sightings: [['A', 4, T0 + 200_000, T0 + 210_000]] });
  const progress: number[] = [];
  const planned = await recluster(gallery, { mergeThreshold: 0.9, dryRun: true });
  assert.deepEqual(planned.map(({ kept, merged, movedSightings }) => ({ kept, merged, movedSightings })), [{ kept: older, merged: [split], movedSightings: 1 }]);
  assert.ok(gallery.identity(split), 'a dry run changes nothing');
  const merges = await recluster(gallery, { mergeThreshold: 0.9, now: () => T0 + DAY, onProgress: (done) => progress.push(done) });
  // cos([1,0,0], [0.96,0.28,0]) = 0.96: the group's weakest link.
  assert.equal(merges.length, 1);
  close(merges[0]!.similarity, 0.96);
  assert.deepEqual({ ...merges[0]!, similarity: 0 }, { objectClass: 'person', kept: older, merged: [split], similarity: 0, reason: 'scheduled', movedSightings: 1, at: T0 + DAY });
  assert.deepEqual([...gallery.merges()], merges, 'the merge is recorded');
  assert.equal(progress.at(-1), 3);

  assert.equal(gallery.identity(split), undefined);
  assert.ok(gallery.identity(distinct));
  const merged = gallery.readIdentity(older)!;
  // (2·[1,0,0] + 1·[0.96,0.28,0]) / ‖·‖ = [2.96, 0.28, 0] / 2.97321375
  const prototype = gallery.prototype(older)!;
  close(prototype[0], 0.9955557351145424);
  close(prototype[1], 0.09417419115948375);
  assert.equal(merged.count, 3);
  assert.deepEqual(Object.keys(merged.cameras).sort(), ['A', 'B', 'C']);
  assert.equal(merged.lastSeenAt, T0 + 110_000);
  assert.equal(merged.exemplars.length, 2);
  assert.deepEqual(gallery.sightingsOf(older).map((s) => s.trackId).sort(), [1, 2, 3]);
  assert.equal(gallery.sightingOfTrack({ cameraId: 'C', trackId: 3, firstSeenAt: T0 + 100_000 })!.identityId, older);
  assert.deepEqual(await recluster(gallery, { mergeThreshold: 0.9 }), [], 'nothing left to merge');
});

test('co-occurrence: two identities seen by different tracks of one camera at overlapping times are two people', async (t) => {
  const { gallery } = await openTemp(t);
  const walker = seed(gallery, { prototype: vec(1, 0), sightings: [['A', 1, T0, T0 + 5000], ['B', 2, T0 + 20_000, T0 + 25_000]] });
  const alongside = seed(gallery, { prototype: vec(0, 1), sightings: [['A', 3, T0 + 4000, T0 + 9000]] });
  const elsewhere = seed(gallery, { prototype: vec(0, 1), sightings: [['C', 4, T0, T0 + 5000], ['A', 5, T0 + 6000, T0 + 8000]] });
  const later = seed(gallery, { prototype: vec(0, 1), sightings: [['B', 6, T0 + 25_001, T0 + 30_000]] });
  assert.deepEqual(
    [gallery.coOccur(walker, alongside), gallery.coOccur(alongside, walker), gallery.coOccur(walker, elsewhere), gallery.coOccur(walker, later), gallery.coOccur(alongside, elsewhere)],
    [true, true, false, false, true],
  );
});

test('spans come from the identity index; an index written before it carried them reads them from the sightings', async (t) => {
  const { store, gallery } = await openTemp(t);
  const id = seed(gallery, { prototype: vec(1, 0), sightings: [['A', 1, T0, T0 + 5000], ['B', 2, T0 + 20_000, T0 + 25_000]] });
  const expected = [
    { cameraId: 'A', trackId: 1, firstSeenAt: T0, lastSeenAt: T0 + 5000 },
    { cameraId: 'B', trackId: 2, firstSeenAt: T0 + 20_000, lastSeenAt: T0 + 25_000 },
  ];
  assert.deepEqual(gallery.spansOf(id), expected);
  const index = store.openDB({ name: DB_NAMES.sightingsByIdentity });
  assert.deepEqual(index.get([id, T0 + 5000, 'A', 1]), { firstSeenAt: T0 });
  // The sighting records are not read: a span survives its record's loss.
  store.openDB({ name: DB_NAMES.sightings }).removeSync([T0 + 5000, 'A', 1]);
  assert.deepEqual(gallery.spansOf(id), expected);
  // Before 2026-12-07 the index held 1: the first-seen time comes from the record (gone for A#1 here).
  index.putSync([id, T0 + 5000, 'A', 1], 1);
  index.putSync([id, T0 + 25_000, 'B', 2], 1);
  assert.deepEqual(gallery.spansOf(id), [expected[1]]);
});

test('recluster never joins identities seen together on one camera, nor two watch-list identities', async (t) => {
  const { gallery } = await openTemp(t);
  const a = seed(gallery, { prototype: vec(1, 0, 0), sightings: [['A', 1, T0, T0 + 10_000]] });
  seed(gallery, { prototype: vec(0.99, 0.14, 0), sightings: [['A', 2, T0 + 5000, T0 + 15_000]] });
  seed(gallery, { prototype: vec(0, 1, 0), watchlist: true, createdAt: T0 + 1 });
  seed(gallery, { prototype: vec(0, 0.99, 0.14), watchlist: true, createdAt: T0 + 2 });
  const late = seed(gallery, { prototype: vec(0.98, 0, 0.2), sightings: [['B', 5, T0 + 100_000, T0 + 110_000]] });
  const merges = (await recluster(gallery, { mergeThreshold: 0.9 })).map(({ kept, merged, movedSightings }) => ({ kept, merged, movedSightings }));
  // a–b (0.99, the strongest link) overlap on camera A: refused. a–late (0.98) joins. b–late (0.97) is then
  // refused too, since b conflicts with a in that group. The two watch-list identities stay apart.
  assert.deepEqual(merges, [{ kept: a, merged: [late], movedSightings: 1 }]);
  assert.equal(gallery.identityCount, 4);
});

test('recluster keeps the watch-list identity of a group, with its label', async (t) => {
  const { gallery } = await openTemp(t);
  const seen = seed(gallery, { prototype: vec(1, 0), createdAt: T0, sightings: [['A', 1, T0, T0 + 1000]] });
  const watched = gallery.write((tx) => tx.enrolIdentity({ objectClass: 'person', embedding: vec(0.99, 0.1), label: 'vip', at: T0 + 5 }).id);
  const [merge] = await recluster(gallery, { mergeThreshold: 0.9 });
  assert.deepEqual([merge!.kept, merge!.merged, merge!.movedSightings], [watched, [seen], 1]);
  const record = gallery.readIdentity(watched)!;
  assert.equal(record.label, 'vip');
  assert.equal(record.watchlist, true);
  assert.equal(record.count, 1);
  assert.equal(record.createdAt, T0);
});

test('a class past search.annFrom gets its graph when the gallery opens; the graph follows forgets and agrees with brute force', async (t) => {
  const dir = await tempDir(t);
  const first = open(dir);
  const ids = first.gallery.write((tx) =>
    randomVectors(1100, 16, 5).map((embedding, i) => tx.enrolIdentity({ objectClass: 'person', embedding, label: `p${i}`, at: T0 }).id),
  );
  first.gallery.close();
  await first.store.close();

  const built: { objectClass: string; vectors: number }[] = [];
  let resolveBuilt: () => void;
  const graphBuilt = new Promise<void>((resolve) => (resolveBuilt = resolve));
  const { store, gallery } = open(dir, {
    search: { annFrom: 1000, onAnnBuilt: (objectClass, { vectors }) => (built.push({ objectClass, vectors }), resolveBuilt()), onAnnFailed: (_, error) => assert.fail(error) },
  });
  t.after(() => (gallery.close(), store.close()));
  await graphBuilt;
  assert.deepEqual(built, [{ objectClass: 'person', vectors: 1100 }]);

  const bruteForce = (query: Float32Array, k: number) => {
    const { ids: all, similarities } = gallery.similarities('person', query);
    return [...all.keys()].sort((a, b) => similarities[b]! - similarities[a]!).slice(0, k).map((i) => all[i]!);
  };
  gallery.forget(ids[3]!);
  let found = 0;
  const queries = randomVectors(50, 16, 9);
  for (const query of queries) {
    const hits = gallery.search('person', query, 10).map((hit) => hit.id);
    assert.ok(!hits.includes(ids[3]!), 'a forgotten identity is not found');
    const truth = new Set(bruteForce(query, 10));
    found += hits.filter((id) => truth.has(id)).length;
  }
  assert.ok(found / (10 * queries.length) >= 0.97, `recall@10 ${found / (10 * queries.length)}`);
});

test('co-occurrence by sorted sweep agrees with comparing every pair of spans, same tracks and touching ends included', () => {
  const everyPair = (a: SightingSpan[], b: SightingSpan[]) =>
    a.some((x) => b.some((y) => x.cameraId === y.cameraId && !sameTrack(x, y) && x.firstSeenAt <= y.lastSeenAt && y.firstSeenAt <= x.lastSeenAt));
  let state = 12345;
  const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31) % n);
  // few cameras, few track ids and first-seen times on a coarse grid, so same tracks, shared ends and nested spans all occur
  const spans = () =>
    Array.from({ length: random(7) }, () => {
      const firstSeenAt = random(20) * 10;
      return { cameraId: ['A', 'B'][random(2)]!, trackId: random(3), firstSeenAt, lastSeenAt: firstSeenAt + random(4) * 10 };
    });
  const outcomes = { true: 0, false: 0 };
  for (let trial = 0; trial < 5000; trial++) {
    const a = spans();
    const b = spans();
    const expected = everyPair(a, b);
    assert.equal(spansCoOccur(a, b), expected, JSON.stringify({ a, b }));
    assert.equal(spansCoOccur(b, a), expected, JSON.stringify({ a: b, b: a }));
    outcomes[`${expected}`] += 1;
  }
  assert.ok(outcomes.true > 500 && outcomes.false > 500, `both answers exercised: ${JSON.stringify(outcomes)}`);
  // the same track in both identities never counts; another track overlapping it does
  const track = { cameraId: 'A', trackId: 1, firstSeenAt: 0, lastSeenAt: 100 };
  assert.equal(spansCoOccur([track], [{ ...track }]), false);
  assert.equal(spansCoOccur([track], [{ ...track }, { cameraId: 'A', trackId: 2, firstSeenAt: 100, lastSeenAt: 120 }]), true);
});
