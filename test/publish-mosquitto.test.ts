import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { z } from 'zod';
import { openStateStore, type RootDatabase } from '../src/core/state-store.js';
import { connectMqttJs, type BrokerClient, type BrokerConnector } from '../src/publish/broker-client.js';
import { buildCameraStatusMessage, buildMatchMessage, buildSightingMessage, buildStatsMessage } from '../src/publish/builders.js';
import type { MatchMessage, MessageType } from '../src/publish/messages.js';
import { MqttPublisher, type MqttPublisherOptions } from '../src/publish/mqtt-publisher.js';
import { Outbox } from '../src/publish/outbox.js';
import { CommandError, defineCommand } from '../src/publish/requests.js';
import { HAVE_MOSQUITTO, startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { memoryLogger } from './support/mqtt-fakes.js';
import { freePort } from './support/ports.js';
import { cameraStatus, matchDecision, sightingEvent, statsSnapshot, publishMatchCommitted } from './support/publish-fixtures.js';
import { schemaErrors } from './support/schema-validator.js';

const skip = HAVE_MOSQUITTO ? false : 'mosquitto is not installed (apt-get install mosquitto)';
const BASE = 'crosscam/edge-1';

/** Which store each publisher's outbox is in, for publishMatch. */
const storeOf = new Map<MqttPublisher, RootDatabase>();
const publishMatch = (publisher: MqttPublisher, message: MatchMessage) => publishMatchCommitted(storeOf.get(publisher)!, publisher, message);

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
  correlationData?: Buffer;
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function match(n: number): MatchMessage {
  return { ...buildMatchMessage(matchDecision), event_id: `ev-${n}` };
}

/** Everything the test owns is closed in t.after, also when an assertion fails. */
function environment(t: TestContext) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-mqtt-it-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const log = memoryLogger();
  return {
    log,
    async broker(persistence = false): Promise<Mosquitto> {
      const broker = await startMosquitto({ persistence });
      cleanups.push(() => broker.dispose());
      return broker;
    },
    openStore(): RootDatabase {
      const root = openStateStore({ path: path.join(dir, 'state'), mapSizeMb: 64 });
      cleanups.push(() => root.close());
      return root;
    },
    publisher(root: RootDatabase, options: Partial<MqttPublisherOptions> & { url: string; maxMessages?: number }): MqttPublisher {
      const outbox = new Outbox(root, { maxMessages: options.maxMessages ?? 10_000, logger: log.logger });
      const publisher = new MqttPublisher({
        baseTopic: 'crosscam',
        nodeId: 'edge-1',
        protocolVersion: 5,
        keepaliveS: 10,
        eventQos: 1,
        outbox,
        logger: log.logger,
        backoff: { minDelayMs: 200, maxDelayMs: 1000 },
        ...options,
      });
      cleanups.push(() => publisher.stop({ drainTimeoutMs: 200 }));
      storeOf.set(publisher, root);
      return publisher;
    },
    async subscriber(url: string, filters: string[], options: IClientOptions = {}): Promise<{ client: MqttClient; received: Received[] }> {
      const client = await mqtt.connectAsync(url, { reconnectPeriod: 200, ...options });
      cleanups.push(() => client.endAsync(true));
      const received: Received[] = [];
      client.on('message', (topic, payload, packet) =>
        received.push({ topic, payload: payload.toString(), retain: packet.retain, qos: packet.qos, correlationData: packet.properties?.correlationData }),
      );
      await client.subscribeAsync(filters, { qos: 1 });
      return { client, received };
    },
  };
}

const ids = (received: Received[]) => received.filter((m) => m.topic === `${BASE}/matches`).map((m) => (JSON.parse(m.payload) as MatchMessage).event_id);
const expectedIds = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `ev-${from + i}`);

function firstOccurrences(values: string[]): { order: string[]; duplicates: number } {
  const seen = new Set<string>();
  for (const value of values) seen.add(value);
  return { order: [...seen], duplicates: values.length - seen.size };
}

test('topics, payloads, retained flags and the Last Will on a real Mosquitto', { skip, timeout: 30_000 }, async (t) => {
  const env = environment(t);
  const broker = await env.broker();
  const clients: BrokerClient[] = [];
  const connector: BrokerConnector = (options, events) => {
    const client = connectMqttJs(options, events);
    clients.push(client);
    return client;
  };
  const publisher = env.publisher(env.openStore(), { url: broker.url, connector });
  publisher.start();
  await waitFor(() => publisher.connected, 5000, 'the publisher to connect');

  const watcher = await env.subscriber(broker.url, [`${BASE}/#`], { protocolVersion: 5 });
  await waitFor(() => watcher.received.some((m) => m.topic === `${BASE}/available`), 5000, 'retained availability');
  assert.deepEqual(watcher.received[0], { topic: `${BASE}/available`, payload: 'online', retain: true, qos: 1, correlationData: undefined });

  publisher.publishCameraStatus(buildCameraStatusMessage(cameraStatus));
  await publisher.publishSighting(buildSightingMessage(sightingEvent));
  await publishMatch(publisher, buildMatchMessage(matchDecision));
  publisher.publishStats(buildStatsMessage(statsSnapshot));
  const byTopic = (suffix: string) => watcher.received.find((m) => m.topic === `${BASE}/${suffix}`);
  await waitFor(() => ['cameras/gate-left/status', 'sightings', 'matches', 'stats'].every((s) => byTopic(s) !== undefined), 5000, 'all message types');

  const published: [string, MessageType, number][] = [
    ['cameras/gate-left/status', 'camera-status', 1],
    ['sightings', 'sighting', 1],
    ['matches', 'match', 1],
    ['stats', 'stats', 0],
  ];
  for (const [suffix, type, qos] of published) {
    const message = byTopic(suffix)!;
    assert.deepEqual(schemaErrors(type, JSON.parse(message.payload)), [], `${suffix} payload vs schemas/${type}.schema.json`);
    assert.equal(message.qos, qos, `${suffix} QoS`);
    assert.equal(message.retain, false, 'live deliveries are not flagged retained');
  }
  const late = await env.subscriber(broker.url, [`${BASE}/cameras/+/status`, `${BASE}/matches`]);
  await waitFor(() => late.received.length > 0, 5000, 'the retained camera status');
  assert.deepEqual(late.received.map((m) => [m.topic, m.retain]), [[`${BASE}/cameras/gate-left/status`, true]], 'status is retained, matches are not');

  // A crash (socket dropped without DISCONNECT): Mosquitto publishes the Will; the publisher comes back online.
  const availability = () => watcher.received.filter((m) => m.topic === `${BASE}/available`).map((m) => m.payload);
  await clients.at(-1)!.end(true);
  await waitFor(() => availability().length >= 3, 5000, 'offline (Will) then online again');
  assert.deepEqual(availability().slice(0, 3), ['online', 'offline', 'online']);
  await waitFor(() => watcher.received.filter((m) => m.topic === `${BASE}/cameras/gate-left/status`).length >= 2, 5000, 'status re-published');

  await publisher.stop();
  const after = await env.subscriber(broker.url, [`${BASE}/available`]);
  await waitFor(() => after.received.length > 0, 5000, 'retained offline');
  assert.deepEqual(after.received.map((m) => [m.payload, m.retain]), [['offline', true]]);
});

test('QoS 1 outbox: 50 events across a broker outage arrive complete and in order', { skip, timeout: 45_000 }, async (t) => {
  const env = environment(t);
  const broker = await env.broker(true);
  // A persistent session (3.1.1, clean false) so the subscriber misses nothing while it reconnects.
  const sub = await env.subscriber(broker.url, [`${BASE}/matches`], { protocolVersion: 4, clean: false, clientId: 'outage-subscriber' });
  const publisher = env.publisher(env.openStore(), { url: broker.url });
  publisher.start();
  await waitFor(() => publisher.connected, 5000, 'the publisher to connect');

  for (let n = 1; n <= 20; n++) await publishMatch(publisher, match(n));
  // A burst the frozen broker does not acknowledge, then the broker goes down: all of it is in flight.
  broker.freeze();
  await Promise.all(Array.from({ length: 20 }, (_, i) => publishMatch(publisher, match(21 + i))));
  await new Promise((resolve) => setTimeout(resolve, 200));
  const inFlightAtStop = publisher.counts().inFlight;
  assert.equal(inFlightAtStop, 20, 'the whole in-flight window is unacknowledged');
  await broker.stop();
  for (let n = 41; n <= 50; n++) await publishMatch(publisher, match(n));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(publisher.connected, false);
  const pendingInOutage = publisher.counts().pending;
  assert.ok(pendingInOutage >= 10, `pending during the outage: ${pendingInOutage}`);
  await broker.restart();

  await waitFor(() => new Set(ids(sub.received)).size === 50, 20_000, 'all 50 events at the subscriber');
  await waitFor(() => publisher.counts().pending === 0, 5000, 'the outbox to empty');
  const { order, duplicates } = firstOccurrences(ids(sub.received));
  assert.deepEqual(order, expectedIds(1, 50), 'first deliveries in publish order');
  t.diagnostic(`in flight when the broker stopped: ${inFlightAtStop}; pending during the outage: ${pendingInOutage}; duplicates at the subscriber: ${duplicates} of ${ids(sub.received).length} deliveries`);
  assert.ok(duplicates <= 20, `duplicates (${duplicates}) are bounded by the in-flight window`);
});

test('a restarted publisher delivers what the previous run left in the outbox; a full outbox drops the oldest', { skip, timeout: 30_000 }, async (t) => {
  const env = environment(t);
  const broker = await env.broker();
  const sub = await env.subscriber(broker.url, [`${BASE}/matches`]);
  const nowhere = `mqtt://127.0.0.1:${await freePort()}`;

  const firstRoot = env.openStore();
  const first = env.publisher(firstRoot, { url: nowhere, maxMessages: 5 });
  first.start();
  for (let n = 1; n <= 12; n++) await publishMatch(first, match(n));
  assert.deepEqual(first.counts(), { pending: 5, dropped: 7, inFlight: 0, rejected: 0 });
  assert.ok(env.log.records.some((r) => r.level === 40 && /outbox full/.test(String(r.msg))), 'drops are logged');
  await first.stop({ drainTimeoutMs: 100 });
  await firstRoot.close();

  const second = env.publisher(env.openStore(), { url: broker.url, maxMessages: 5 });
  second.start();
  await waitFor(() => ids(sub.received).length >= 5, 10_000, 'the left-over events');
  await waitFor(() => second.counts().pending === 0, 5000, 'the outbox to empty');
  assert.deepEqual(ids(sub.received), expectedIds(8, 12));
});

test('requests over MQTT 5 (response topic + correlation data) and plain JSON; malformed ones get an error', { skip, timeout: 30_000 }, async (t) => {
  const env = environment(t);
  const broker = await env.broker();
  const forgotten: string[] = [];
  const commands = {
    forget: defineCommand(z.strictObject({ identity: z.string().min(1) }), async ({ identity }) => {
      if (identity === 'unknown') throw new CommandError('not_found', `no identity ${identity}`);
      forgotten.push(identity);
      return { forgotten: identity };
    }),
  };
  const publisher = env.publisher(env.openStore(), { url: broker.url, commands });
  publisher.start();
  await waitFor(() => publisher.connected, 5000, 'the publisher to connect');
  await new Promise((resolve) => setTimeout(resolve, 200)); // SUBACK for request/+

  const v5 = await env.subscriber(broker.url, ['operator/replies'], { protocolVersion: 5 });
  const correlationData = Buffer.from('corr-1');
  await v5.client.publishAsync(`${BASE}/request/forget`, '{"identity":"id-3"}', { qos: 1, properties: { responseTopic: 'operator/replies', correlationData } });
  await waitFor(() => v5.received.length > 0, 5000, 'the MQTT 5 response');
  assert.deepEqual(JSON.parse(v5.received[0].payload), { ok: true, result: { forgotten: 'id-3' } });
  assert.deepEqual(v5.received[0].correlationData, correlationData);

  const plain = await env.subscriber(broker.url, [`${BASE}/response/+`], { protocolVersion: 4 });
  await plain.client.publishAsync(`${BASE}/request/forget`, '{"request_id":"r-7","identity":"unknown"}', { qos: 1 });
  await plain.client.publishAsync(`${BASE}/request/forget`, 'forget everything', { qos: 1 });
  await plain.client.publishAsync(`${BASE}/request/format-disk`, '{"request_id":"r-8"}', { qos: 1 });
  await waitFor(() => plain.received.length >= 3, 5000, 'three plain responses');
  // Handlers run concurrently, so responses may come in any order.
  const bodies = plain.received.map((m) => [m.topic, JSON.parse(m.payload) as { ok: boolean; request_id?: string; error?: { code: string } }] as const);
  const summary = bodies.map(([topic, body]) => [topic, body.ok, body.error?.code, body.request_id]);
  summary.sort((a, b) => String(a[2]).localeCompare(String(b[2])));
  assert.deepEqual(summary, [
    [`${BASE}/response/forget`, false, 'bad_request', undefined],
    [`${BASE}/response/forget`, false, 'not_found', 'r-7'],
    [`${BASE}/response/format-disk`, false, 'unknown_command', 'r-8'],
  ]);
  for (const [, body] of bodies) assert.deepEqual(schemaErrors('response', body), []);
  assert.deepEqual(forgotten, ['id-3'], 'malformed requests changed nothing');
});

test('throughput and enqueue latency to Mosquitto', { skip, timeout: 60_000 }, async (t) => {
  const env = environment(t);
  const broker = await env.broker();
  const sub = await env.subscriber(broker.url, [`${BASE}/matches`]);
  const publisher = env.publisher(env.openStore(), { url: broker.url });
  publisher.start();
  await waitFor(() => publisher.connected, 5000, 'the publisher to connect');

  const latencies: number[] = [];
  for (let n = 1; n <= 200; n++) {
    const started = performance.now();
    await publishMatch(publisher, match(n));
    latencies.push(performance.now() - started);
  }
  latencies.sort((a, b) => a - b);
  await waitFor(() => ids(sub.received).length >= 200, 10_000, 'the sequential events');

  const burst = 2000;
  const started = performance.now();
  await Promise.all(Array.from({ length: burst }, (_, i) => publishMatch(publisher, match(201 + i))));
  const committedMs = performance.now() - started;
  await waitFor(() => publisher.counts().pending === 0, 30_000, 'the burst to be acknowledged');
  const ackedMs = performance.now() - started;
  await waitFor(() => ids(sub.received).length >= 200 + burst, 10_000, 'the burst at the subscriber');
  const { order } = firstOccurrences(ids(sub.received));
  assert.deepEqual(order, expectedIds(1, 200 + burst));

  const quantile = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  const figures = `enqueue latency (commit to LMDB) p50 ${quantile(0.5)} ms, p99 ${quantile(0.99)} ms; burst of ${burst}: committed in ${committedMs.toFixed(0)} ms, all PUBACKed in ${ackedMs.toFixed(0)} ms = ${((burst / ackedMs) * 1000).toFixed(0)} msgs/s`;
  t.diagnostic(figures);
  assert.ok(burst / (ackedMs / 1000) > 100, figures);
});
