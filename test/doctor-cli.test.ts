import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { CLI_PATH } from './support/daemon-process.js';
import { freePort } from './support/ports.js';
import { HAVE_PETS, HAVE_SHARED_MODELS, PETS_VIDEO, TEST_MODELS_DIR } from './support/shared-data.js';

interface Report {
  ok: boolean;
  checks: { name: string; ok: boolean; detail: string; fix?: string }[];
}

function doctor(configFile: string): Promise<{ code: number; report: Report }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_PATH, 'doctor', '--config', configFile, '--json'], { env: { ...process.env, CROSSCAM_MODELS_DIR: TEST_MODELS_DIR }, timeout: 60_000 }, (error, stdout) => {
      resolve({ code: error ? Number((error as { code?: number }).code) : 0, report: JSON.parse(stdout) as Report });
    });
  });
}

test('crosscam doctor: every check named, problems with a fix, passwords never printed', { skip: !HAVE_PETS || !HAVE_SHARED_MODELS ? 'PETS09 clip or models not found' : false, timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-doctor-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const deadPort = await freePort();
  const config = {
    node_id: 'doctor',
    cameras: [
      { id: 'video', url: PETS_VIDEO },
      { id: 'gate', url: `rtsp://admin:hunter2@127.0.0.1:${deadPort}/stream` },
    ],
    ffmpeg: { rtsp_timeout_s: 2 },
    mqtt: { url: `mqtt://127.0.0.1:${deadPort}`, username: 'ops', password: 's3cret' },
    gallery: { path: path.join(dir, 'gallery') },
    snapshots: { path: path.join(dir, 'snapshots') },
  };
  const file = path.join(dir, 'crosscam.yaml');
  await writeFile(file, stringify(config));
  const { code, report } = await doctor(file);
  assert.equal(code, 1, 'a failed check exits 1');
  assert.equal(report.ok, false);
  const byName = new Map(report.checks.map((check) => [check.name, check]));
  assert.deepEqual(
    [...byName.keys()],
    ['ffmpeg', 'model yolox-nano', 'model osnet-x0_25-msmt17', 'provider cpu', 'broker', 'camera video', 'camera gate', 'gallery directory', 'snapshots directory'],
  );
  for (const name of ['ffmpeg', 'model yolox-nano', 'provider cpu', 'camera video', 'gallery directory']) assert.equal(byName.get(name)?.ok, true, `${name}: ${byName.get(name)?.detail}`);
  assert.match(byName.get('ffmpeg')!.detail, /hardware decoders:/);
  assert.equal(byName.get('broker')!.ok, false);
  assert.match(byName.get('broker')!.fix!, /mqtt\.url/);
  assert.equal(byName.get('camera gate')!.ok, false);
  assert.match(byName.get('camera gate')!.detail, /^rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/stream: .*Connection refused/);
  assert.ok(!JSON.stringify(report).includes('hunter2') && !JSON.stringify(report).includes('s3cret'), 'no password in the report');
});
