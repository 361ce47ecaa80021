import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerGalleryCommand } from '../src/cli/gallery-command.js';
import { ExitCode } from '../src/core/exit-codes.js';
import { OperatorError } from '../src/core/operator-error.js';
import { openStateStore } from '../src/core/state-store.js';
import { OBJECT_CLASSES, type ObjectClass } from '../src/core/types.js';
import { normalised } from '../src/core/vectors.js';
import { RAW_SPACE } from '../src/features/feature-space.js';
import { Gallery } from '../src/gallery/gallery.js';
import { Matcher, type ClassMatchingOptions, type MatchableTrack } from '../src/match/matcher.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'dist/src/cli/main.js');
const T0 = Date.UTC(2024, 0, 1);
const vec = (...values: number[]) => normalised(Float32Array.from(values));

function track(cameraId: string, trackId: number, firstS: number, embedding: Float32Array): MatchableTrack {
  return {
    cameraId,
    trackId,
    objectClass: 'person',
    firstSeenAt: T0 + firstS * 1000,
    lastSeenAt: T0 + (firstS + 10) * 1000,
    embedding,
    quality: 0.9,
    bestCrop: { pts: firstS, box: { x1: 1, y1: 2, x2: 30, y2: 80 } },
  };
}

/** A gallery with: person-000001 (A then B), person-000002 (C), person-000003 split from 1 (D), a watch-list car. */
async function makeGallery(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-gallery-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = openStateStore({ path: dir, mapSizeMb: 64 });
  const gallery = new Gallery({ store, space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  const classes = Object.fromEntries(OBJECT_CLASSES.map((name) => [name, { threshold: 0.9, minMargin: 0.05 }]));
  const matcher = new Matcher({
    gallery,
    classes: classes as Record<ObjectClass, ClassMatchingOptions>,
    windowS: 600,
    sameCamera: { enabled: true, minGapS: 10 },
    minTrackQuality: 0.3,
  });
  matcher.decide(track('A', 1, 0, vec(1, 0, 0)));
  matcher.decide(track('B', 1, 20, vec(1, 0, 0)));
  matcher.decide(track('C', 1, 40, vec(0, 1, 0)));
  matcher.decide(track('D', 1, 60, vec(0.85, 0.5, 0))); // 0.86 < 0.9: a split identity
  matcher.enrol({ objectClass: 'car', embedding: vec(0, 0, 1), label: 'stolen van' });
  await store.close();
  return dir;
}

async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const program = new Command('crosscam').exitOverride();
  registerGalleryCommand(program, { stdout, stderr });
  await program.parseAsync(['gallery', ...args], { from: 'user' });
  return { stdout: out, stderr: err };
}

test('gallery stats: identities per class, sightings, oldest/newest, size', async (t) => {
  const dir = await makeGallery(t);
  const { stdout } = await run(['stats', '--gallery', dir, '--json']);
  const stats = JSON.parse(stdout);
  assert.deepEqual(stats.classes, { person: { identities: 3, watchlist: 0 }, car: { identities: 1, watchlist: 1 } });
  assert.equal(stats.identities, 4);
  assert.equal(stats.sightings, 4);
  assert.equal(stats.oldest_sighting, new Date(T0 + 10_000).toISOString());
  assert.equal(stats.newest_sighting, new Date(T0 + 70_000).toISOString());
  assert.ok(stats.file_bytes > 0 && stats.gallery_bytes > 0);
  const text = await run(['stats', '--gallery', dir]);
  assert.match(text.stdout, /identities: 4 — person 3, car 1 \(1 on the watch list\)/);
  assert.match(text.stdout, /sightings: 4/);
});

test('gallery export writes JSON lines, vectors only with --vectors', async (t) => {
  const dir = await makeGallery(t);
  const { stdout } = await run(['export', '--gallery', dir]);
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.filter((line) => line.type === 'identity').length, 4);
  assert.equal(lines.filter((line) => line.type === 'sighting').length, 4);
  const first = lines.find((line) => line.type === 'identity' && line.identity === 'person-000001');
  assert.equal(first.sightings, 2);
  assert.deepEqual(first.cameras.map((camera: { camera: string }) => camera.camera), ['A', 'B']);
  assert.equal(first.appearance, undefined);
  const van = lines.find((line) => line.type === 'identity' && line.class === 'car');
  assert.equal(van.label, 'stolen van');
  const sighting = lines.find((line) => line.type === 'sighting' && line.camera === 'B');
  assert.deepEqual(
    { identity: sighting.identity, outcome: sighting.outcome, box: sighting.box, pts: sighting.pts },
    { identity: 'person-000001', outcome: 'matched', box: [1, 2, 30, 80], pts: 20 },
  );

  const file = path.join(dir, 'export.jsonl');
  await run(['export', '--gallery', dir, '--vectors', '--out', file]);
  const withVectors = (await readFile(file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(withVectors.find((line) => line.type === 'identity' && line.identity === 'person-000002').appearance.sum.length, 3);
  assert.equal(withVectors.find((line) => line.type === 'sighting').embedding.length, 3);
});

test('gallery forget removes an identity and its sightings; an unknown id is an operator error', async (t) => {
  const dir = await makeGallery(t);
  const { stdout } = await run(['forget', 'person-000001', '--gallery', dir]);
  assert.equal(stdout, 'forgot person-000001 and its 2 sightings\n');
  const stats = JSON.parse((await run(['stats', '--gallery', dir, '--json'])).stdout);
  assert.equal(stats.identities, 3);
  assert.equal(stats.sightings, 2);
  await assert.rejects(run(['forget', 'person-000001', '--gallery', dir]), (error: unknown) => {
    assert.ok(error instanceof OperatorError);
    assert.equal(error.exitCode, ExitCode.FAILURE);
    assert.match(error.message, /no identity "person-000001" in the gallery at/);
    return true;
  });
});

test('gallery recluster merges the split identity at the given threshold', async (t) => {
  const dir = await makeGallery(t);
  const dryRun = await run(['recluster', '--gallery', dir, '--threshold', '0.85', '--dry-run']);
  assert.match(dryRun.stdout, /would merge person-000003 into person-000001 \(similarity 0\.862, 1 sightings\)/);
  assert.match(dryRun.stdout, /dry run: nothing changed/);
  const strict = await run(['recluster', '--gallery', dir, '--threshold', '0.9']);
  assert.match(strict.stdout, /similarity ≥ 0\.9: 0 merges/, 'cos 0.862 stays apart at 0.9');
  const merged = await run(['recluster', '--gallery', dir]);
  assert.match(merged.stdout, /similarity ≥ 0\.6: 1 merge/, "default: the config's matching.merge_threshold 0.6; cos 0.862 merges, cos 0.507 does not");
  assert.match(merged.stdout, /merged person-000003 into person-000001 \(similarity 0\.862, 1 sightings\)/);
  const again = await run(['recluster', '--gallery', dir, '--threshold', '0.5']);
  // The merged prototype (2·A + 1·D, by count) is at 0.174 from C.
  assert.match(again.stdout, /0 merges/);
});

test('gallery commands take the gallery from --config and refuse a directory without one', async (t) => {
  const dir = await makeGallery(t);
  const config = path.join(dir, 'crosscam.yaml');
  await writeFile(config, `cameras: [{id: a, url: /v.mp4}]\ngallery: {path: ${JSON.stringify(dir)}, map_size_mb: 64}\n`);
  const stats = JSON.parse((await run(['stats', '--config', config, '--json'])).stdout);
  assert.equal(stats.path, dir);
  await assert.rejects(run(['stats', '--gallery', path.join(dir, 'nowhere')]), (error: unknown) => {
    assert.ok(error instanceof OperatorError);
    assert.equal(error.exitCode, ExitCode.NO_INPUT);
    return true;
  });
  await assert.rejects(run(['stats']), /exactly one of --config FILE or --gallery DIR/);
});

test('crosscam gallery forget with an unknown id exits 1 with a clear message', async (t) => {
  const dir = await makeGallery(t);
  const result = spawnSync(process.execPath, [MAIN, 'gallery', 'forget', 'person-424242', '--gallery', dir], { encoding: 'utf8' });
  assert.equal(result.status, 1);
  assert.equal(result.stderr, `crosscam: no identity "person-424242" in the gallery at ${dir}\n`);
});
