/**
 * What `run` would fail on at start is caught by `check-config` too, and `run` itself exits
 * 78 naming the key, without a stack trace: missing TLS material, a map size LMDB cannot map
 * or the disk cannot hold, a missing video, .inf/.nan; a missing config file is 66.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { CLI_PATH } from './support/daemon-process.js';

function crosscam(args: string[]) {
  // A broker that is never reached: every case fails before connecting.
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '', CROSSCAM_MODELS_DIR: path.join(os.tmpdir(), 'no-models') } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function configFile(dir: string, name: string, config: object | string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof config === 'string' ? config : stringify(config));
  return file;
}

test('check-config and run both refuse, naming the key, what run cannot start with', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-startup-'));
  const base = { cameras: [{ id: 'a', url: 'rtsp://127.0.0.1:9/live' }], gallery: { path: path.join(dir, 'gallery') }, snapshots: { path: path.join(dir, 'snapshots') }, http: { port: 0 } };
  const cases: { name: string; config: object | string; key: RegExp }[] = [
    { name: 'missing CA', config: { ...base, mqtt: { url: 'mqtts://127.0.0.1:8883', tls: { ca: path.join(dir, 'absent-ca.pem') } } }, key: /^mqtt\.tls\.ca: cannot read .*absent-ca\.pem \(ENOENT\)$/m },
    { name: 'CA that is not PEM', config: { ...base, mqtt: { url: 'mqtts://127.0.0.1:8883', tls: { ca: path.join(dir, 'not-pem.txt') } } }, key: /^mqtt\.tls\.ca: .*not-pem\.txt is not a PEM certificate/m },
    { name: 'map size LMDB cannot map', config: { ...base, gallery: { ...base.gallery, map_size_mb: 100_000_000 } }, key: /^gallery\.map_size_mb: must be <= 1048576$/m },
    { name: 'map size the disk cannot hold', config: { ...base, gallery: { ...base.gallery, map_size_mb: 1_048_576 } }, key: /^gallery\.map_size_mb: 1048576 MB does not fit: .* MB free/m },
    { name: 'missing video', config: { ...base, cameras: [{ id: 'a', url: path.join(dir, 'absent.mp4') }] }, key: /^cameras\.0\.url: .*absent\.mp4 video file not found/m },
    { name: 'gallery under a file', config: { ...base, gallery: { path: path.join(dir, 'not-pem.txt', 'gallery') } }, key: /^gallery\.path: .*not-pem\.txt is not a directory/m },
    { name: '.inf', config: 'cameras: [{id: a, url: rtsp://cam/live}]\ndetect: {fps: .inf}\n', key: /^detect\.fps: expected a number, got infinity \(\.inf\)$/m },
    { name: '.nan', config: 'cameras: [{id: a, url: rtsp://cam/live}]\nmqtt: {stats_interval_s: .nan}\n', key: /^mqtt\.stats_interval_s: expected a number, got not-a-number \(\.nan\)$/m },
  ];
  await writeFile(path.join(dir, 'not-pem.txt'), 'hello\n');
  for (const [index, { name, config, key }] of cases.entries()) {
    const file = await configFile(dir, `case-${index}.yaml`, config);
    const check = crosscam(['check-config', file]);
    assert.equal(check.status, 78, `${name}: check-config exits 78 (${check.stderr}${check.stdout})`);
    assert.match(check.stderr, key, `${name}: check-config names the key`);
    const run = crosscam(['run', '--config', file]);
    assert.equal(run.status, 78, `${name}: run exits 78 (${run.stderr})`);
    assert.match(run.stderr, key, `${name}: run names the key`);
    assert.doesNotMatch(run.stderr, /^\s+at /m, `${name}: no stack trace`);
  }

  const missing = path.join(dir, 'absent.yaml');
  for (const args of [['check-config', missing], ['run', '--config', missing]]) {
    const result = crosscam(args);
    assert.equal(result.status, 66, `${args[0]}: a missing config file is missing input`);
    assert.equal(result.stderr, `crosscam: cannot read config file ${missing}: ENOENT\n`);
  }
});
