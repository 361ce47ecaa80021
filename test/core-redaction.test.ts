import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSecrets } from '../src/config/secrets.js';
import { SecretRedactor } from '../src/core/redaction.js';

test('the redactor masks URL credentials and remembered values in strings, nested objects and errors', () => {
  const redactor = new SecretRedactor();
  redactor.remember(['hunter2-token', undefined, 'abc']);
  assert.equal(redactor.redact('GET with hunter2-token twice hunter2-token'), 'GET with *** twice ***');
  assert.equal(redactor.redact('abc stays: too short to be told from words'), 'abc stays: too short to be told from words');
  assert.equal(redactor.redact('mqtt://user:pw@host:1883'), 'mqtt://***:***@host:1883');
  const error = new TypeError('connect to rtsp://a:b@cam failed, token hunter2-token');
  (error as NodeJS.ErrnoException).code = 'ECONNREFUSED';
  const copy = redactor.redactValue({ nested: [{ url: 'ws://x:y@h' }], err: error }) as { nested: [{ url: string }]; err: NodeJS.ErrnoException };
  assert.equal(copy.nested[0].url, 'ws://***:***@h');
  assert.ok(copy.err instanceof TypeError);
  assert.equal(copy.err.message, 'connect to rtsp://***:***@cam failed, token ***');
  assert.ok(!copy.err.stack!.includes('hunter2-token'));
  assert.equal(copy.err.code, 'ECONNREFUSED');
  assert.equal(error.message, 'connect to rtsp://a:b@cam failed, token hunter2-token', 'the original is untouched');
});

test('configSecrets lists passwords, the HTTP token and URL passwords (decoded)', () => {
  const secrets = configSecrets({
    mqtt: { url: 'mqtts://u:p%40ss@broker', password: 'mqtt-pass' },
    http: { token: 'tok-en' },
    cameras: [{ url: 'rtsp://admin:cam%2Fpw@10.0.0.2/live' }, { url: 'rtsp://10.0.0.3/live' }, { url: '/video.mp4' }],
  });
  assert.deepEqual(secrets, ['mqtt-pass', 'tok-en', 'p@ss', 'cam/pw']);
});
