import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { openAdaptation, type AdapterChange } from '../src/adapt/adaptation.js';
import { adaptSchema } from '../src/config/adapt-schema.js';
import { openStateStore } from '../src/core/state-store.js';
import { CameraCentring } from '../src/features/camera-centring.js';
import { FeatureSpace } from '../src/features/feature-space.js';
import { Gallery } from '../src/gallery/gallery.js';
import { Matcher } from '../src/match/matcher.js';
import { TEST_CLASSES } from './support/matching-fixture.js';
import { syntheticSite } from './support/adaptation-site.js';

async function openSite(t: TestContext) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-adapt-'));
  const store = openStateStore({ path: dir, mapSizeMb: 64 });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const space = new FeatureSpace({
    centring: new CameraCentring({ store, enabled: true, warmupTracks: 1, siteWarmupTracks: 1, windowTracks: 500, clip: 100 }),
    republishDistance: 0,
  });
  const gallery = new Gallery({ store, space, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  const matcher = new Matcher({ gallery, classes: TEST_CLASSES, windowS: 600, sameCamera: { enabled: true, minGapS: 10 }, minTrackQuality: 0.1 });
  const changes: AdapterChange[] = [];
  const open = (config: Record<string, unknown>) =>
    openAdaptation(adaptSchema.parse(config), { store, space, logger: pino({ level: 'silent' }), onChange: (change) => changes.push(change), inWorker: false });
  const tracks = syntheticSite();
  const { trackLog } = open({});
  for (const track of tracks) {
    space.observe(track.cameraId, track.embedding);
    await trackLog.record({
      type: 'end',
      sighting: { cameraId: track.cameraId, trackId: track.trackId, objectClass: 'person', firstSeenAt: track.start, lastSeenAt: track.start + 5000 },
      embedding: track.embedding,
      halves: track.halves,
    });
  }
  // The matcher's similarity of each person's two tracks.
  const similarities = () =>
    Array.from({ length: 60 }, (_, person) => {
      const [a, b] = tracks.filter((track) => track.trackId === person);
      return matcher.trackSimilarity('person', a!, b!);
    });
  return { space, open, changes, similarities, trackLog };
}

test('a run activates a candidate that beats the centred space; a worse candidate is kept inactive; rollback restores the matcher as it was', async (t) => {
  const { open, changes, similarities, trackLog } = await openSite(t);
  assert.equal(trackLog.count, 120);
  const before = similarities();

  const { adaptation } = open({});
  const first = await adaptation.run();
  assert.equal(first.action, 'activated', JSON.stringify(first));
  assert.equal(first.active, 1);
  assert.ok(first.candidate!.score.cameraMixing > first.candidate!.activeScore.cameraMixing);
  const adapted = similarities();
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  assert.ok(mean(adapted) > mean(before) + 0.05, `same-person cross-camera similarity rises: ${mean(before)} -> ${mean(adapted)}`);

  // A candidate that cannot beat the active adapter (it is the plain centred space) is stored, not used.
  const { adaptation: weak } = open({ pair_directions: 0, learning_rate: 1e-9, epochs: 1, steps_per_epoch: 1 });
  weak.sync();
  const second = await weak.run();
  assert.equal(second.action, 'kept');
  assert.equal(second.active, 1);
  assert.equal(second.candidate!.version, 2);
  assert.ok(second.candidate!.score.cameraMixing < second.candidate!.activeScore.cameraMixing);
  assert.deepEqual(similarities(), adapted, 'the matcher still uses version 1');

  const rolled = weak.rollback()!;
  assert.deepEqual({ action: rolled.action, active: rolled.active, previous: rolled.previous }, { action: 'rolled_back', active: 0, previous: 1 });
  assert.deepEqual(similarities(), before, 'rollback restores the matcher exactly');
  assert.equal(weak.rollback(), undefined, 'nothing left to roll back');
  assert.deepEqual(changes.map((change) => change.action), ['activated', 'kept', 'rolled_back']);

  // Another process (the first adaptation object stands for the daemon) follows the store and announces it.
  assert.equal(adaptation.sync(), true);
  assert.deepEqual(changes.at(-1)!.action, 'rolled_back');
  assert.equal(adaptation.status().active, 0);
  assert.deepEqual(adaptation.status().versions.map((v) => [v.version, v.activated]), [[2, false], [1, true]]);
});

test('a run refuses too few logged tracks with a clear error, and changes nothing', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-adapt-'));
  const store = openStateStore({ path: dir, mapSizeMb: 64 });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const space = new FeatureSpace({ centring: new CameraCentring({ store, enabled: true, warmupTracks: 1, siteWarmupTracks: 1, windowTracks: 500, clip: 100 }), republishDistance: 0 });
  const { adaptation } = openAdaptation(adaptSchema.parse({}), { store, space, logger: pino({ level: 'silent' }), inWorker: false });
  await assert.rejects(adaptation.run(), /needs at least 6 logged tracks, has 0/);
  assert.equal(adaptation.status().versions.length, 0);
});
