import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/load.js';
import { substituteSecrets, type SecretSources } from '../src/config/secrets.js';

function sources(env: Record<string, string>, files: Record<string, string> = {}): SecretSources & { read: string[] } {
  const read: string[] = [];
  return {
    env,
    read,
    readFile: (file) => {
      read.push(file);
      const content = files[file];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: no such file ${file}`), { code: 'ENOENT' });
      return content;
    },
  };
}

test('ENV, ENV with default, FILE and CREDENTIAL references are substituted in nested strings', () => {
  const from = sources(
    { CAM_USER: 'admin', CAM_PASSWORD: 'pa:ss', EMPTY: '', CREDENTIALS_DIRECTORY: '/run/credentials/crosscam.service' },
    { '/etc/crosscam/token': 'tok3n\n', '/run/credentials/crosscam.service/mqtt_password': 's3cret\r\n\n' },
  );
  const { value, issues } = substituteSecrets(
    {
      cameras: [{ url: 'rtsp://${ENV:CAM_USER}:${ENV:CAM_PASSWORD}@192.0.2.1/s', fps: 5, enabled: true }],
      models: { dir: '${ENV:MODELS:-../shared/models}', other: '${ENV:EMPTY:-fallback}', none: '${ENV:EMPTY:-}' },
      token: '${FILE:/etc/crosscam/token}',
      mqtt: { password: '${CREDENTIAL:mqtt_password}', retain: null },
      '${ENV:CAM_USER}': 'keys are left alone',
    },
    from,
  );
  assert.deepEqual(issues, []);
  assert.deepEqual(value, {
    cameras: [{ url: 'rtsp://admin:pa:ss@192.0.2.1/s', fps: 5, enabled: true }],
    models: { dir: '../shared/models', other: 'fallback', none: '' },
    token: 'tok3n',
    mqtt: { password: 's3cret', retain: null },
    '${ENV:CAM_USER}': 'keys are left alone',
  });
  assert.deepEqual(from.read, ['/etc/crosscam/token', '/run/credentials/crosscam.service/mqtt_password']);
});

test('$${...} is a literal ${...}; text without references is unchanged', () => {
  const { value, issues } = substituteSecrets(['cost $${ENV:X} and $5', 'plain'], sources({}));
  assert.deepEqual(issues, []);
  assert.deepEqual(value, ['cost ${ENV:X} and $5', 'plain']);
});

test('unresolvable references are issues at the key path, without the secret values', () => {
  const { issues } = substituteSecrets(
    {
      cameras: [{ url: 'rtsp://${ENV:CAM1_PASSWORD}@x' }, { url: '${FILE:/missing}' }],
      mqtt: { password: '${CREDENTIAL:mqtt_password}', username: '${CREDENTIAL:../etc/passwd}' },
      a: '${env:lower}',
      b: '${ENV:1BAD}',
      c: '${FILE:}',
    },
    sources({ OTHER: 'value' }),
  );
  assert.deepEqual(issues, [
    { keyPath: ['cameras', 0, 'url'], message: 'environment variable CAM1_PASSWORD is not set' },
    { keyPath: ['cameras', 1, 'url'], message: 'cannot read file /missing: ENOENT' },
    {
      keyPath: ['mqtt', 'password'],
      message: 'credential mqtt_password requested but CREDENTIALS_DIRECTORY is not set (systemd LoadCredential= provides it)',
    },
    { keyPath: ['mqtt', 'username'], message: '${CREDENTIAL:../etc/passwd}: a credential name must be non-empty and contain no "/"' },
    {
      keyPath: ['a'],
      message:
        'unknown reference ${env:lower}: use ${ENV:NAME}, ${ENV:NAME:-default}, ${FILE:/path} or ${CREDENTIAL:name} (write $${...} for a literal ${...})',
    },
    { keyPath: ['b'], message: '${ENV:1BAD}: "1BAD" is not a valid environment variable name' },
    { keyPath: ['c'], message: '${FILE:...} needs a file path' },
  ]);
});

test('a missing credential file names the credential and where it was looked for', () => {
  const { issues } = substituteSecrets({ p: '${CREDENTIAL:cam}' }, sources({ CREDENTIALS_DIRECTORY: '/run/credentials/x' }));
  assert.deepEqual(issues, [{ keyPath: ['p'], message: 'cannot read credential cam from /run/credentials/x/cam: ENOENT' }]);
});

test('parseConfig substitutes before validation and reports a failed reference once', () => {
  const text = `
cameras:
  - id: a
    url: \${ENV:CAM_A_URL}
  - id: b
    url: rtsps://viewer:\${CREDENTIAL:cam_b}@192.0.2.2/s
mqtt:
  password: \${FILE:/etc/crosscam/mqtt.pass}
`;
  const from = sources({ CREDENTIALS_DIRECTORY: '/creds' }, { '/creds/cam_b': 'pw\n', '/etc/crosscam/mqtt.pass': 'mq\n' });
  const failed = parseConfig(text, { env: from.env, readFile: from.readFile, hostname: 'h' });
  // The empty url left behind must not add a second "must not be empty" issue.
  assert.deepEqual(failed, { ok: false, issues: [{ path: 'cameras.0.url', message: 'environment variable CAM_A_URL is not set' }] });

  const parsed = parseConfig(text, { env: { ...from.env, CAM_A_URL: 'rtsp://192.0.2.1/s' }, readFile: from.readFile, hostname: 'h' });
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.config.cameras.map((camera) => camera.url),
    ['rtsp://192.0.2.1/s', 'rtsps://viewer:pw@192.0.2.2/s'],
  );
  assert.equal(parsed.config.mqtt.password, 'mq');
});
