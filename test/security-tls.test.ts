/**
 * crosscam against a hardened Mosquitto: TLS with our own CA (made with openssl), password
 * authentication and an ACL; and a second broker that authenticates by client certificate.
 * mqtts:// with the CA works, a wrong CA is refused with a clear log line, a client
 * certificate authenticates, and a topic outside the ACL is refused and logged while the
 * daemon keeps running.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startDaemon, type DaemonProcess } from './support/daemon-process.js';
import { HAVE_MOSQUITTO, startMosquitto } from './support/mosquitto.js';
import { collectMqtt } from './support/mqtt-collector.js';
import { freePort } from './support/ports.js';
import { HAVE_SHARED_MODELS } from './support/shared-data.js';
import { makeTlsMaterial } from './support/tls.js';

const skip = !HAVE_MOSQUITTO || !HAVE_SHARED_MODELS || !existsSync('/usr/bin/openssl') ? 'mosquitto, openssl or models not found' : false;
const PASSWORD = 'daemon-Pw-91c2';

test('TLS, password auth and ACL on Mosquitto; client-certificate auth; a wrong CA is refused clearly', { skip, timeout: 150_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tls = makeTlsMaterial(dir, 'crosscam-cert');
  const acl = [
    'user crosscam',
    'topic readwrite crosscam/tls/available',
    'topic write crosscam/tls/stats',
    'topic read crosscam/tls/request/#',
    'topic write crosscam/tls/response/#',
    // crosscam/tls/cameras/# is not granted: camera status publishes are refused.
    'user watcher',
    'topic read crosscam/#',
    '',
  ].join('\n');
  const passwordBroker = await startMosquitto({ passwords: { crosscam: PASSWORD, watcher: 'watcher-pw' }, acl, tls: { ca: tls.ca, cert: tls.serverCert, key: tls.serverKey } });
  t.after(() => passwordBroker.dispose());
  const certBroker = await startMosquitto({ passwords: {}, tls: { ca: tls.ca, cert: tls.serverCert, key: tls.serverKey, requireCertificate: true } });
  t.after(() => certBroker.dispose());
  const watcher = await collectMqtt({ url: passwordBroker.url, topics: ['crosscam/#'], connect: { username: 'watcher', password: 'watcher-pw', ca: readFileSync(tls.ca) } });
  t.after(() => watcher.close());

  const closed = await freePort();
  const daemon = (nodeId: string, mqtt: object): DaemonProcess => {
    const started = startDaemon({
      config: {
        node_id: nodeId,
        cameras: [{ id: 'door', url: `rtsp://127.0.0.1:${closed}/live` }],
        mqtt: { stats_interval_s: 1, ...mqtt },
        gallery: { path: path.join(dir, `gallery-${nodeId}`) },
      },
    });
    t.after(() => started.dispose());
    return started;
  };
  const withPassword = daemon('tls', { url: `mqtts://127.0.0.1:${passwordBroker.port}`, username: 'crosscam', password: PASSWORD, tls: { ca: tls.ca } });
  const wrongCa = daemon('wrongca', { url: `mqtts://127.0.0.1:${passwordBroker.port}`, username: 'crosscam', password: PASSWORD, tls: { ca: tls.otherCa } });
  const withCertificate = daemon('cert', { url: `mqtts://127.0.0.1:${certBroker.port}`, tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey } });

  // mqtts:// with the CA and a password: connected, online and stats delivered.
  await withPassword.waitForLog((line) => line.msg === 'MQTT: connected', 60_000);
  await watcher.waitFor((m) => m.topic === 'crosscam/tls/available' && m.raw === 'online', 10_000, 'online over TLS');
  await watcher.waitFor((m) => m.topic === 'crosscam/tls/stats', 10_000, 'stats over TLS');
  // The ACL refuses the camera status: the refusal is logged, nothing crashes, nothing arrives.
  const refused = await withPassword.waitForLog((line) => /refused|failed/.test(line.msg) && JSON.stringify(line).includes('crosscam/tls/cameras/door/status'), 30_000);
  assert.match(JSON.stringify(refused), /135|not authori[sz]ed/i, 'the reason (not authorised) is in the log line');
  assert.ok(!watcher.messages.some((m) => m.topic.startsWith('crosscam/tls/cameras/')), 'nothing outside the ACL was accepted');

  // A CA that did not sign the broker's certificate: a clear error, retried, no crash.
  const error = await wrongCa.waitForLog((line) => line.msg === 'MQTT: connection error', 60_000);
  assert.match(JSON.stringify(error.err), /self[- ]signed|unable to (get|verify)|certificate/i, `the log says it is the certificate: ${JSON.stringify(error.err)}`);
  assert.ok(!wrongCa.logs().some((line) => line.msg === 'MQTT: connected'));

  // Client-certificate authentication: no password, the certificate's CN is the user.
  await withCertificate.waitForLog((line) => line.msg === 'MQTT: connected', 60_000);

  for (const running of [withPassword, wrongCa, withCertificate]) assert.equal(await running.stop('SIGTERM'), 0, 'each daemon was still running and stops cleanly');
});
