import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStateStore } from '../src/core/state-store.js';
import { normalised } from '../src/core/vectors.js';
import { CameraCentring, robustUpdate } from '../src/features/camera-centring.js';
import { FeatureSpace } from '../src/features/feature-space.js';
import { median } from '../src/core/statistics.js';
import { ScoreCalibration } from '../src/features/score-calibration.js';
import { Gallery } from '../src/gallery/gallery.js';
import { ResidualAdapter } from '../src/adapt/residual-adapter.js';

const close = (actual: number, expected: number, tolerance = 1e-6) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);
const closeAll = (actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance = 1e-6) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) close(actual[i]!, expected[i]!, tolerance);
};

async function store(t: TestContext) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-features-'));
  const opened = openStateStore({ path: dir, mapSizeMb: 32 });
  t.after(async () => {
    await opened.close();
    await rm(dir, { recursive: true, force: true });
  });
  return opened;
}

const OPTIONS = { enabled: true, warmupTracks: 2, siteWarmupTracks: 3, windowTracks: 4, clip: 2 };

test('robust running mean: plain mean, then clipped steps, then exponential after the window', () => {
  const options = { windowTracks: 3, clip: 2 };
  let stats = robustUpdate(undefined, Float32Array.of(0, 0), options);
  assert.deepEqual([stats.count, Array.from(stats.mean), stats.spread], [1, [0, 0], 0]);
  // Second track at distance 2: not clipped (no typical distance yet), rate 1/2.
  stats = robustUpdate(stats, Float32Array.of(2, 0), options);
  assert.deepEqual([stats.count, Array.from(stats.mean), stats.spread], [2, [1, 0], 1]);
  // Third at distance 9 from [1,0]: clipped to 2 × spread 1 = 2, rate 1/3 → mean [1 + 2/3, 0]; spread 1 + (2 − 1)/3.
  stats = robustUpdate(stats, Float32Array.of(10, 0), options);
  close(stats.mean[0]!, 1 + 2 / 3);
  close(stats.spread, 4 / 3);
  // Fourth: the rate stays 1/window = 1/3 (exponential), distance 1/3 unclipped.
  const fourth = robustUpdate(stats, Float32Array.of(2, 0), options);
  close(fourth.mean[0]!, 1 + 2 / 3 + (1 / 3) * (1 / 3));
  assert.equal(fourth.count, 4);
});

test('camera means start from the site mean and weigh their own tracks n/(n + k); kept in LMDB', async (t) => {
  const db = await store(t);
  const centring = new CameraCentring({ store: db, ...OPTIONS });
  assert.equal(centring.meanOf('A'), undefined, 'nothing seen: nothing subtracted');
  assert.equal(centring.ready, false);
  centring.observe('A', Float32Array.of(1, 0));
  centring.observe('B', Float32Array.of(0, 1));
  centring.observe('B', Float32Array.of(0, 1));
  assert.equal(centring.ready, true, 'three tracks at the site');
  // Site mean of the three tracks: [1/3, 2/3] (running mean, no clipping at distances this even).
  const site = centring.siteMean()!;
  closeAll(site, [1 / 3, 2 / 3]);
  // A: one own track, k = 2 → 1/3 own [1,0] + 2/3 site.
  closeAll(centring.meanOf('A')!, [1 / 3 + (2 / 3) * (1 / 3), (2 / 3) * (2 / 3)]);
  // B: two tracks → half own [0,1], half site.
  closeAll(centring.meanOf('B')!, [0.5 * (1 / 3), 0.5 + 0.5 * (2 / 3)]);
  closeAll(centring.meanOf('enrol')!, site, 0);
  const reopened = new CameraCentring({ store: db, ...OPTIONS });
  assert.deepEqual(Array.from(reopened.meanOf('A')!), Array.from(centring.meanOf('A')!));
  assert.equal(reopened.tracksOf('B'), 2);
  const off = new CameraCentring({ store: db, ...OPTIONS, enabled: false });
  assert.equal(off.meanOf('A'), undefined);
  assert.equal(off.ready, true);
});

test('the feature space projects f − μ_c (renormalised), appearances as Σ − Σ_c W_c μ_c, and republishes only after a move', async (t) => {
  const db = await store(t);
  const centring = new CameraCentring({ store: db, ...OPTIONS, warmupTracks: 1 });
  const space = new FeatureSpace({ centring, republishDistance: 0.1 });
  const v0 = space.version;
  space.observe('A', Float32Array.of(0.6, 0.8, 0));
  assert.equal(space.version, v0 + 1, 'the first statistics are published');
  // Camera A's mean: (1·own + 1·site)/2, both [0.6, 0.8, 0].
  closeAll(space.project('A', Float32Array.of(0, 0, 1)), normalised(Float32Array.of(-0.6, -0.8, 1)));
  closeAll(space.projectAppearance({ sum: Float32Array.of(1, 1, 1), weights: { A: 0.5 } }), [1 - 0.3, 1 - 0.4, 1]);
  // A track close to the mean moves it less than 0.1: same version, same offsets.
  space.observe('A', Float32Array.of(0.62, 0.78, 0));
  assert.equal(space.version, v0 + 1);
  closeAll(space.offset('A')!, [0.6, 0.8, 0]);
});

test('the gallery re-projected incrementally equals one rebuilt from LMDB in the new space', async (t) => {
  const db = await store(t);
  const centring = new CameraCentring({ store: db, ...OPTIONS, warmupTracks: 1 });
  const space = new FeatureSpace({ centring, republishDistance: 0 });
  const gallery = new Gallery({ store: db, space, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  const sighting = (cameraId: string, trackId: number) => ({ cameraId, trackId, objectClass: 'person' as const, firstSeenAt: trackId, lastSeenAt: trackId + 1, pts: 0, box: { x1: 0, y1: 0, x2: 1, y2: 2 }, quality: 0.9 });
  const decision = { eventId: 'e', outcome: 'new-identity' as const, candidates: 0, decidedAt: 1 };
  const id = gallery.write((tx) => {
    const created = tx.createIdentity({ sighting: sighting('A', 1), embedding: normalised(Float32Array.of(1, 0.2, 0)), decision });
    tx.attachSighting(created.id, { sighting: sighting('B', 2), embedding: normalised(Float32Array.of(0.1, 1, 0.3)), decision }, { learn: true });
    return created.id;
  });
  for (const [camera, v] of [['A', [1, 0, 0]], ['B', [0, 1, 0]], ['A', [0.5, 0.5, 0.7]]] as const) {
    space.observe(camera, normalised(Float32Array.from(v)));
    gallery.refresh();
  }
  const incremental = gallery.prototype(id)!;
  const rebuilt = new Gallery({ store: db, space, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } }).prototype(id)!;
  closeAll(incremental, rebuilt, 1e-5);
});

test('with an adapter: queries are normalise(A·(f − μ_c)), the gallery follows offset moves through A and re-projects when the adapter is swapped', async (t) => {
  const db = await store(t);
  const centring = new CameraCentring({ store: db, ...OPTIONS });
  const space = new FeatureSpace({ centring, republishDistance: 0 });
  const gallery = new Gallery({ store: db, space, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  const sighting = (cameraId: string, trackId: number) => ({ cameraId, trackId, objectClass: 'person' as const, firstSeenAt: trackId, lastSeenAt: trackId + 1, pts: 0, box: { x1: 0, y1: 0, x2: 1, y2: 2 }, quality: 0.9 });
  const decision = { eventId: 'e', outcome: 'new-identity' as const, candidates: 0, decidedAt: 1 };
  space.observe('A', normalised(Float32Array.of(1, 0, 0)));
  const id = gallery.write((tx) => {
    const created = tx.createIdentity({ sighting: sighting('A', 1), embedding: normalised(Float32Array.of(1, 0.2, 0)), decision });
    tx.attachSighting(created.id, { sighting: sighting('B', 2), embedding: normalised(Float32Array.of(0.1, 1, 0.3)), decision }, { learn: true });
    return created.id;
  });
  // A: x + u·(vᵀx) with u = (0, 0, 1), v = (1, 0, 0): adds x₀ to the third coordinate.
  const adapter = new ResidualAdapter({ dimension: 3, rank: 1, u: Float32Array.of(0, 0, 1), v: Float32Array.of(1, 0, 0) });
  const before = space.adapterVersion;
  space.useAdapter(adapter);
  assert.equal(space.adapterVersion, before + 1);
  const offset = space.offset('A')!;
  const centred = Float32Array.of(0.3 - offset[0]!, 0.4 - offset[1]!, 0.5 - offset[2]!);
  closeAll(space.project('A', Float32Array.of(0.3, 0.4, 0.5)), normalised(Float32Array.of(centred[0]!, centred[1]!, centred[2]! + centred[0]!)));
  gallery.refresh();
  const rebuilt = () => new Gallery({ store: db, space, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } }).prototype(id)!;
  closeAll(gallery.prototype(id)!, rebuilt(), 1e-5);
  // Offsets move with the adapter on: the incremental shift goes through A.
  for (const [camera, v] of [['B', [0, 1, 0]], ['A', [0.5, 0.5, 0.7]]] as const) {
    space.observe(camera, normalised(Float32Array.from(v)));
    gallery.refresh();
  }
  closeAll(gallery.prototype(id)!, rebuilt(), 1e-5);
  // Rolled back: the prototype is the plain centred one again.
  const adapted = Float32Array.from(gallery.prototype(id)!);
  space.useAdapter(undefined);
  gallery.refresh();
  closeAll(gallery.prototype(id)!, rebuilt(), 1e-5);
  assert.ok(Math.abs(gallery.prototype(id)![2]! - adapted[2]!) > 1e-3, 'the adapter changed the prototype');
  // An adapter of another dimension (trained for another re-ID model) leaves embeddings as they are.
  space.useAdapter(new ResidualAdapter({ dimension: 4, rank: 1, u: new Float32Array(4).fill(1), v: new Float32Array(4).fill(1) }));
  const now = space.offset('A')!;
  closeAll(space.project('A', Float32Array.of(0.3, 0.4, 0.5)), normalised(Float32Array.of(0.3 - now[0]!, 0.4 - now[1]!, 0.5 - now[2]!)));
});

test('pair calibration: (s − m)/(1 − m) with the pair median, its kind standing in until the pair has samples', async (t) => {
  const db = await store(t);
  const calibration = new ScoreCalibration({ store: db, enabled: true, window: 5, minSamples: 3 });
  assert.equal(calibration.calibrate(0.7, 'A', 'B'), 0.7, 'no statistics: as it is');
  calibration.observe('A', 'B', [0.1, 0.3, 0.2]);
  close(calibration.calibrate(0.6, 'B', 'A'), (0.6 - 0.2) / 0.8);
  // A–C has too few samples of its own: the cross-camera kind (A–B and A–C together) stands in.
  calibration.observe('A', 'C', [0.5]);
  close(calibration.level('A', 'C')!, median([0.1, 0.3, 0.2, 0.5]));
  assert.equal(calibration.level('A', 'A'), undefined, 'no same-camera kind yet');
  // The window keeps the last 5 of a pair.
  calibration.observe('A', 'B', [0.9, 0.9, 0.9]);
  close(calibration.level('A', 'B')!, 0.9);
  const reopened = new ScoreCalibration({ store: db, enabled: true, window: 5, minSamples: 3 });
  close(reopened.level('A', 'B')!, 0.9);
  assert.equal(median([3, 1, 2, 4]), 2.5);
});

test('pair calibration under a new adapter: its samples start anew, the version is kept across a restart, the same version keeps them', async (t) => {
  const db = await store(t);
  const options = { store: db, enabled: true, window: 5, minSamples: 3 };
  const calibration = new ScoreCalibration(options);
  calibration.observe('A', 'B', [0.1, 0.3, 0.2]);
  calibration.useAdapterVersion(0);
  close(calibration.level('A', 'B')!, 0.2, 1e-6);
  calibration.useAdapterVersion(2);
  assert.equal(calibration.level('A', 'B'), undefined, 'measured in the old space: dropped');
  calibration.observe('A', 'B', [0.4, 0.5, 0.6]);
  const reopened = new ScoreCalibration(options);
  close(reopened.level('A', 'B')!, 0.5, 1e-6);
  reopened.useAdapterVersion(2);
  close(reopened.level('A', 'B')!, 0.5, 1e-6);
  reopened.useAdapterVersion(0);
  assert.equal(new ScoreCalibration(options).level('A', 'B'), undefined, 'a rollback starts anew too, and it is stored');
});
