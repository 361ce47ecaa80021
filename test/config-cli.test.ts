import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'dist/src/cli/main.js');

function checkConfig(file: string, env: Record<string, string> = {}, args: string[] = []) {
  // A clean environment: nothing from the developer's shell leaks into the references.
  const result = spawnSync(process.execPath, [MAIN, 'check-config', file, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('check-config prints every problem as "<key.path>: <problem>" and exits 78', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-check-config-'));
  const file = path.join(dir, 'broken.yaml');
  await writeFile(
    file,
    [
      'node_id: edge-01',
      'detect: {fps: 0}',
      'cameras:',
      '  - id: gate',
      '    url: rtsp://admin:${ENV:CAM1_PASSWORD}@192.0.2.1/s',
      '  - id: gate',
      '    url: /srv/v.mp4',
      'mqtt: {url: "http://broker"}',
      'topology:',
      '  - {from: gate, to: lobby, max_s: 60}',
      'colour: blue',
      '',
    ].join('\n'),
  );
  const result = checkConfig(file);
  assert.equal(result.status, 78);
  assert.equal(result.stdout, '');
  assert.deepEqual(result.stderr.trimEnd().split('\n'), [
    'detect.fps: must be > 0',
    'cameras.0.url: environment variable CAM1_PASSWORD is not set',
    'cameras.1.id: duplicate camera id "gate" (also cameras.0.id)',
    'mqtt.url: unsupported scheme "http://" (use mqtt://, mqtts://, ws://, wss://)',
    'topology.0.to: unknown camera "lobby" (cameras: gate)',
    'colour: unknown key (allowed: node_id, log, service, ffmpeg, models, runtime, detect, track, embed, features, adapt, cameras, mqtt, gallery, snapshots, http, matching, requests, topology, schedules)',
  ]);
});

test('check-config reports an unknown model against the built-in catalog, and an unreadable file', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-check-config-'));
  const file = path.join(dir, 'model.yaml');
  await writeFile(file, 'models: {detector: yolov99}\ncameras: [{id: a, url: rtsp://cam/live}]\n');
  const unknownModel = checkConfig(file);
  assert.equal(unknownModel.status, 78);
  assert.equal(unknownModel.stderr, 'models.detector: unknown model "yolov99" (known: yolox-nano)\n');

  // No file is missing input (66, as docs/deploy.md says), not a config error.
  const missing = checkConfig(path.join(dir, 'absent.yaml'));
  assert.equal(missing.status, 66);
  assert.equal(missing.stderr, `crosscam: cannot read config file ${path.join(dir, 'absent.yaml')}: ENOENT\n`);
});

test('check-config accepts the example (with its secrets provided) and the demo, printing a summary', async () => {
  const credentials = await mkdtemp(path.join(os.tmpdir(), 'crosscam-credentials-'));
  await writeFile(path.join(credentials, 'cam_yard_password'), 'yard\n');
  await writeFile(path.join(credentials, 'mqtt_password'), 'mqtt\n');
  // The example is for a device with /etc/crosscam/tls: only its schema is checked here.
  const example = checkConfig('config/crosscam.example.yaml', { CAM_GATE_PASSWORD: 'gate', CREDENTIALS_DIRECTORY: credentials }, ['--schema-only']);
  assert.equal(example.stderr, '');
  assert.equal(example.status, 0);
  assert.equal(
    example.stdout,
    'config OK: node edge-gate-01, 2 cameras (2 enabled), detector yolox-nano, reid person osnet-x0_25-msmt17, vehicles tracked only (no models.reid.vehicle), ' +
      'mqtt mqtts://broker.example.net:8883\n',
  );

  const demo = checkConfig('config/demo.yaml');
  assert.equal(demo.status, 0);
  assert.equal(
    demo.stdout,
    'config OK: node demo, 2 cameras (2 enabled), detector yolox-nano, reid person osnet-x0_25-msmt17, vehicles tracked only (no models.reid.vehicle), ' +
      'mqtt mqtt://127.0.0.1:1883 (embedded broker on 127.0.0.1:1883)\n',
  );
});

test('check-config never prints a password from the mqtt url', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-check-config-'));
  const file = path.join(dir, 'auth.yaml');
  await writeFile(file, `mqtt: {url: "mqtt://user:\${ENV:MQTT_PW}@broker:1883"}\ncameras: [{id: a, url: rtsp://cam/live}]\ngallery: {path: ${dir}/g}\nsnapshots: {path: ${dir}/s}\n`);
  const result = checkConfig(file, { MQTT_PW: 'hunter2' });
  assert.equal(result.status, 0);
  assert.doesNotMatch(result.stdout, /hunter2/);
  assert.match(result.stdout, /mqtt mqtt:\/\/\*\*\*:\*\*\*@broker:1883\n$/);
});
