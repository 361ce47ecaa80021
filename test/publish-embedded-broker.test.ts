import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { openStateStore } from '../src/core/state-store.js';
import { buildMatchMessage } from '../src/publish/builders.js';
import { startEmbeddedBroker } from '../src/publish/embedded-broker.js';
import { MqttPublisher } from '../src/publish/mqtt-publisher.js';
import { Outbox } from '../src/publish/outbox.js';
import { memoryLogger } from './support/mqtt-fakes.js';
import { matchDecision, publishMatchCommitted } from './support/publish-fixtures.js';
import { schemaErrors } from './support/schema-validator.js';

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the embedded aedes broker serves the publisher (after its 5 → 3.1.1 fallback) and mosquitto_sub-style clients', { timeout: 20_000 }, async (t) => {
  const { logger, records } = memoryLogger();
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
  t.after(() => broker.stop());
  assert.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-embedded-'));
  const root = openStateStore({ path: dir, mapSizeMb: 64 });
  t.after(async () => {
    await root.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const publisher = new MqttPublisher({
    url: broker.url,
    baseTopic: 'crosscam',
    nodeId: 'demo',
    protocolVersion: 5,
    keepaliveS: 10,
    eventQos: 1,
    outbox: new Outbox(root, { maxMessages: 100, logger }),
    logger,
    backoff: { minDelayMs: 100, maxDelayMs: 500 },
  });
  t.after(() => publisher.stop({ drainTimeoutMs: 200 }));
  publisher.start();
  await waitFor(() => publisher.connected, 5000, 'the publisher to connect');
  assert.equal(records.filter((record) => /falling back to 3\.1\.1/.test(String(record.msg))).length, 1);

  const subscriber = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  t.after(() => subscriber.endAsync(true));
  const received: { topic: string; payload: string; retain: boolean }[] = [];
  subscriber.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await subscriber.subscribeAsync('crosscam/demo/#', { qos: 1 });
  await waitFor(() => received.length > 0, 5000, 'retained availability');
  assert.deepEqual(received[0], { topic: 'crosscam/demo/available', payload: 'online', retain: true });

  await publishMatchCommitted(root, publisher, buildMatchMessage(matchDecision));
  await waitFor(() => received.some((m) => m.topic === 'crosscam/demo/matches'), 5000, 'the match');
  const matchPayload = JSON.parse(received.find((m) => m.topic === 'crosscam/demo/matches')!.payload) as unknown;
  assert.deepEqual(schemaErrors('match', matchPayload), []);
  await waitFor(() => publisher.counts().pending === 0, 5000, 'the PUBACK');
});

test('a port that is taken is reported, not swallowed', async (t) => {
  const { logger } = memoryLogger();
  const first = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, logger });
  t.after(() => first.stop());
  await assert.rejects(startEmbeddedBroker({ host: '127.0.0.1', port: first.port, logger }), /EADDRINUSE/);
});
