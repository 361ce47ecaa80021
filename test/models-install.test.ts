import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { OperatorError } from '../src/core/operator-error.js';
import { registerModelsCommand } from '../src/cli/models-command.js';
import { ExitCode } from '../src/core/exit-codes.js';
import { SHARED_MODELS_DIR } from './support/shared-data.js';

const SHARED_MODELS = SHARED_MODELS_DIR;

/** A synthetic model: install never parses ONNX, so random bytes with a known hash exercise every path. */
interface FakeModel {
  id: string;
  file: string;
  bytes: Buffer;
}

function catalogYaml(models: readonly FakeModel[]): string {
  const entries = models.map(
    (m) => `
  - id: ${m.id}
    task: reid
    file: ${m.file}
    sha256: ${createHash('sha256').update(m.bytes).digest('hex')}
    size_bytes: ${m.bytes.length}
    licence: test
    description: synthetic test model
    input: { name: input, layout: NCHW, dims: [batch, 3, 256, 128], channel_order: rgb, pixel_scale: 1/255,
             mean: [0, 0, 0], std: [1, 1, 1], resize: { mode: stretch } }
    outputs: [{ name: output, dims: [batch, 8] }]
    reid: { embedding_dim: 8, object_classes: [person] }`,
  );
  return `models:${entries.join('')}\n`;
}

interface Fixture {
  root: string;
  catalog: string;
  modelsDir: string;
  fromDir: string;
  alpha: FakeModel;
  beta: FakeModel;
}

async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<Fixture> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'crosscam-install-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const alpha = { id: 'alpha', file: 'alpha.onnx', bytes: randomBytes(300_000) };
  const beta = { id: 'beta', file: 'beta.onnx', bytes: randomBytes(5_000) };
  const catalog = path.join(root, 'catalog.yaml');
  await writeFile(catalog, catalogYaml([alpha, beta]));
  const fromDir = path.join(root, 'from');
  await mkdir(fromDir);
  return { root, catalog, modelsDir: path.join(root, 'models'), fromDir, alpha, beta };
}

/** Runs `crosscam models ...` in-process; resolves with stdout, or rejects with the OperatorError. */
async function runModels(args: readonly string[]): Promise<{ stdout: string; error?: OperatorError }> {
  let stdout = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stdout += chunk.toString();
      done();
    },
  });
  const program = new Command('crosscam').exitOverride();
  registerModelsCommand(program, { stdout: sink, stderr: sink });
  try {
    await program.parseAsync(['models', ...args], { from: 'user' });
    return { stdout };
  } catch (error) {
    if (!(error instanceof OperatorError)) throw error;
    return { stdout, error };
  }
}

const common = (f: Fixture) => ['--models-dir', f.modelsDir, '--catalog', f.catalog];

async function modelsDirListing(f: Fixture): Promise<string[]> {
  return existsSync(f.modelsDir) ? (await readdir(f.modelsDir)).sort() : [];
}

test('install --from rejects a truncated file, naming expected and actual size, and installs nothing', async (t) => {
  const f = await fixture(t);
  await writeFile(path.join(f.fromDir, f.alpha.file), f.alpha.bytes.subarray(0, 1000));
  const { stdout, error } = await runModels(['install', 'alpha', '--from', f.fromDir, ...common(f)]);
  assert.equal(error?.exitCode, ExitCode.FAILURE);
  assert.match(stdout, /FAILED +alpha: .*alpha\.onnx has 1000 bytes, expected 300000 \(truncated or wrong file\); not installed/);
  assert.deepEqual(await modelsDirListing(f), []);
});

test('install --from rejects a same-size corrupted file after hashing the copy, and leaves no temp file', async (t) => {
  const f = await fixture(t);
  const corrupted = Buffer.from(f.alpha.bytes);
  corrupted[12345]! ^= 1;
  await writeFile(path.join(f.fromDir, f.alpha.file), corrupted);
  const { stdout, error } = await runModels(['install', 'alpha', '--from', f.fromDir, ...common(f)]);
  assert.equal(error?.exitCode, ExitCode.FAILURE);
  const expected = createHash('sha256').update(f.alpha.bytes).digest('hex');
  const actual = createHash('sha256').update(corrupted).digest('hex');
  assert.ok(stdout.includes(`has sha256 ${actual}, expected ${expected}`), stdout);
  assert.deepEqual(await modelsDirListing(f), [], 'neither the model nor a .partial temp file remains');
});

test('install --from installs good files, verify passes, and a second install skips them', async (t) => {
  const f = await fixture(t);
  await writeFile(path.join(f.fromDir, f.alpha.file), f.alpha.bytes);
  await writeFile(path.join(f.fromDir, f.beta.file), f.beta.bytes);
  const first = await runModels(['install', '--from', f.fromDir, ...common(f)]);
  assert.equal(first.error, undefined, first.stdout);
  assert.match(first.stdout, /installed +alpha: /);
  assert.match(first.stdout, /installed +beta: /);
  assert.deepEqual(await modelsDirListing(f), ['alpha.onnx', 'beta.onnx']);
  assert.ok((await readFile(path.join(f.modelsDir, 'alpha.onnx'))).equals(f.alpha.bytes));

  const verify = await runModels(['verify', 'alpha', 'beta', ...common(f)]);
  assert.equal(verify.error, undefined);
  assert.match(verify.stdout, /^ok +alpha: verified/m);
  assert.match(verify.stdout, /^ok +beta: verified/m);

  const second = await runModels(['install', 'alpha', '--from', f.fromDir, ...common(f)]);
  assert.match(second.stdout, /skipped +alpha: .*already installed and verified/);
});

test('install --from without ids installs only the catalog models the directory holds', async (t) => {
  const f = await fixture(t);
  await writeFile(path.join(f.fromDir, f.beta.file), f.beta.bytes);
  const { stdout, error } = await runModels(['install', '--from', f.fromDir, ...common(f)]);
  assert.equal(error, undefined, stdout);
  assert.deepEqual(await modelsDirListing(f), ['beta.onnx']);

  const empty = path.join(f.root, 'empty');
  await mkdir(empty);
  const none = await runModels(['install', '--from', empty, ...common(f)]);
  assert.equal(none.error?.exitCode, ExitCode.NO_INPUT);
  assert.match(none.error!.message, /no catalog model files found in .*empty \(looked for: .*alpha\.onnx, beta\.onnx\)/);
});

test('verify fails with exit 1 and one line per model; list --json reports each state', async (t) => {
  const f = await fixture(t);
  await mkdir(f.modelsDir);
  await writeFile(path.join(f.modelsDir, f.alpha.file), f.alpha.bytes.subarray(0, 10));
  const verify = await runModels(['verify', 'alpha', 'beta', ...common(f)]);
  assert.equal(verify.error?.exitCode, ExitCode.FAILURE);
  assert.equal(verify.error!.message, '2 of 2 models failed verification');
  assert.match(verify.stdout, /^FAILED +alpha: wrong size: .*alpha\.onnx has 10 bytes, expected 300000$/m);
  assert.match(verify.stdout, /^FAILED +beta: missing: .*beta\.onnx \(install it with: crosscam models install beta --from DIR\)$/m);

  const unknown = await runModels(['verify', 'nope', ...common(f)]);
  assert.equal(unknown.error?.exitCode, ExitCode.USAGE);

  const list = await runModels(['list', '--json', ...common(f)]);
  const rows = JSON.parse(list.stdout) as { id: string; state: string; actual?: number }[];
  const byId = new Map(rows.map((row) => [row.id, row]));
  assert.equal(byId.get('alpha')?.state, 'wrong-size');
  assert.equal(byId.get('alpha')?.actual, 10);
  assert.equal(byId.get('beta')?.state, 'missing');
});

test('install --from copies a real model (osnet) and it verifies against the built-in catalog', async (t) => {
  if (!existsSync(SHARED_MODELS)) return t.skip(`${SHARED_MODELS} is absent`);
  const f = await fixture(t);
  await copyFile(path.join(SHARED_MODELS, 'osnet_x0_25_msmt17.onnx'), path.join(f.fromDir, 'osnet_x0_25_msmt17.onnx'));
  const install = await runModels(['install', 'osnet-x0_25-msmt17', '--from', f.fromDir, '--models-dir', f.modelsDir]);
  assert.equal(install.error, undefined, install.stdout);
  const verify = await runModels(['verify', 'osnet-x0_25-msmt17', '--models-dir', f.modelsDir]);
  assert.equal(verify.error, undefined);
  assert.match(verify.stdout, /^ok +osnet-x0_25-msmt17: verified/m);
});

/** Serves /good, /short (truncated, honest length), /dropped (full length announced, connection cut), /missing. */
async function modelServer(t: { after: (fn: () => Promise<void>) => void }, bytes: Buffer): Promise<string> {
  const server = http.createServer((request, response) => {
    switch (request.url) {
      case '/good':
        response.writeHead(200, { 'content-length': bytes.length });
        response.end(bytes);
        return;
      case '/chunked':
        response.writeHead(200);
        response.write(bytes.subarray(0, 1000));
        response.end(bytes.subarray(1000, bytes.length - 7));
        return;
      case '/long':
        response.writeHead(200);
        response.end(Buffer.concat([bytes, bytes]));
        return;
      case '/short':
        response.writeHead(200, { 'content-length': bytes.length - 100 });
        response.end(bytes.subarray(0, bytes.length - 100));
        return;
      case '/dropped':
        response.writeHead(200, { 'content-length': bytes.length });
        response.write(bytes.subarray(0, 100_000), () => response.destroy());
        return;
      default:
        response.writeHead(404);
        response.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('install --url downloads a good file and installs it after the sha256 check', async (t) => {
  const f = await fixture(t);
  const base = await modelServer(t, f.alpha.bytes);
  const { stdout, error } = await runModels(['install', 'alpha', '--url', `${base}/good`, ...common(f)]);
  assert.equal(error, undefined, stdout);
  assert.match(stdout, /installed +alpha: /);
  assert.ok((await readFile(path.join(f.modelsDir, 'alpha.onnx'))).equals(f.alpha.bytes));
});

test('install --url rejects truncated, dropped and missing downloads and leaves nothing behind', async (t) => {
  const f = await fixture(t);
  const base = await modelServer(t, f.alpha.bytes);
  const cases: [string, RegExp][] = [
    ['/short', /announces 299900 bytes, expected 300000 \(truncated or wrong file\); not installed/],
    ['/chunked', /has 299993 bytes, expected 300000 \(truncated or wrong file\); not installed/],
    ['/long', /is larger than the expected 300000 bytes \(wrong file\); not installed/],
    ['/dropped', /alpha: download from .*\/dropped failed: .*; not installed/],
    ['/missing', /download from .*\/missing failed: HTTP 404/],
  ];
  for (const [route, message] of cases) {
    const { stdout, error } = await runModels(['install', 'alpha', '--url', `${base}${route}`, ...common(f)]);
    assert.equal(error?.exitCode, ExitCode.FAILURE, route);
    assert.match(stdout, message, route);
    assert.deepEqual(await modelsDirListing(f), [], `${route} leaves no file behind`);
  }

  const usage = await runModels(['install', 'alpha', 'beta', '--url', `${base}/good`, ...common(f)]);
  assert.equal(usage.error?.exitCode, ExitCode.USAGE);
  const neither = await runModels(['install', 'alpha', ...common(f)]);
  assert.equal(neither.error?.exitCode, ExitCode.USAGE);
});
