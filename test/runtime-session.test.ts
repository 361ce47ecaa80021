import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { pino } from 'pino';
import { OperatorError } from '../src/core/operator-error.js';
import { ExitCode } from '../src/core/exit-codes.js';
import { modelEntrySchema, type ModelEntry } from '../src/models/catalog-schema.js';
import { loadModelCatalog } from '../src/models/catalog.js';
import { buildOnnxModel } from '../src/runtime/onnx-graph.js';
import { loadCatalogModel } from '../src/runtime/catalog-model.js';
import { createInferenceSession } from '../src/runtime/inference-session.js';
import { checkModelContract } from '../src/runtime/model-contract.js';
import { SHARED_MODELS_DIR } from './support/shared-data.js';

const SHARED_MODELS = SHARED_MODELS_DIR;

/** GPU providers need onnxruntime's provider libraries; the CPU-only npm build does not ship them. */
const ORT_BIN_DIR = path.join(
  path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node')),
  '..',
  'bin',
  'napi-v6',
  process.platform,
  process.arch,
);
const GPU_PROVIDER_LIBS_PRESENT = existsSync(path.join(ORT_BIN_DIR, 'libonnxruntime_providers_shared.so'));

interface LogLine {
  level: number;
  msg: string;
  provider?: string;
  model?: string;
}

function capturingLogger() {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** y = x * 2 over a [batch,3,4,4] input: small enough to build inline, with a known answer. */
function doublingModel(inputName = 'x', dims: (number | string)[] = ['batch', 3, 4, 4]): Uint8Array {
  return buildOnnxModel({
    name: 'double',
    inputs: [{ name: inputName, type: 'float32', dims }],
    outputs: [{ name: 'y', type: 'float32', dims }],
    initializers: [{ name: 'two', type: 'float32', dims: [], values: [2] }],
    nodes: [{ op: 'Mul', inputs: [inputName, 'two'], outputs: ['y'] }],
  });
}

/** A catalog entry for the doubling model, validated by the real schema. */
function doublingEntry(overrides: { inputName?: string; inputDims?: (number | string)[]; outputDims?: (number | string)[] } = {}): ModelEntry {
  return modelEntrySchema.parse({
    id: 'double',
    task: 'segmentation',
    file: 'double.onnx',
    sha256: '0'.repeat(64),
    sizeBytes: 1,
    licence: 'test',
    description: 'doubling test model',
    input: {
      name: overrides.inputName ?? 'x',
      layout: 'NCHW',
      dims: overrides.inputDims ?? ['batch', 3, 4, 4],
      channelOrder: 'rgb',
      pixelScale: 1,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      resize: { mode: 'stretch' },
    },
    outputs: [{ name: 'y', dims: overrides.outputDims ?? ['batch', 3, 4, 4] }],
    segmentation: { classes: ['background', 'line', 'arrow'] },
  });
}

async function rejection(promise: Promise<unknown>): Promise<OperatorError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof OperatorError, `expected a OperatorError, got ${String(error)}`);
  return error;
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-runtime-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('providers tensorrt, cuda, cpu fall back to cpu with one warning per missing provider', async (t) => {
  if (GPU_PROVIDER_LIBS_PRESENT) return t.skip('GPU provider libraries are installed here');
  const { logger, lines } = capturingLogger();
  const { session, provider } = await createInferenceSession({
    model: doublingModel(),
    label: 'double',
    providers: [{ name: 'tensorrt', deviceId: 0 }, { name: 'cuda' }, { name: 'cpu' }],
    intraOpThreads: 1,
    logger,
  });
  assert.equal(provider, 'cpu');
  const x = new ort.Tensor('float32', Float32Array.from({ length: 96 }, (_, i) => i), [2, 3, 4, 4]);
  const { y } = await session.run({ x });
  assert.deepEqual(y!.dims, [2, 3, 4, 4]);
  assert.equal((y!.data as Float32Array)[95], 190);

  const warnings = lines.filter((line) => line.level === 40);
  assert.deepEqual(warnings.map((line) => line.provider), ['tensorrt', 'cuda']);
  assert.ok(warnings.every((line) => line.model === 'double' && /unavailable/.test(line.msg)));
  const ready = lines.filter((line) => line.level === 30);
  assert.equal(ready.length, 1);
  assert.equal(ready[0]!.provider, 'cpu');
  await session.release();
});

test('when every requested provider fails the error names each one and suggests cpu', async (t) => {
  if (GPU_PROVIDER_LIBS_PRESENT) return t.skip('GPU provider libraries are installed here');
  const { logger } = capturingLogger();
  const error = await rejection(createInferenceSession({ model: doublingModel(), label: 'double', providers: [{ name: 'tensorrt' }], logger }));
  assert.equal(error.exitCode, ExitCode.CONFIG);
  assert.match(error.message, /^double: no execution provider could run the model \(tensorrt: .*shared library.*\); add 'cpu'/);
});

test('onnxruntime native provider errors are kept off stderr; crosscam logs its own line', (t) => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const runtimeModule = path.join(here, '..', 'src', 'runtime', 'inference-session.js');
  const model = path.join(SHARED_MODELS_DIR, 'osnet_x0_25_msmt17.onnx');
  const script = (useCrosscam: boolean) =>
    useCrosscam
      ? `import { createInferenceSession } from ${JSON.stringify(runtimeModule)};
         import { pino } from 'pino';
         const r = await createInferenceSession({ model: ${JSON.stringify(model)}, label: 'osnet',
           providers: [{ name: 'cuda' }, { name: 'cpu' }], logger: pino({ level: 'warn' }, pino.destination(2)) });
         process.stdout.write(r.provider);`
      : `import * as ort from 'onnxruntime-node';
         await ort.InferenceSession.create(${JSON.stringify(model)}, { executionProviders: ['cuda'] }).catch(() => {});`;
  if (GPU_PROVIDER_LIBS_PRESENT) return t.skip('GPU provider libraries are installed here');
  if (!existsSync(model)) return t.skip(`${model} is absent`);
  const run = (useCrosscam: boolean) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', script(useCrosscam)], { cwd: path.join(here, '..', '..'), encoding: 'utf8' });

  // Control: plain onnxruntime does print its native error, so the check below can fail.
  assert.match(run(false).stderr, /Failed to load library/);
  const crosscam = run(true);
  assert.equal(crosscam.status, 0, crosscam.stderr);
  assert.equal(crosscam.stdout, 'cpu');
  assert.doesNotMatch(crosscam.stderr, /Failed to load library|provider_bridge/);
  const logged = crosscam.stderr.trim().split('\n').map((line) => JSON.parse(line) as LogLine);
  assert.deepEqual(logged.map((line) => [line.level, line.provider]), [[40, 'cuda']]);
});

test('checkModelContract names the model, the tensor, expected and actual', async () => {
  const { logger } = capturingLogger();
  const { session } = await createInferenceSession({ model: doublingModel('x', [1, 3, 4, 4]), label: 'double', providers: [{ name: 'cpu' }], logger });
  // Fixed catalog dims against the fixed model: accepted.
  checkModelContract(session, doublingEntry({ inputDims: [1, 3, 4, 4], outputDims: [1, 3, 4, 4] }));

  const renamed = (() => {
    try {
      checkModelContract(session, doublingEntry({ inputName: 'images', inputDims: [1, 3, 4, 4], outputDims: [1, 3, 4, 4] }));
    } catch (error) {
      return error;
    }
    return assert.fail('a renamed input must be rejected');
  })();
  assert.ok(renamed instanceof OperatorError);
  assert.equal(renamed.exitCode, ExitCode.CONFIG);
  assert.equal(
    renamed.message,
    [
      'model double (double.onnx) does not match its catalog entry:',
      "  input 'images' is missing (the model's inputs are: 'x')",
      "  input 'x' is not described in the catalog",
    ].join('\n'),
  );

  // The catalog promises a dynamic batch; the model's batch is fixed at 1, and the size differs.
  assert.throws(
    () => checkModelContract(session, doublingEntry({ inputDims: ['batch', 3, 8, 8], outputDims: [1, 3, 4, 4] })),
    (error: Error) => error.message.includes("input 'x' has shape [1,3,4,4], expected [batch,3,8,8]"),
  );
  await session.release();

  // A dynamic model dimension accepts the catalog's fixed size.
  const dynamic = await createInferenceSession({ model: doublingModel(), label: 'double', providers: [{ name: 'cpu' }], logger });
  checkModelContract(dynamic.session, doublingEntry({ inputDims: [1, 3, 4, 4], outputDims: [1, 3, 4, 4] }));
  await dynamic.session.release();
});

test('garbage, truncated and missing model files give a clear error naming the file', async (t) => {
  const dir = await tempDir(t);
  const { logger } = capturingLogger();
  const garbage = path.join(dir, 'garbage.onnx');
  await writeFile(garbage, Buffer.from('this is not an onnx model\n'.repeat(50)));
  const notOnnx = await rejection(createInferenceSession({ model: garbage, label: 'det', providers: [{ name: 'cuda' }, { name: 'cpu' }], logger }));
  assert.equal(notOnnx.exitCode, ExitCode.CONFIG);
  assert.match(notOnnx.message, new RegExp(`^det: ${garbage} is not a valid ONNX model \\(`));

  const bytes = await rejection(createInferenceSession({ model: Uint8Array.from([1, 2, 3, 4]), label: 'det', providers: [{ name: 'cpu' }], logger }));
  assert.match(bytes.message, /^det: det \(in-memory model\) is not a valid ONNX model/);

  const missing = await rejection(createInferenceSession({ model: path.join(dir, 'nope.onnx'), label: 'det', providers: [{ name: 'cpu' }], logger }));
  assert.match(missing.message, /^det: model file .*nope\.onnx not found$/);

  if (existsSync(SHARED_MODELS)) {
    const truncated = path.join(dir, 'yolox_truncated.onnx');
    await writeFile(truncated, (await readFile(path.join(SHARED_MODELS, 'yolox_nano.onnx'))).subarray(0, 100_000));
    const error = await rejection(createInferenceSession({ model: truncated, label: 'yolox-nano', providers: [{ name: 'cpu' }], logger }));
    assert.match(error.message, /yolox_truncated\.onnx is not a valid ONNX model/);
  }
});

test('loadCatalogModel opens both real models on cpu, checks their contracts and runs them', async (t) => {
  if (!existsSync(SHARED_MODELS)) return t.skip(`${SHARED_MODELS} is absent`);
  const catalog = await loadModelCatalog();
  const { logger } = capturingLogger();
  const providers = [{ name: 'cuda' as const }, { name: 'cpu' as const }];

  const osnet = await loadCatalogModel({ entry: catalog.models.get('osnet-x0_25-msmt17')!, modelsDir: SHARED_MODELS, providers, logger });
  assert.equal(osnet.provider, 'cpu');
  const crops = new ort.Tensor('float32', new Float32Array(2 * 3 * 256 * 128).fill(0.1), [2, 3, 256, 128]);
  const { output } = await osnet.session.run({ input: crops });
  assert.deepEqual(output!.dims, [2, 512]);
  await osnet.session.release();

  const yolox = await loadCatalogModel({ entry: catalog.models.get('yolox-nano')!, modelsDir: SHARED_MODELS, providers, logger });
  const frame = new ort.Tensor('float32', new Float32Array(3 * 416 * 416).fill(114), [1, 3, 416, 416]);
  const detections = await yolox.session.run({ images: frame });
  assert.deepEqual(detections.output!.dims, [1, 3549, 85]);
  await yolox.session.release();
});

test('loadCatalogModel explains how to install a missing model and refuses a file that does not match', async (t) => {
  if (!existsSync(SHARED_MODELS)) return t.skip(`${SHARED_MODELS} is absent`);
  const entry = (await loadModelCatalog()).models.get('yolox-nano')!;
  const dir = await tempDir(t);
  const { logger } = capturingLogger();
  const missing = await rejection(loadCatalogModel({ entry, modelsDir: dir, providers: [{ name: 'cpu' }], logger }));
  assert.equal(
    missing.message,
    `model yolox-nano not found at ${path.join(dir, 'yolox_nano.onnx')}; install it with: crosscam models install yolox-nano --from DIR`,
  );

  // A valid ONNX model under the right name, but not the catalog's file.
  await writeFile(path.join(dir, 'yolox_nano.onnx'), doublingModel());
  const wrong = await rejection(loadCatalogModel({ entry, modelsDir: dir, providers: [{ name: 'cpu' }], logger }));
  assert.match(wrong.message, /^model yolox-nano does not match the catalog \(wrong size: .* expected 3660092\)/);
});
