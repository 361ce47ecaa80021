/**
 * The shared inference scheduler against the simple implementation: worker threads must give
 * the detections and embeddings the in-process models give on the same real frames (PETS09),
 * batch crops of several cameras into one re-ID run, apply output filters, and report a bad
 * model as the same operator error, and replace a worker that dies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { ExitCode } from '../src/core/exit-codes.js';
import { OperatorError } from '../src/core/operator-error.js';
import type { Frame } from '../src/core/types.js';
import { dot as cosine } from '../src/core/vectors.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import { createHash } from 'node:crypto';
import { openInProcessVisionModels, openVisionModels, readConfigFile, readConfigOrDefaults } from '../src/pipeline/setup.js';
import { InferencePool } from '../src/scheduler/inference-pool.js';
import { HAVE_PETS, HAVE_SHARED_MODELS, PETS_VIDEO, TEST_MODELS_DIR } from './support/shared-data.js';
import { tinyPartModel } from './support/tiny-part-model.js';

const NEEDS_SHARED = !(HAVE_PETS && HAVE_SHARED_MODELS) && 'needs ../shared data and models';
const logger = pino({ level: 'silent' });

async function petsFrames(count: number, step: number): Promise<Frame[]> {
  const frames: Frame[] = [];
  let index = 0;
  for await (const frame of readFfmpegFrames({ url: PETS_VIDEO, cameraId: 'pets' })) {
    if (index++ % step === 0) frames.push({ ...frame, cameraId: `cam${frames.length % 3}`, data: Uint8Array.from(frame.data) });
    if (frames.length === count) break;
  }
  return frames;
}

test('worker threads detect and embed as the in-process models do, batching crops of several cameras', { skip: NEEDS_SHARED }, async () => {
  const loaded = await readConfigOrDefaults(undefined, PETS_VIDEO);
  const local = await openInProcessVisionModels({ ...loaded, logger, modelsDir: TEST_MODELS_DIR });
  let reidRuns = 0;
  const items = new Map<string, number>();
  const pool = await openVisionModels({
    ...loaded,
    logger,
    modelsDir: TEST_MODELS_DIR,
    workers: 2,
    onInference: (model, _provider, _seconds, count) => {
      reidRuns += model === loaded.config.models.reid.person ? 1 : 0;
      items.set(model, (items.get(model) ?? 0) + count);
    },
  });
  try {
    const frames = await petsFrames(6, 40);
    // All frames at once, as six cameras would hand them in.
    const pooled = await Promise.all(frames.map((frame) => pool.detector.detect(frame)));
    for (const [i, frame] of frames.entries()) {
      const expected = await local.detector.detect(frame);
      assert.ok(expected.length >= 3, `frame ${frame.index} has people`);
      assert.equal(pooled[i]!.length, expected.length, `frame ${frame.index}: detection count`);
      pooled[i]!.forEach((detection, d) => {
        assert.equal(detection.objectClass, expected[d]!.objectClass);
        assert.ok(Math.abs(detection.score - expected[d]!.score) < 1e-3, `frame ${frame.index} detection ${d} score`);
        for (const side of ['x1', 'y1', 'x2', 'y2'] as const) assert.ok(Math.abs(detection.box[side] - expected[d]!.box[side]) < 0.05, `frame ${frame.index} detection ${d} ${side}`);
      });
    }

    const boxes = pooled.map((detections) => detections.slice(0, 3).map((d) => d.box));
    const embedded = await Promise.all(frames.map((frame, i) => pool.embedders.person!.embed(frame, boxes[i]!)));
    for (const [i, frame] of frames.entries()) {
      const expected = await local.embedders.person!.embed(frame, boxes[i]!);
      assert.equal(embedded[i]!.length, expected.length);
      embedded[i]!.forEach(({ embedding }, c) => assert.ok(cosine(embedding, expected[c]!.embedding) > 0.9999, `frame ${frame.index} crop ${c}: cosine ${cosine(embedding, expected[c]!.embedding)}`));
    }
    // Two workers take the first two frames' crops; the four frames queued meanwhile share one run.
    assert.ok(reidRuns <= 4, `six frames' crops in ${reidRuns} re-ID runs`);
    // The workers report what each run ran: one frame per detector run, every crop once.
    assert.equal(items.get(loaded.config.models.detector), frames.length);
    assert.equal(items.get(loaded.config.models.reid.person), boxes.flat().length);

    pool.detector.setOutputFilter({ classes: ['car'], minScore: 0.3 });
    const carsOnly = await Promise.all(frames.slice(0, 2).map((frame) => pool.detector.detect(frame)));
    assert.ok(carsOnly.every((detections) => detections.every((d) => d.objectClass === 'car')), 'output filter reached every worker');
  } finally {
    await pool.release();
    await local.release();
  }
  await assert.rejects(pool.detector.detect((await petsFrames(1, 1))[0]!), /inference pool is closed/);
});

test('a model file that fails its check in a worker is the operator error the main thread would give', { skip: NEEDS_SHARED }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-pool-models-'));
  try {
    copyFileSync(path.join(TEST_MODELS_DIR, 'osnet_x0_25_msmt17.onnx'), path.join(dir, 'osnet_x0_25_msmt17.onnx'));
    writeFileSync(path.join(dir, 'yolox_nano.onnx'), 'not a model');
    const loaded = await readConfigOrDefaults(undefined, PETS_VIDEO);
    const error = await openVisionModels({ ...loaded, logger, modelsDir: dir, workers: 2 }).then(
      () => assert.fail('opened a corrupt model'),
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof OperatorError, String(error));
    assert.equal(error.exitCode, ExitCode.CONFIG);
    assert.match(error.message, /yolox-nano does not match the catalog/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker that dies is logged and replaced, and the jobs queued meanwhile are served', { skip: NEEDS_SHARED }, async () => {
  const lines: { level: number; msg: string }[] = [];
  const capture = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as { level: number; msg: string }) });
  const loaded = await readConfigOrDefaults(undefined, PETS_VIDEO);
  const pool = await InferencePool.open({ ...loaded, logger: capture, modelsDir: TEST_MODELS_DIR, workers: 2, batchSize: 16, logLevel: 'info' });
  try {
    const [frame] = await petsFrames(1, 1);
    const expected = await pool.detect(frame!);
    assert.ok(expected.length >= 3);
    // The pool's own handle on its workers: the test ends one as a fatal error in it would. It is
    // idle: terminating a thread inside a native onnxruntime call aborts the whole process.
    const slots = (pool as unknown as { slots: { index: number; worker: Worker; call: unknown }[] }).slots;
    const victim = slots[0]!;
    assert.equal(victim.call, undefined);
    await victim.worker.terminate();
    const queued = [pool.detect(frame!), pool.detect(frame!), pool.detect(frame!)];
    for (const detections of await Promise.all(queued)) assert.equal(detections.length, expected.length);
    assert.ok(lines.some((line) => line.level === 50 && /inference worker 0 exited with code 1; starting a new one/.test(line.msg)), 'the death is logged as an error');
    const deadline = Date.now() + 30_000;
    while (!slots.some((slot) => slot.index === 0 && slot.worker !== victim.worker) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(slots.length, 2, "a new worker took the dead one's place");
    const after = await Promise.all([pool.detect(frame!), pool.detect(frame!)]);
    for (const detections of after) assert.equal(detections.length, expected.length);
  } finally {
    await pool.release();
  }
});

test('a part model\'s parts come through the worker threads as from the model in process', { skip: NEEDS_SHARED }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-pool-parts-'));
  try {
    copyFileSync(path.join(TEST_MODELS_DIR, 'yolox_nano.onnx'), path.join(dir, 'yolox_nano.onnx'));
    const model = tinyPartModel(16, 8);
    writeFileSync(path.join(dir, 'tiny-part.onnx'), model);
    const catalogFile = path.join(dir, 'catalog.yaml');
    writeFileSync(
      catalogFile,
      [
        'models:',
        '  - id: tiny-part',
        '    task: reid',
        '    file: tiny-part.onnx',
        `    sha256: '${createHash('sha256').update(model).digest('hex')}'`,
        `    size_bytes: ${model.length}`,
        '    licence: test',
        '    description: mean colours of the crop and of its two halves',
        '    input: { name: input, layout: NCHW, dims: [batch, 3, 16, 8], channel_order: rgb, pixel_scale: 1, mean: [0, 0, 0], std: [1, 1, 1], resize: { mode: stretch } }',
        '    outputs: [{ name: output, dims: [batch, 3] }, { name: parts, dims: [batch, 2, 3] }, { name: visibility, dims: [batch, 2] }]',
        '    reid: { embedding_dim: 3, object_classes: [person], parts: { output: parts, visibility: visibility, count: 2, dim: 3 } }',
      ].join('\n'),
    );
    const loaded = await readConfigFile('parts.yaml', `cameras: [{ id: video, url: ${PETS_VIDEO} }]\nmodels: { catalog: ${catalogFile}, reid: { person: tiny-part } }\n`);
    const local = await openInProcessVisionModels({ ...loaded, logger, modelsDir: dir });
    const pool = await openVisionModels({ ...loaded, logger, modelsDir: dir, workers: 1 });
    try {
      const frames = await petsFrames(2, 5);
      const boxes = [
        [{ x1: 10, y1: 20, x2: 60, y2: 140 }, { x1: 300, y1: 200, x2: 340, y2: 300 }, { x1: 500, y1: 100, x2: 540, y2: 190 }],
        [{ x1: 100, y1: 300, x2: 160, y2: 450 }],
      ];
      const pooled = await Promise.all(frames.map((frame, i) => pool.embedders.person!.embed(frame, boxes[i]!)));
      for (const [i, frame] of frames.entries()) {
        const expected = await local.embedders.person!.embed(frame, boxes[i]!);
        assert.equal(pooled[i]!.length, expected.length);
        pooled[i]!.forEach((crop, c) => {
          const want = expected[c]!;
          assert.ok(want.parts && crop.parts, `frame ${i} crop ${c} has parts`);
          assert.deepEqual([Array.from(crop.embedding), Array.from(crop.parts.features), Array.from(crop.parts.visibility)], [Array.from(want.embedding), Array.from(want.parts.features), Array.from(want.parts.visibility)], `frame ${i} crop ${c}`);
        });
      }
    } finally {
      await pool.release();
      await local.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
