import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { OperatorError } from '../src/core/operator-error.js';
import { ExitCode } from '../src/core/exit-codes.js';
import { builtInCatalogPath, loadModelCatalog, readCatalogFile, resolveModelsDir } from '../src/models/catalog.js';
import { verifyModelFile } from '../src/models/model-file.js';
import { SHARED_MODELS_DIR } from './support/shared-data.js';

const SHARED_MODELS = SHARED_MODELS_DIR;

const OPERATOR_CATALOG = `
models:
  - id: osnet-x0_25-msmt17          # replaces the built-in entry
    task: reid
    file: my_reid.onnx
    sha256: ${'A'.repeat(64)}
    size_bytes: 1234
    licence: proprietary
    description: site-trained re-ID model
    input:
      name: input
      layout: NCHW
      dims: [batch, 3, 256, 128]
      channel_order: rgb
      pixel_scale: 1/255
      mean: [0.5, 0.5, 0.5]
      std: [0.5, 0.5, 0.5]
      resize: { mode: stretch }
    outputs: [{ name: output, dims: [batch, 256] }]
    reid: { embedding_dim: 256, object_classes: [person], camera_input: { name: cam, type: int64, dims: [batch] } }
  - id: vehicle-reid                  # a new entry
    task: reid
    file: vehicle.onnx
    sha256: ${'b'.repeat(64)}
    size_bytes: 99
    licence: Apache-2.0
    description: vehicle profile
    input:
      name: input
      layout: NCHW
      dims: [batch, 3, 256, 256]
      channel_order: rgb
      pixel_scale: 1
      mean: [0, 0, 0]
      std: [1, 1, 1]
      resize: { mode: letterbox, pad_value: 0, align: center }
    outputs: [{ name: output, dims: [batch, 768] }]
    reid: { embedding_dim: 768, object_classes: [car, bus, truck] }
`;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-catalog-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function catalogError(yamlText: string, dir: string): Promise<OperatorError> {
  const file = path.join(dir, `catalog-${Math.random().toString(16).slice(2)}.yaml`);
  await writeFile(file, yamlText);
  const error = await readCatalogFile(file).then(
    () => assert.fail('the catalog should have been rejected'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof OperatorError);
  assert.equal(error.exitCode, ExitCode.CONFIG);
  assert.ok(error.message.includes(file), error.message);
  return error;
}

test('the built-in catalog is found from the package root whatever the cwd, with exact contracts', async (t) => {
  const cwd = process.cwd();
  process.chdir(os.tmpdir());
  t.after(() => process.chdir(cwd));
  const catalog = await loadModelCatalog();
  assert.deepEqual([...catalog.models.keys()], ['yolox-nano', 'osnet-x0_25-msmt17']);

  const yolox = catalog.models.get('yolox-nano')!;
  assert.equal(yolox.task, 'detector');
  assert.equal(yolox.sizeBytes, 3660092);
  assert.deepEqual(yolox.input.dims, [1, 3, 416, 416]);
  assert.equal(yolox.input.channelOrder, 'bgr');
  assert.deepEqual(yolox.input.resize, { mode: 'letterbox', padValue: 114, align: 'top-left', trimToMultiple: 32 });
  assert.ok(yolox.task === 'detector');
  assert.deepEqual(yolox.detector.decoder, { family: 'yolox', strides: [8, 16, 32] });
  assert.deepEqual(
    [...yolox.detector.classMap],
    [[0, 'person'], [1, 'bicycle'], [2, 'car'], [3, 'motorcycle'], [5, 'bus'], [7, 'truck']],
  );

  const osnet = catalog.models.get('osnet-x0_25-msmt17')!;
  assert.ok(osnet.task === 'reid');
  assert.equal(osnet.input.pixelScale, 1 / 255);
  assert.deepEqual(osnet.input.dims, ['batch', 3, 256, 128]);
  assert.deepEqual(osnet.input.mean, [0.485, 0.456, 0.406]);
  assert.equal(osnet.reid.embeddingDim, 512);
  assert.deepEqual(osnet.reid.objectClasses, ['person']);
  assert.equal(yolox.graphOptimization, 'all', "onnxruntime's default when the entry says nothing");
  assert.equal(osnet.graphOptimization, 'extended');
});

test('both real catalog models verify against the shared models directory', async (t) => {
  if (!existsSync(SHARED_MODELS)) return t.skip(`${SHARED_MODELS} is absent`);
  const catalog = await loadModelCatalog();
  for (const entry of catalog.models.values()) {
    assert.deepEqual(await verifyModelFile(entry, SHARED_MODELS), { status: 'ok', path: path.join(SHARED_MODELS, entry.file) });
  }
});

test('verifyModelFile reports missing, truncated and same-size corrupted files with expected and actual values', async (t) => {
  if (!existsSync(SHARED_MODELS)) return t.skip(`${SHARED_MODELS} is absent`);
  const entry = (await loadModelCatalog()).models.get('osnet-x0_25-msmt17')!;
  const dir = await tempDir(t);
  const file = path.join(dir, entry.file);
  assert.deepEqual(await verifyModelFile(entry, dir), { status: 'missing', path: file });

  const original = await readFile(path.join(SHARED_MODELS, entry.file));
  await writeFile(file, original.subarray(0, 1000));
  assert.deepEqual(await verifyModelFile(entry, dir), { status: 'wrong-size', path: file, expected: 891413, actual: 1000 });

  const corrupted = Buffer.from(original);
  corrupted[corrupted.length - 1]! ^= 0xff;
  await writeFile(file, corrupted);
  const status = await verifyModelFile(entry, dir);
  assert.equal(status.status, 'wrong-hash');
  assert.ok(status.status === 'wrong-hash');
  assert.equal(status.expected, entry.sha256);
  assert.match(status.actual, /^[0-9a-f]{64}$/);
  assert.notEqual(status.actual, entry.sha256);

  await copyFile(path.join(SHARED_MODELS, entry.file), file);
  assert.equal((await verifyModelFile(entry, dir)).status, 'ok');
});

test('an operator catalog replaces entries with the same id and adds new ones', async (t) => {
  const dir = await tempDir(t);
  const extra = path.join(dir, 'site.yaml');
  await writeFile(extra, OPERATOR_CATALOG);
  const catalog = await loadModelCatalog({ extraCatalogPath: extra });
  assert.deepEqual([...catalog.models.keys()], ['yolox-nano', 'osnet-x0_25-msmt17', 'vehicle-reid']);
  const replaced = catalog.models.get('osnet-x0_25-msmt17')!;
  assert.equal(replaced.file, 'my_reid.onnx');
  assert.equal(replaced.sha256, 'a'.repeat(64), 'sha256 is normalised to lower case');
  assert.ok(replaced.task === 'reid');
  assert.deepEqual(replaced.reid.cameraInput, { name: 'cam', type: 'int64', dims: ['batch'] });
  assert.equal(replaced.outputs[0]!.type, 'float32', 'tensor type defaults to float32');
  const vehicle = catalog.models.get('vehicle-reid')!;
  assert.deepEqual(vehicle.input.resize, { mode: 'letterbox', padValue: 0, align: 'center' });
});

test('catalog errors name the file, the snake_case key and the model', async (t) => {
  const dir = await tempDir(t);
  const builtIn = await readFile(builtInCatalogPath(), 'utf8');

  const badChannel = await catalogError(builtIn.replace('channel_order: rgb', 'channel_order: grb'), dir);
  assert.match(badChannel.message, /models\[1\]\.input\.channel_order \(model osnet-x0_25-msmt17\): .*"rgb"/);

  const badStrides = await catalogError(builtIn.replace('strides: [8, 16, 32]', 'strides: [8, 16]'), dir);
  assert.match(badStrides.message, /models\[0\]\.outputs\[0\]\.dims \(model yolox-nano\): strides 8,16 on 416x416 give 3380 grid points, output has 3549/);

  const badClass = await catalogError(builtIn.replace('7: truck', '80: truck'), dir);
  assert.match(badClass.message, /detector\.class_map .*class index 80 is outside the 80 classes/);

  const badEmbedding = await catalogError(builtIn.replace('embedding_dim: 512', 'embedding_dim: 256'), dir);
  assert.match(badEmbedding.message, /outputs\[0\]\.dims \(model osnet-x0_25-msmt17\): last dim must be the embedding_dim 256/);

  const missingLetterboxPad = await catalogError(builtIn.replace('        pad_value: 114\n', ''), dir);
  assert.match(missingLetterboxPad.message, /models\[0\]\.input\.resize\.pad_value/);

  const duplicate = await catalogError(builtIn.replace('id: osnet-x0_25-msmt17', 'id: yolox-nano'), dir);
  assert.match(duplicate.message, /models\[1\]\.id .*duplicate id 'yolox-nano'/);

  const pathInFile = await catalogError(builtIn.replace('file: yolox_nano.onnx', 'file: ../yolox_nano.onnx'), dir);
  assert.match(pathInFile.message, /models\[0\]\.file .*without directories/);

  const badLevel = await catalogError(builtIn.replace('graph_optimization: extended', 'graph_optimization: max'), dir);
  assert.match(badLevel.message, /models\[1\]\.graph_optimization \(model osnet-x0_25-msmt17\): .*"extended"/);

  // A part model's declaration must name outputs of its own with the declared shapes.
  const withParts = (outputs: string, parts: string) =>
    builtIn
      .replace(/outputs:\n      - name: output\n        type: float32\n        dims: \[batch, 512\]/, `outputs:\n      - { name: output, dims: [batch, 512] }\n${outputs}`)
      .replace('      object_classes: [person]', `      object_classes: [person]\n      parts: ${parts}`);
  const partsOutputs = '      - { name: parts, dims: [batch, 6, 64] }\n      - { name: visibility, dims: [batch, 6] }';
  const missingPartOutput = await catalogError(withParts(partsOutputs, '{ output: stripes, visibility: visibility, count: 6, dim: 64 }'), dir);
  assert.match(missingPartOutput.message, /models\[1\]\.reid\.parts\.output \(model osnet-x0_25-msmt17\): no output named 'stripes'/);
  const wrongPartShape = await catalogError(withParts(partsOutputs, '{ output: parts, visibility: visibility, count: 4, dim: 64 }'), dir);
  assert.match(wrongPartShape.message, /models\[1\]\.outputs\[1\]\.dims .*part features output must be \[batch, 4, 64\]/);
  assert.match(wrongPartShape.message, /models\[1\]\.outputs\[2\]\.dims .*part visibility output must be \[batch, 4\]/);
  const partsOnEmbedding = await catalogError(withParts(partsOutputs, '{ output: output, visibility: visibility, count: 6, dim: 64 }'), dir);
  assert.match(partsOnEmbedding.message, /reid\.parts\.output .*'output' is the embedding output/);
  const good = path.join(dir, 'parts.yaml');
  await writeFile(good, withParts(partsOutputs, '{ output: parts, visibility: visibility, count: 6, dim: 64, weight: 0.3 }'));
  const osnet = (await readCatalogFile(good)).find((entry) => entry.id === 'osnet-x0_25-msmt17');
  assert.ok(osnet?.task === 'reid');
  assert.deepEqual(osnet.reid.parts, { output: 'parts', visibility: 'visibility', count: 6, dim: 64, weight: 0.3 });

  const notYaml = await catalogError('models: [\n', dir);
  assert.match(notYaml.message, /invalid YAML/);
});

test('resolveModelsDir: configured value, else CROSSCAM_MODELS_DIR, else /var/lib/crosscam/models', () => {
  assert.equal(resolveModelsDir('/opt/models', { CROSSCAM_MODELS_DIR: '/env/models' }), '/opt/models');
  assert.equal(resolveModelsDir(undefined, { CROSSCAM_MODELS_DIR: '/env/models' }), '/env/models');
  assert.equal(resolveModelsDir(undefined, {}), '/var/lib/crosscam/models');
  assert.equal(resolveModelsDir('relative/models', {}), path.resolve('relative/models'));
});
