/**
 * Secrets stay secret: with a password in the RTSP URL, one in the MQTT URL and the HTTP
 * token from a systemd credential, none of them appears in any log line (debug level),
 * MQTT payload, status message or HTTP answer of a running daemon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startDaemon } from './support/daemon-process.js';
import { HAVE_MOSQUITTO, startMosquitto } from './support/mosquitto.js';
import { collectMqtt } from './support/mqtt-collector.js';
import { freePort } from './support/ports.js';
import { HAVE_PETS, HAVE_SHARED_MODELS, PETS_VIDEO } from './support/shared-data.js';

const skip = !HAVE_MOSQUITTO || !HAVE_PETS || !HAVE_SHARED_MODELS ? 'mosquitto, PETS09 clip or models not found' : false;

const RTSP_SECRET = 'rtsp-Pw-7f3a91';
const MQTT_SECRET = 'mqtt-Pw-c0ffee42';
const TOKEN_SECRET = 'http-Token-5e11d00d';
const SECRETS = [RTSP_SECRET, MQTT_SECRET, TOKEN_SECRET];

test('no secret appears in log lines, MQTT payloads, camera status or HTTP answers', { skip, timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'http_token'), `${TOKEN_SECRET}\n`);
  const broker = await startMosquitto({ passwords: { crosscam: MQTT_SECRET, watcher: 'watcher-pw' } });
  t.after(() => broker.dispose());
  const watcher = await collectMqtt({ url: broker.url, topics: ['crosscam/#'], connect: { username: 'watcher', password: 'watcher-pw' } });
  t.after(() => watcher.close());
  const closedPort = await freePort();

  const daemon = startDaemon({
    config: {
      node_id: 'secrets',
      log: { level: 'debug' },
      ffmpeg: { loglevel: 'info' },
      detect: { fps: 2, classes: ['person'] },
      cameras: [
        { id: 'video', url: PETS_VIDEO, file: { realtime: true, loop: true } },
        { id: 'door', url: `rtsp://admin:${RTSP_SECRET}@127.0.0.1:${closedPort}/live` },
      ],
      mqtt: { url: `mqtt://crosscam:${MQTT_SECRET}@127.0.0.1:${broker.port}`, stats_interval_s: 1 },
      http: { token: '${CREDENTIAL:http_token}' },
      gallery: { path: path.join(dir, 'gallery') },
    },
    env: { CREDENTIALS_DIRECTORY: dir },
  });
  t.after(() => daemon.dispose());
  const started = await daemon.waitForLog((line) => /^HTTP server on/.test(line.msg), 60_000);
  await daemon.waitForLog((line) => /^crosscam running/.test(line.msg), 60_000);
  const door = await watcher.waitFor(
    (m) => m.topic === 'crosscam/secrets/cameras/door/status' && typeof m.payload === 'object' && (m.payload as { last_error: string | null }).last_error !== null,
    30_000,
    'the unreachable camera reporting its error',
  );
  assert.match(door.raw, /rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/, 'the error names the camera URL, redacted');
  await watcher.waitFor((m) => m.topic === 'crosscam/secrets/cameras/video/status' && m.raw.includes('"online"'), 30_000, 'the video camera online');
  await watcher.waitFor((m) => m.topic === 'crosscam/secrets/stats', 10_000, 'stats');

  const base = String(started.url);
  const unauthorised = await fetch(`${base}/api/cameras`);
  assert.equal(unauthorised.status, 401, 'the token is required');
  const answers: string[] = [];
  for (const route of ['/api/cameras', '/api/stats', '/metrics', '/readyz']) {
    const response = await fetch(`${base}${route}`, { headers: { authorization: `Bearer ${TOKEN_SECRET}` } });
    assert.ok(response.status < 500, `${route} answers`);
    answers.push(await response.text());
  }
  assert.ok(daemon.logs().length > 20, 'the daemon logged at debug level');
  assert.equal(await daemon.stop('SIGTERM'), 0);

  const places = { 'log line': daemon.stderr(), stdout: daemon.stdout(), 'MQTT payload': watcher.messages.map((m) => `${m.topic} ${m.raw}`).join('\n'), 'HTTP answer': answers.join('\n') };
  for (const [where, text] of Object.entries(places)) {
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} appears in a ${where}: …${text.slice(Math.max(0, text.indexOf(secret) - 200), text.indexOf(secret) + 50)}`);
  }
});
