import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { iou, type Box } from '../src/core/geometry.js';
import type { Detection, Frame } from '../src/core/types.js';
import type { CropEmbedding } from '../src/embed/embedder.js';
import { runCrossCameraEvaluation, type CrossCameraEvalOptions } from '../src/eval/cross-camera-eval.js';
import { groupByFrame, parseMotText } from '../src/eval/mot-ground-truth.js';
import { cameraTruth, splitCameras } from '../src/eval/virtual-cameras.js';
import { BUNDLED_FFMPEG_PATH } from '../src/ingest/ffmpeg-frames.js';

/*
 * A synthetic sequence whose answer is known: a 320x240 grey video of 60 frames at 10 fps,
 * split at x = 160. Six passers-by stand for one second, three on each side (persons 2-7);
 * then person 1 walks on the left for 2 s and on to the right. Stand-in models: the detector
 * returns the ground-truth boxes a camera sees, the embedder the person's own direction plus an
 * offset for the right camera (a colour cast), which camera centring must remove.
 */
const W = 320;
const H = 240;
const FRAMES = 60;

function groundTruthText(): string {
  const rows: string[] = [];
  for (let frame = 1; frame <= FRAMES; frame++) {
    if (frame <= 10) [5, 60, 115, 165, 220, 275].forEach((x, i) => rows.push(`${frame},${i + 2},${x},5,40,100,1`));
    if (frame >= 12 && frame <= 30) rows.push(`${frame},1,${10 + (frame - 12) * 5},130,40,100,1`);
    if (frame > 30 && frame <= 50) rows.push(`${frame},1,${170 + (frame - 30) * 5},130,40,100,1`);
  }
  return rows.join('\n');
}

const GT = parseMotText(groundTruthText());
const CAMERAS = splitCameras({ width: W, height: H }, { axis: 'x', at: 0.5 });
const TRUTH = new Map(CAMERAS.map((camera) => [camera.id, cameraTruth(groupByFrame(GT), camera.region)]));

function seenBy(frame: Frame) {
  return (TRUTH.get(frame.cameraId)!.get(frame.index + 1) ?? []).filter((person) => person.visible >= 0.6);
}

const models = {
  detector: {
    detect: async (frame: Frame): Promise<Detection[]> => seenBy(frame).map((person) => ({ box: person.box, score: 0.9, objectClass: 'person' as const })),
  },
  embedders: {
    person: {
      embed: async (frame: Frame, boxes: readonly Box[]): Promise<CropEmbedding[]> =>
        boxes.map((box) => {
          const person = seenBy(frame).reduce((best, p) => (iou(p.box, box) > iou(best.box, box) ? p : best));
          const embedding = new Float32Array(10);
          embedding[person.id] = 1;
          if (frame.cameraId === 'right') embedding[9] = 2.5;
          let norm = 0;
          for (const v of embedding) norm += v * v;
          return { embedding: embedding.map((v) => v / Math.sqrt(norm)) };
        }),
    },
  },
};

async function setUp(t: TestContext): Promise<{ video: string; dir: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-eval-run-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const video = path.join(dir, 'grey.avi');
  execFileSync(BUNDLED_FFMPEG_PATH, ['-loglevel', 'error', '-f', 'lavfi', '-i', `color=c=gray:s=${W}x${H}:r=10:d=${FRAMES / 10}`, '-c:v', 'mpeg4', video]);
  return { video, dir };
}

const options = (video: string, extra: Partial<CrossCameraEvalOptions> = {}): CrossCameraEvalOptions => ({
  video,
  groundTruth: GT,
  // Eight tracks in all: matching starts after the six passers-by; scores as they are (too few pair statistics here).
  baseConfig: { features: { camera_centring: { site_warmup_tracks: 6, warmup_tracks: 2 }, pair_calibration: { enabled: false } } },
  configName: 'test config',
  split: { axis: 'x', at: 0.5 },
  fps: 10,
  models,
  logger: pino({ level: 'silent' }),
  ...extra,
});

test('eval crosscam on a synthetic sequence: the one person seen on both cameras is linked, nobody else', async (t) => {
  const { video, dir } = await setUp(t);
  const saved = path.join(dir, 'tracks.json');
  const report = await runCrossCameraEvaluation(options(video, { saveTracks: saved }));
  assert.deepEqual(report.frames, { decoded: 60, processed: 60, fps: 10 });
  assert.deepEqual(
    report.cameras.map((c) => [c.id, c.tracks, c.tracksWithPerson]),
    [
      ['left', 4, 4],
      ['right', 4, 4],
    ],
  );
  assert.equal(report.gtLinks, 1, 'person 1 alone is on both cameras');
  assert.equal(report.matches, 1);
  assert.equal(report.correctMatches, 1);
  assert.deepEqual([report.precision, report.recall, report.f1], [1, 1, 1]);
  assert.deepEqual(report.matchList.map((m) => [m.persons, m.correct]), [[[1, 1], true]]);
  // Four left × four right tracks: the one same-person pair ranked above the fifteen others.
  assert.deepEqual(report.pairs, { positive: 1, negative: 15 });
  assert.equal(report.auc, 1);
  assert.equal(report.purity, 1);
  assert.equal(report.fragmentation, 1);
  assert.deepEqual([report.identities, report.gtIdentities], [7, 7]);
  // The final gallery as identities of tracks: person 1's two tracks in one, every passer-by alone.
  const groups = report.identityList.map((identity) => identity.tracks.map((t) => `${t.track}:${t.person}`).sort().join(' ')).sort();
  assert.equal(groups.length, 7);
  assert.ok(groups.some((g) => /^left#\d+:1 right#\d+:1$/.test(g)), groups.join(' | '));
  assert.equal(groups.filter((g) => /^(left|right)#\d+:[2-7]$/.test(g)).length, 6, groups.join(' | '));

  // The identity stage alone on the saved tracks decides the same; without centring the
  // right camera's cast leaves person 1's two tracks at cosine 0.37, under the threshold.
  const replayed = await runCrossCameraEvaluation(options(video, { fromTracks: saved }));
  assert.deepEqual({ ...replayed, wallTimeS: 0 }, { ...report, wallTimeS: 0 });
  const raw = await runCrossCameraEvaluation(
    options(video, { fromTracks: saved, baseConfig: { features: { camera_centring: { enabled: false }, pair_calibration: { enabled: false } } } }),
  );
  assert.equal(raw.correctMatches, 0);
});

test('eval crosscam is deterministic: two runs of the whole pipeline give the same report', async (t) => {
  const { video } = await setUp(t);
  const first = await runCrossCameraEvaluation(options(video));
  const second = await runCrossCameraEvaluation(options(video));
  assert.deepEqual({ ...second, wallTimeS: 0 }, { ...first, wallTimeS: 0 });
});

test('the second camera sees the source through the shift filter', async (t) => {
  const { video } = await setUp(t);
  const report = await runCrossCameraEvaluation(options(video, { split: { axis: 'x', at: 0.5, shift: 'hue=h=90' } }));
  assert.deepEqual(
    report.cameras.map((c) => c.filter),
    ['crop=160:240:0:0:exact=1', 'crop=160:240:160:0:exact=1,hue=h=90'],
  );
});

test('colour normalisation in the eval: the brighter camera is mapped towards the site, what it learnt is saved and can start a later run', async (t) => {
  const { video, dir } = await setUp(t);
  const seen: { camera: string; table: Float32Array | undefined }[] = [];
  const spying = {
    ...models,
    embedders: {
      person: {
        embed: (frame: Frame, boxes: readonly Box[], embedOptions: { colourTable?: Float32Array } = {}) => {
          seen.push({ camera: frame.cameraId, table: embedOptions.colourTable });
          return models.embedders.person.embed(frame, boxes);
        },
      },
    },
  };
  const colourConfig = {
    features: {
      camera_centring: { site_warmup_tracks: 6, warmup_tracks: 2 },
      pair_calibration: { enabled: false },
      colour_normalisation: { enabled: true, method: 'affine', warmup_crops: 3 },
    },
  };
  const saved = path.join(dir, 'colour-tracks.json');
  await runCrossCameraEvaluation(
    options(video, { models: spying, baseConfig: colourConfig, split: { axis: 'x', at: 0.5, shift: 'eq=brightness=0.2' }, saveTracks: saved }),
  );
  const recording = JSON.parse(await readFile(saved, 'utf8')) as { colour?: Record<string, { crops: number; histogram: number[] }> };
  assert.deepEqual(Object.keys(recording.colour ?? {}).sort(), ['left', 'right']);
  const meanLevel = (histogram: number[]) => histogram.slice(0, 256).reduce((sum, share, level) => sum + share * level, 0);
  const grey = meanLevel(recording.colour!.left!.histogram);
  const brighter = meanLevel(recording.colour!.right!.histogram);
  assert.ok(brighter > grey + 20, `the shift brightens the right camera (${grey} → ${brighter})`);
  // Before both cameras have their crops, no table; once they have, the right camera's level moves down towards the site's.
  assert.equal(seen[0]!.table, undefined);
  const lastRight = seen.filter((s) => s.camera === 'right').at(-1)!.table!;
  const level = Math.round(brighter);
  assert.ok(lastRight[level]! < level - 5 && lastRight[level]! > grey, `right level ${level} → ${lastRight[level]}`);

  // A run started from those distributions has the tables from its first crop on.
  seen.length = 0;
  await runCrossCameraEvaluation(
    options(video, { models: spying, baseConfig: colourConfig, split: { axis: 'x', at: 0.5, shift: 'eq=brightness=0.2' }, colourFrom: saved }),
  );
  assert.ok(seen[0]!.table !== undefined);
  await assert.rejects(runCrossCameraEvaluation(options(video, { colourFrom: saved })), /needs features.colour_normalisation.enabled/);
});

test('a part model end to end: parts the colour cast does not touch recover the match it hides, once the catalog declares them', async (t) => {
  const { video, dir } = await setUp(t);
  // The stand-in embedder also gives two parts per crop (the person's own direction, both fully
  // visible): the right camera's cast is in the global vector only.
  const withParts = {
    ...models,
    embedders: {
      person: {
        embed: async (frame: Frame, boxes: readonly Box[]): Promise<CropEmbedding[]> =>
          (await models.embedders.person.embed(frame, boxes)).map(({ embedding }, i) => {
            const person = seenBy(frame).reduce((best, p) => (iou(p.box, boxes[i]!) > iou(best.box, boxes[i]!) ? p : best));
            const features = new Float32Array(20);
            features[person.id] = 1;
            features[10 + person.id] = 1;
            return { embedding, parts: { features, visibility: Float32Array.of(1, 1) } };
          }),
      },
    },
  };
  const catalog = path.join(dir, 'catalog.yaml');
  await writeFile(
    catalog,
    [
      'models:',
      '  - id: stand-in-parts',
      '    task: reid',
      '    file: stand-in.onnx',
      `    sha256: '${'0'.repeat(64)}'`,
      '    size_bytes: 1',
      '    licence: test',
      '    description: the test embedder',
      '    input: { name: input, layout: NCHW, dims: [batch, 3, 16, 8], channel_order: rgb, pixel_scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: { mode: stretch } }',
      '    outputs: [{ name: output, dims: [batch, 10] }, { name: parts, dims: [batch, 2, 10] }, { name: visibility, dims: [batch, 2] }]',
      '    reid: { embedding_dim: 10, object_classes: [person], parts: { output: parts, visibility: visibility, count: 2, dim: 10, weight: 0.5 } }',
    ].join('\n'),
  );
  const raw = { camera_centring: { enabled: false }, pair_calibration: { enabled: false } };
  const saved = path.join(dir, 'parts-tracks.json');
  // Without centring the cast keeps person 1's tracks at cosine 0.37: the parts (cosine 1 on both)
  // lift the score to 0.37 + 0.5 · 1 · (1 − 0.37) = 0.69, over the threshold.
  const declared = await runCrossCameraEvaluation(
    options(video, { models: withParts, saveTracks: saved, baseConfig: { features: raw, models: { catalog, reid: { person: 'stand-in-parts' } } } }),
  );
  assert.deepEqual([declared.matches, declared.correctMatches], [1, 1]);
  assert.ok(Math.abs(declared.matchList[0]!.similarity - (0.37 + 0.5 * (1 - 0.37))) < 0.01, `similarity ${declared.matchList[0]!.similarity}`);
  // The recording keeps the parts: a replay decides the same.
  const replayed = await runCrossCameraEvaluation(options(video, { fromTracks: saved, baseConfig: { features: raw, models: { catalog, reid: { person: 'stand-in-parts' } } } }));
  assert.deepEqual({ ...replayed, wallTimeS: 0 }, { ...declared, wallTimeS: 0 });
  // The same tracks with a catalog whose model declares no parts: they are not compared, no match.
  const undeclared = await runCrossCameraEvaluation(options(video, { fromTracks: saved, baseConfig: { features: raw } }));
  assert.equal(undeclared.matches, 0);
});
