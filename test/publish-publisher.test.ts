import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { z } from 'zod';
import { openStateStore, type RootDatabase } from '../src/core/state-store.js';
import { buildCameraStatusMessage, buildMatchMessage, buildStatsMessage } from '../src/publish/builders.js';
import type { MatchMessage } from '../src/publish/messages.js';
import { MqttPublisher, type MqttPublisherOptions } from '../src/publish/mqtt-publisher.js';
import { Outbox } from '../src/publish/outbox.js';
import { defineCommand } from '../src/publish/requests.js';
import { fakeConnector, FakeTimers, memoryLogger, type FakeClient } from './support/mqtt-fakes.js';
import { cameraStatus, matchDecision, publishMatchCommitted, statsSnapshot } from './support/publish-fixtures.js';

const MATCHES = 'crosscam/edge-1/matches';
const AVAILABLE = 'crosscam/edge-1/available';

function match(n: number): MatchMessage {
  return { ...buildMatchMessage(matchDecision), event_id: `ev-${n}` };
}
const eventIds = (client: FakeClient) => client.on(MATCHES).map((entry) => (JSON.parse(entry.payload) as MatchMessage).event_id);

function harness(t: TestContext, overrides: Partial<MqttPublisherOptions> = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-publisher-'));
  const roots: RootDatabase[] = [];
  t.after(async () => {
    for (const root of roots) await root.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const timers = new FakeTimers();
  const fake = fakeConnector();
  const log = memoryLogger();
  const create = (extra: Partial<MqttPublisherOptions> = {}) => {
    const root = openStateStore({ path: dir, mapSizeMb: 64 });
    roots.push(root);
    const outbox = new Outbox(root, { maxMessages: 1000, logger: log.logger });
    const publisher = new MqttPublisher({
      url: 'mqtt://broker.test:1883',
      baseTopic: 'crosscam',
      nodeId: 'edge-1',
      protocolVersion: 5,
      keepaliveS: 30,
      eventQos: 1,
      outbox,
      logger: log.logger,
      backoff: { minDelayMs: 1000, maxDelayMs: 8000 },
      maxInFlight: 3,
      connector: fake.connector,
      timers,
      random: () => 0.5,
      ...overrides,
      ...extra,
    });
    const publishMatch = (message: MatchMessage) => publishMatchCommitted(root, publisher, message);
    return { publisher, outbox, root, publishMatch };
  };
  return { timers, fake, log, create, latest: () => fake.clients.at(-1)! };
}

test('connect: Last Will and client id, then online (retained), request subscription and camera statuses', async (t) => {
  const h = harness(t);
  const { publisher } = h.create();
  publisher.publishCameraStatus(buildCameraStatusMessage(cameraStatus)); // before connecting: kept for later
  publisher.start();
  const client = h.latest();
  assert.deepEqual(client.options.will, { topic: AVAILABLE, payload: 'offline', qos: 1, retain: true });
  assert.equal(client.options.clientId, 'crosscam-edge-1');
  assert.equal(client.options.protocolVersion, 5);
  assert.equal(client.published.length, 0, 'nothing is sent before CONNACK');

  client.events.onConnect({});
  assert.equal(publisher.connected, true);
  assert.deepEqual(client.published.map((entry) => [entry.topic, entry.payload, entry.options.retain, entry.options.qos]), [
    [AVAILABLE, 'online', true, 1],
    ['crosscam/edge-1/cameras/gate-left/status', JSON.stringify(buildCameraStatusMessage(cameraStatus)), true, 1],
  ]);
  assert.deepEqual(client.subscriptions, [{ topicFilter: 'crosscam/edge-1/request/+', qos: 1 }]);

  publisher.clearCameraStatus('gate-left');
  assert.deepEqual(client.published.at(-1)?.payload, '', 'an empty retained message deletes the status');
});

test('events are committed to the outbox before they are published, at most maxInFlight at a time, in order', async (t) => {
  const h = harness(t);
  const { publisher, outbox, publishMatch } = h.create();
  publisher.start();
  const client = h.latest();
  client.events.onConnect({});
  await Promise.all([1, 2, 3, 4, 5].map((n) => publishMatch(match(n))));
  assert.deepEqual(eventIds(client), ['ev-1', 'ev-2', 'ev-3']);
  assert.deepEqual(client.on(MATCHES)[0].options, { qos: 1, retain: false });
  assert.equal(outbox.read(0, 10).length, 5, 'all five are stored');
  assert.deepEqual(publisher.counts(), { pending: 5, dropped: 0, inFlight: 3, rejected: 0 });

  client.on(MATCHES)[1].done(); // PUBACK for ev-2 frees one slot
  assert.deepEqual(eventIds(client), ['ev-1', 'ev-2', 'ev-3', 'ev-4']);
  for (const entry of client.on(MATCHES)) entry.done();
  assert.deepEqual(eventIds(client), ['ev-1', 'ev-2', 'ev-3', 'ev-4', 'ev-5']);
  client.on(MATCHES)[4].done();
  assert.deepEqual(publisher.counts(), { pending: 0, dropped: 0, inFlight: 0, rejected: 0 });
  assert.deepEqual(outbox.read(0, 10), []);
});

test('a disconnect pauses publishing; after reconnect the unacknowledged go out first, oldest first; late acks are ignored', async (t) => {
  const h = harness(t);
  const { publisher, outbox, publishMatch } = h.create();
  publisher.start();
  const first = h.latest();
  first.events.onConnect({});
  await Promise.all([1, 2, 3, 4].map((n) => publishMatch(match(n))));
  first.on(MATCHES)[0].done(); // ev-1 acknowledged
  assert.deepEqual(eventIds(first), ['ev-1', 'ev-2', 'ev-3', 'ev-4']);

  first.events.onClose();
  assert.equal(publisher.connected, false);
  assert.equal(first.endedWithForce, true);
  await publishMatch(match(5)); // during the outage: stored only
  assert.equal(eventIds(first).length, 4);
  first.on(MATCHES)[1].done(); // a callback from the dead connection
  assert.equal(outbox.counts().pending, 4, 'ev-2 is still pending: its PUBACK never came on a live connection');

  assert.deepEqual(h.timers.pendingDelays(), [1000]);
  h.timers.advance(1000);
  const second = h.latest();
  assert.notEqual(second, first, 'a fresh client (and MQTT.js store) per connection');
  second.events.onConnect({});
  assert.deepEqual(eventIds(second), ['ev-2', 'ev-3', 'ev-4']);
  await publishMatch(match(6));
  for (const entry of second.on(MATCHES)) entry.done();
  for (const entry of second.on(MATCHES)) entry.done();
  assert.deepEqual(eventIds(second), ['ev-2', 'ev-3', 'ev-4', 'ev-5', 'ev-6']);
  assert.equal(second.on(AVAILABLE)[0].payload, 'online');
});

test('reconnect backoff doubles up to the cap and resets after a successful connect', (t) => {
  const h = harness(t);
  const { publisher } = h.create();
  publisher.start();
  const delays: number[] = [];
  for (let attempt = 0; attempt < 5; attempt++) {
    h.latest().events.onError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    h.latest().events.onClose();
    delays.push(h.timers.pendingDelays()[0]);
    h.timers.advance(delays.at(-1)!);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000]);
  assert.equal(h.fake.clients.length, 6);
  h.latest().events.onConnect({});
  h.latest().events.onClose();
  assert.deepEqual(h.timers.pendingDelays(), [1000]);
  const warnings = h.log.records.filter((record) => record.level === 40 && record.msg === 'MQTT: connection error');
  assert.equal(warnings.length, 1, 'one warning per outage, not per attempt');
});

test('a broker that refuses MQTT 5 gets 3.1.1 on the next attempt, at once, with one log line', (t) => {
  const h = harness(t);
  const { publisher } = h.create();
  publisher.start();
  h.latest().events.onError(Object.assign(new Error('Connection refused: Unacceptable protocol version'), { code: 1 }));
  h.latest().events.onClose();
  assert.deepEqual(h.timers.pendingDelays(), [0]);
  h.timers.advance(0);
  assert.equal(h.latest().options.protocolVersion, 4);
  h.latest().events.onConnect({});
  assert.equal(publisher.connected, true);
  assert.equal(h.log.records.filter((record) => /falling back to 3\.1\.1/.test(String(record.msg))).length, 1);
});

test("the broker's receive maximum caps the in-flight window", async (t) => {
  const h = harness(t, { maxInFlight: 10 });
  const { publisher, publishMatch } = h.create();
  publisher.start();
  h.latest().events.onConnect({ receiveMaximum: 2 });
  await Promise.all([1, 2, 3, 4].map((n) => publishMatch(match(n))));
  assert.deepEqual(eventIds(h.latest()), ['ev-1', 'ev-2']);
});

test('an event the broker refuses with a reason code is dropped and counted, not retried forever', async (t) => {
  const h = harness(t);
  const { publisher, publishMatch } = h.create();
  publisher.start();
  const client = h.latest();
  client.events.onConnect({});
  await publishMatch(match(1));
  await publishMatch(match(2));
  client.on(MATCHES)[0].done(Object.assign(new Error('Publish error: Not authorized'), { code: 0x87 }));
  client.on(MATCHES)[1].done();
  assert.deepEqual(publisher.counts(), { pending: 0, dropped: 0, inFlight: 0, rejected: 1 });
});

test('QoS 0 events and stats bypass the outbox and are dropped while disconnected', async (t) => {
  const h = harness(t, { eventQos: 0 });
  const { publisher, outbox, publishMatch } = h.create();
  publisher.start();
  await publishMatch(match(1));
  publisher.publishStats(buildStatsMessage(statsSnapshot));
  h.latest().events.onConnect({});
  await publishMatch(match(2));
  publisher.publishStats(buildStatsMessage(statsSnapshot));
  assert.deepEqual(eventIds(h.latest()), ['ev-2']);
  assert.equal(h.latest().on(MATCHES)[0].options.qos, 0);
  assert.equal(h.latest().on('crosscam/edge-1/stats').length, 1);
  assert.equal(outbox.counts().pending, 0);
});

test('requests arriving on the connection are answered through it', async (t) => {
  const h = harness(t, {
    commands: { echo: defineCommand(z.object({ text: z.string() }), async (input) => ({ text: input.text })) },
  });
  const { publisher } = h.create();
  publisher.start();
  const client = h.latest();
  client.events.onConnect({});
  client.events.onMessage({ topic: 'crosscam/edge-1/request/echo', payload: Buffer.from('{"text":"hi"}'), responseTopic: 'me/replies', correlationData: Buffer.from('c1') });
  await new Promise((resolve) => setImmediate(resolve));
  const [reply] = client.on('me/replies');
  assert.deepEqual(JSON.parse(reply.payload), { ok: true, result: { text: 'hi' } });
  assert.deepEqual(reply.options.correlationData, Buffer.from('c1'));
});

test('stop drains, publishes offline (retained) and disconnects cleanly', async (t) => {
  const h = harness(t);
  const { publisher, publishMatch } = h.create();
  publisher.start();
  const client = h.latest();
  client.events.onConnect({});
  await publishMatch(match(1));
  const stopped = publisher.stop({ drainTimeoutMs: 5000 });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(client.on(AVAILABLE).length, 1, 'offline waits for the drain');
  client.on(MATCHES)[0].done();
  await new Promise((resolve) => setImmediate(resolve));
  const offline = client.on(AVAILABLE)[1];
  assert.deepEqual([offline.payload, offline.options.retain], ['offline', true]);
  offline.done();
  await stopped;
  assert.equal(client.endedWithForce, false);
});

test('stop with an unresponsive broker gives up after the drain timeout and drops the socket (the Will says offline)', async (t) => {
  const h = harness(t);
  const { publisher, outbox, publishMatch } = h.create();
  publisher.start();
  const client = h.latest();
  client.events.onConnect({});
  await publishMatch(match(1));
  const stopped = publisher.stop({ drainTimeoutMs: 5000 });
  h.timers.advance(5000);
  await stopped;
  assert.equal(client.on(AVAILABLE).length, 1, 'no offline publish: the Will does it');
  assert.equal(client.endedWithForce, true);
  assert.equal(outbox.counts().pending, 1, 'kept for the next start');
  assert.deepEqual(h.timers.pendingDelays(), [], 'no reconnect after stop');
});

test('events left in the outbox by a previous run are sent at the next start, before new ones', async (t) => {
  const h = harness(t);
  const firstRun = h.create();
  firstRun.publisher.start();
  await firstRun.publishMatch(match(1));
  await firstRun.publishMatch(match(2));
  await firstRun.publisher.stop({ drainTimeoutMs: 10 });
  await firstRun.root.close();

  const secondRun = h.create();
  secondRun.publisher.start();
  await secondRun.publishMatch(match(3));
  h.latest().events.onConnect({});
  assert.deepEqual(eventIds(h.latest()), ['ev-1', 'ev-2', 'ev-3']);
});
