import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { answerRequest, CommandError, defineCommand, type CommandRegistry } from '../src/publish/requests.js';
import { topicsFor } from '../src/publish/topics.js';
import { memoryLogger } from './support/mqtt-fakes.js';
import { schemaErrors } from './support/schema-validator.js';

const topics = topicsFor('crosscam', 'edge-1');

function setup() {
  const calls: unknown[] = [];
  const { logger, records } = memoryLogger();
  const commands: CommandRegistry = {
    lookup: defineCommand(z.strictObject({ identity: z.string().min(1) }), async (input) => {
      calls.push(input);
      if (input.identity === 'missing') throw new CommandError('not_found', 'no such identity');
      if (input.identity === 'boom') throw new Error('disk on fire');
      return { identity: input.identity, sightings: 3 };
    }),
    forget: defineCommand(z.strictObject({ identity: z.string() }), async (input) => {
      calls.push(input);
    }),
  };
  const ask = async (command: string, payload: string | Buffer, mqtt5?: { responseTopic: string; correlationData: Buffer }) => {
    const response = await answerRequest(
      { topic: `crosscam/edge-1/request/${command}`, payload: Buffer.from(payload), ...mqtt5 },
      { topics, commands, logger },
    );
    assert.ok(response);
    const body = JSON.parse(response.payload) as Record<string, unknown>;
    assert.deepEqual(schemaErrors('response', body), [], 'response matches schemas/response.schema.json');
    return { ...response, body };
  };
  return { calls, records, ask };
}

test('plain JSON request: answered on response/<command>, echoing request_id; request_id is not handler input', async () => {
  const { calls, ask } = setup();
  const response = await ask('lookup', JSON.stringify({ request_id: 'r-1', identity: 'id-7' }));
  assert.equal(response.topic, 'crosscam/edge-1/response/lookup');
  assert.equal(response.correlationData, undefined);
  assert.deepEqual(response.body, { ok: true, result: { identity: 'id-7', sightings: 3 }, request_id: 'r-1' });
  assert.deepEqual(calls, [{ identity: 'id-7' }]);
});

test('MQTT 5 request: answered on its response topic with its correlation data', async () => {
  const { ask } = setup();
  const correlationData = Buffer.from([1, 2, 3, 250]);
  const response = await ask('lookup', '{"identity":"id-7"}', { responseTopic: 'operator/42/replies', correlationData });
  assert.equal(response.topic, 'operator/42/replies');
  assert.deepEqual(response.correlationData, correlationData);
  assert.equal(response.body.ok, true);
  assert.equal('request_id' in response.body, false);
});

test('a handler result of undefined is sent as null', async () => {
  const { ask } = setup();
  assert.deepEqual((await ask('forget', '{"identity":"id-7"}')).body, { ok: true, result: null });
});

test('malformed requests get an error response and reach no handler', async () => {
  const { calls, ask } = setup();
  const notJson = await ask('lookup', '{identity: id-7');
  assert.equal((notJson.body.error as { code: string }).code, 'bad_request');
  const notObject = await ask('lookup', '[1,2]');
  assert.equal((notObject.body.error as { code: string }).code, 'bad_request');
  const unknown = await ask('self-destruct', '{"request_id":"r-9"}');
  assert.equal(unknown.topic, 'crosscam/edge-1/response/self-destruct');
  assert.deepEqual(unknown.body, {
    ok: false,
    error: { code: 'unknown_command', message: 'unknown command "self-destruct" (known: forget, lookup)' },
    request_id: 'r-9',
  });
  const invalid = await ask('lookup', '{"request_id":"r-3","identity":""}');
  assert.equal((invalid.body.error as { code: string }).code, 'invalid_input');
  assert.match((invalid.body.error as { message: string }).message, /identity/);
  assert.equal(invalid.body.request_id, 'r-3');
  const extraKey = await ask('lookup', '{"identity":"id-7","drop_table":true}');
  assert.equal((extraKey.body.error as { code: string }).code, 'invalid_input');
  const prototypeKey = await ask('constructor', '{}');
  assert.equal((prototypeKey.body.error as { code: string }).code, 'unknown_command');
  assert.deepEqual(calls, []);
});

test('handler failures become error responses: CommandError keeps its code, anything else is logged as internal_error', async () => {
  const { ask, records } = setup();
  const missing = await ask('lookup', '{"identity":"missing"}');
  assert.deepEqual(missing.body, { ok: false, error: { code: 'not_found', message: 'no such identity' } });
  assert.equal(records.filter((record) => record.level === 50).length, 0);
  const boom = await ask('lookup', '{"identity":"boom"}');
  assert.deepEqual(boom.body, { ok: false, error: { code: 'internal_error', message: 'command failed: disk on fire' } });
  assert.equal(records.filter((record) => record.level === 50 && record.command === 'lookup').length, 1);
});

test('messages outside request/<command> are not requests', async () => {
  const { logger } = memoryLogger();
  const response = await answerRequest({ topic: 'crosscam/edge-1/request/a/b', payload: Buffer.from('{}') }, { topics, commands: {}, logger });
  assert.equal(response, null);
});

test('limits: an oversized request is refused unread, error messages and echoed names are cut, an oversized result is refused', async () => {
  const { logger } = memoryLogger();
  const commands: CommandRegistry = {
    dump: defineCommand(z.strictObject({ items: z.int().min(0) }), async (input) => ({ items: Array.from({ length: input.items }, (_, i) => `item-${i}`) })),
  };
  const limits = { maxRequestBytes: 1024 * 1024, maxResponseBytes: 4096, maxMessageChars: 300 };
  const ask = async (command: string, payload: string) => {
    const response = await answerRequest({ topic: `crosscam/edge-1/request/${command}`, payload: Buffer.from(payload) }, { topics, commands, logger, limits });
    assert.ok(response);
    const body = JSON.parse(response.payload) as { ok: boolean; error?: { code: string; message: string }; result?: { items: string[] } };
    assert.deepEqual(schemaErrors('response', body), []);
    return { size: response.payload.length, body };
  };

  const tooLarge = await ask('dump', JSON.stringify({ items: 1, pad: 'x'.repeat(1024 * 1024) }));
  assert.equal(tooLarge.body.error?.code, 'too_large');

  // ~60,000 unknown keys in under 1 MB: zod lists every one; the answer stays small.
  const keys = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, 1]));
  const unknownKeys = await ask('dump', JSON.stringify({ items: 1, ...keys }));
  assert.equal(unknownKeys.body.error?.code, 'invalid_input');
  assert.ok(unknownKeys.size < 1000, `answer of ${unknownKeys.size} bytes`);
  assert.match(unknownKeys.body.error!.message, /… \(\d+ more characters\)$/);

  const longName = await ask('x'.repeat(60_000), '{}');
  assert.equal(longName.body.error?.code, 'unknown_command');
  assert.ok(longName.size < 500, `the 60 KB name is not echoed (${longName.size} bytes)`);

  assert.equal((await ask('dump', JSON.stringify({ items: 10 }))).body.result?.items.length, 10);
  const tooBig = await ask('dump', JSON.stringify({ items: 10_000 }));
  assert.equal(tooBig.body.error?.code, 'response_too_large');
  assert.match(tooBig.body.error!.message, /requests\.max_response_kb \(4\)/);
});
