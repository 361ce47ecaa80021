import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAdapterFile } from '../src/adapt/adapter-file.js';
import { AdaptationTrackLog } from '../src/adapt/track-log.js';
import { ExitCode } from '../src/core/exit-codes.js';
import { openStateStore, type RootDatabase } from '../src/core/state-store.js';
import { vectorBytes } from '../src/core/vectors.js';
import { CameraCentring } from '../src/features/camera-centring.js';
import { syntheticSite } from './support/adaptation-site.js';

const MAIN = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..'), 'dist/src/cli/main.js');

test('crosscam adapt status | run | rollback on a daemon\'s store: the candidate is activated, rolled back, and a second rollback is refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-adapt-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const gallery = path.join(dir, 'gallery');
  // What a daemon leaves: camera statistics and the logged tracks.
  const store = openStateStore({ path: gallery, mapSizeMb: 64 });
  const centring = new CameraCentring({ store, enabled: true, warmupTracks: 10, siteWarmupTracks: 10, windowTracks: 500, clip: 2.5 });
  const log = new AdaptationTrackLog({ store, maxTracks: 2000, objectClass: 'person' });
  for (const track of syntheticSite()) {
    centring.observe(track.cameraId, track.embedding);
    await log.record({ type: 'end', sighting: { cameraId: track.cameraId, trackId: track.trackId, objectClass: 'person', firstSeenAt: track.start, lastSeenAt: track.start + 5000 }, embedding: track.embedding, halves: track.halves });
  }
  await store.close();
  const config = path.join(dir, 'crosscam.yaml');
  await writeFile(config, `cameras: [{id: A, url: /v.mp4}, {id: B, url: /w.mp4}]\ngallery: {path: ${JSON.stringify(gallery)}, map_size_mb: 64}\n`);
  const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, 'adapt', ...args, '--config', config], { encoding: 'utf8' });

  const before = JSON.parse(cli('status', '--json').stdout);
  assert.deepEqual({ active: before.active, loggedTracks: before.loggedTracks, versions: before.versions.length }, { active: 0, loggedTracks: 120, versions: 0 });

  const run = cli('run');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^activated: active adapter version 1 \(was none \(centred space\)\)/);
  assert.match(run.stdout, /candidate version 1: camera mixing [\d.]+, self-consistency [\d.]+, pair agreement [\d.]+/);
  const after = JSON.parse(cli('status', '--json').stdout);
  assert.equal(after.active, 1);
  assert.equal(after.versions[0].activated, true);

  const rollback = JSON.parse(cli('rollback', '--json').stdout);
  assert.deepEqual({ action: rollback.action, active: rollback.active, previous: rollback.previous }, { action: 'rolled_back', active: 0, previous: 1 });
  const again = cli('rollback');
  assert.equal(again.status, ExitCode.DATA);
  assert.match(again.stderr, /no adapter is active: nothing to roll back/);

  const missing = spawnSync(process.execPath, [MAIN, 'adapt', 'status', '--config', path.join(dir, 'nowhere.yaml')], { encoding: 'utf8' });
  assert.notEqual(missing.status, 0);
});

/** A track log of at most 150 person tracks in a temporary store, closed and removed after the test. */
async function openTrackLog(t: TestContext): Promise<{ store: RootDatabase; log: AdaptationTrackLog }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-track-log-'));
  const store = openStateStore({ path: dir, mapSizeMb: 64 });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { store, log: new AdaptationTrackLog({ store, maxTracks: 150, objectClass: 'person' }) };
}

test('the track log keeps ended person tracks only, trims itself to its bound as it records, and returns the most recent oldest first', async (t) => {
  const { log } = await openTrackLog(t);
  const embedding = Float32Array.of(1, 0);
  const event = (i: number, type = 'end', objectClass = 'person') => ({ type, sighting: { cameraId: 'A', trackId: i, objectClass, firstSeenAt: i * 10, lastSeenAt: i * 10 + 5 }, embedding });
  await log.record(event(-1, 'update'));
  await log.record(event(-2, 'end', 'car'));
  assert.equal(log.count, 0);
  for (let i = 0; i < 200; i++) await log.record(event(i));
  // Trimmed at the 200th record: the 50 oldest are gone.
  assert.equal(log.count, 150);
  const recent = log.recent(3);
  assert.deepEqual(recent.map((track) => track.key), ['A#197@1970', 'A#198@1980', 'A#199@1990']);
  assert.deepEqual([...recent[0]!.embedding], [1, 0]);
});

test('the track log keeps vectors in half precision and still reads tracks it logged in float32', async (t) => {
  const { store, log } = await openTrackLog(t);
  const sighting = { cameraId: 'A', trackId: 1, objectClass: 'person', firstSeenAt: 10, lastSeenAt: 20 };
  await log.record({ type: 'end', sighting, embedding: Float32Array.of(0.6, 0.8), halves: [Float32Array.of(0.8, 0.6), Float32Array.of(0, 1)] });
  const raw = store.openDB({ name: 'adapt-tracks' }).get([20, 'A#1@10']) as { embedding: Uint8Array; half?: true };
  assert.deepEqual({ half: raw.half, bytes: raw.embedding.byteLength }, { half: true, bytes: 4 });
  // What a daemon logged before half precision (float32 bytes, no flag).
  await store.openDB({ name: 'adapt-tracks' }).put([30, 'A#2@25'], { key: 'A#2@25', cameraId: 'A', startMs: 25, endMs: 30, embedding: vectorBytes(Float32Array.of(0.6, 0.8)) });
  const [half, legacy] = log.recent();
  assert.deepEqual([...half!.embedding, ...half!.halves!.flatMap((vector) => [...vector])], [0.60009765625, 0.7998046875, 0.7998046875, 0.60009765625, 0, 1]);
  assert.deepEqual({ ...legacy!, embedding: [...legacy!.embedding] }, { key: 'A#2@25', cameraId: 'A', startMs: 25, endMs: 30, embedding: [0.6000000238418579, 0.800000011920929] });
});

test('crosscam adapt train: an adapter from an eval recording\'s unlabelled tracks, judged on its held-out slice; too few tracks are refused', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-adapt-train-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const events = syntheticSite().map((track) => ({
    at: track.start + 5000,
    kind: 'track',
    event: {
      type: 'end',
      sighting: { cameraId: track.cameraId, trackId: track.trackId, objectClass: 'person', firstSeenAt: track.start, lastSeenAt: track.start + 5000 },
      zones: [],
      at: track.start + 5000,
      embedding: [...track.embedding],
      halves: track.halves.map((half) => [...half]),
    },
  }));
  const recording = (list: unknown[]) => JSON.stringify({ format: 'crosscam-tracks/1', cameras: [], sourceFps: 10, step: 2, decoded: 0, processedFrames: [], observations: [], events: list });
  await writeFile(path.join(dir, 'tracks.json'), recording(events));
  const out = path.join(dir, 'adapter.json');
  const run = spawnSync(process.execPath, [MAIN, 'adapt', 'train', '--from-tracks', path.join(dir, 'tracks.json'), '--out', out, '--json'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.deepEqual(summary.tracks, { training: summary.tracks.training, heldOut: 120 - summary.tracks.training });
  assert.equal(summary.beatsBaseline, true, 'the synthetic shift is what the adapter removes');
  assert.match(run.stderr, /^epoch 1\/3: loss /m);
  const { adapter, document } = await loadAdapterFile(out);
  assert.deepEqual({ dimension: adapter.dimension, rank: adapter.rank }, { dimension: 16, rank: 4 });
  assert.deepEqual(document.score, summary.candidate);

  await writeFile(path.join(dir, 'few.json'), recording(events.slice(0, 4)));
  const few = spawnSync(process.execPath, [MAIN, 'adapt', 'train', '--from-tracks', path.join(dir, 'few.json'), '--out', out], { encoding: 'utf8' });
  assert.equal(few.status, ExitCode.DATA);
  assert.match(few.stderr, /holds 4 tracks with an embedding: too few/);
});
