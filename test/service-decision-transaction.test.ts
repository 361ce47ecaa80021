/**
 * A decision, its gallery writes and its `matches` message commit in one LMDB transaction:
 * the message is in the outbox the moment the decision returns (nothing left for a crash to
 * lose), and a failed outbox write takes the decision back with it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { normalised } from '../src/core/vectors.js';
import type { TrackSighting } from '../src/pipeline/camera-pipeline.js';
import type { MatchMessage } from '../src/publish/messages.js';
import { MqttPublisher } from '../src/publish/mqtt-publisher.js';
import { Outbox } from '../src/publish/outbox.js';
import type { DaemonEvents } from '../src/service/daemon-events.js';
import { EventBus } from '../src/service/event-bus.js';
import { MatchStage } from '../src/service/match-stage.js';
import { PublishStage } from '../src/service/publish-stage.js';
import { openTestMatching } from './support/matching-fixture.js';
import { fakeConnector } from './support/mqtt-fakes.js';

const silent = pino({ level: 'silent' });

function sighting(cameraId: string, trackId: number, atS: number): TrackSighting {
  const box = { x1: 10, y1: 10, x2: 50, y2: 130 };
  return {
    cameraId, trackId, objectClass: 'person', state: 'confirmed', score: 0.9, quality: 0.8, box,
    firstSeenAt: atS * 1000, lastSeenAt: atS * 1000 + 4000, firstPts: atS, lastPts: atS + 4, firstFrameIndex: 0, lastFrameIndex: 20,
    bestCrop: { pts: atS + 2, frameIndex: 10, quality: 0.8, box },
  };
}

test('a match decision and its MQTT message commit together, or not at all', async (t) => {
  const { store, gallery, matcher } = await openTestMatching(t, 'crosscam-decision-tx-');
  const bus = new EventBus<DaemonEvents>(silent);
  const outbox = new Outbox(store, { maxMessages: 100, logger: silent });
  // Never connected: whatever is in the outbox got there by the decision's transaction.
  const publisher = new MqttPublisher({ url: 'mqtt://broker.test', baseTopic: 'crosscam', nodeId: 'edge-1', protocolVersion: 5, keepaliveS: 30, eventQos: 1, outbox, logger: silent, connector: fakeConnector().connector });
  const publishStage = new PublishStage({ bus, publisher, logger: silent });
  publishStage.start();
  new MatchStage({ bus, matcher, logger: silent, announce: publishStage.announceDecision }).start();
  const walker = normalised(Float32Array.of(1, 0.2, 0.1));

  bus.emit('track', { type: 'end', sighting: sighting('left', 1, 100), zones: [], at: 104_000, embedding: walker });
  bus.emit('track', { type: 'end', sighting: sighting('right', 5, 130), zones: [], at: 134_000, embedding: walker });
  // No await: the decision has returned, so its message must already be committed.
  const stored = outbox.read(0, 10);
  assert.equal(stored.length, 1, 'the match message is committed with the decision');
  const message = JSON.parse(stored[0]!.payload) as MatchMessage;
  assert.equal(stored[0]!.topic, 'crosscam/edge-1/matches');
  const identity = message.identity;
  assert.deepEqual(gallery.sightingsOf(identity).map((s) => s.cameraId).sort(), ['left', 'right']);

  // The outbox write fails: the gallery keeps nothing of that decision either.
  const original = outbox.enqueueInTransaction.bind(outbox);
  outbox.enqueueInTransaction = () => {
    throw new Error('MDB_MAP_FULL (injected)');
  };
  bus.emit('track', { type: 'end', sighting: sighting('left', 9, 160), zones: [], at: 164_000, embedding: walker });
  outbox.enqueueInTransaction = original;
  gallery.refresh();
  assert.deepEqual(gallery.sightingsOf(identity).map((s) => `${s.cameraId}#${s.trackId}`).sort(), ['left#1', 'right#5'], 'the failed decision was rolled back');
  assert.equal(outbox.read(0, 10).length, 1);
});
