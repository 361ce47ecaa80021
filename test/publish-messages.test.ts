import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  buildCameraStatusMessage,
  buildIdentitiesMergedMessage,
  buildMatchMessage,
  buildSightingMessage,
  buildStatsMessage,
  isAttachedDecision,
} from '../src/publish/builders.js';
import { renderJsonSchemas, SCHEMA_DIR } from '../src/publish/json-schemas.js';
import { MESSAGE_SCHEMAS, type MessageType } from '../src/publish/messages.js';
import { topicsFor } from '../src/publish/topics.js';
import { cameraStatus, matchDecision, sightingEvent, statsSnapshot } from './support/publish-fixtures.js';
import { REPO_ROOT, schemaErrors } from './support/schema-validator.js';

test('camera status: times become ISO strings, fps is rounded', () => {
  assert.deepEqual(buildCameraStatusMessage(cameraStatus), {
    camera: 'gate-left',
    state: 'online',
    fps: 4.99,
    last_frame_time: '2024-05-01T12:00:01.234Z',
    reconnects: 2,
    skipped_frames: 17,
    last_error: null,
    since: '2024-05-01T11:59:00.000Z',
  });
  const beforeFirstFrame = buildCameraStatusMessage({ ...cameraStatus, state: 'starting', lastFrameAt: null, lastError: 'connection refused' });
  assert.equal(beforeFirstFrame.last_frame_time, null);
  assert.equal(beforeFirstFrame.last_error, 'connection refused');
});

test('sighting: box as [x1,y1,x2,y2] frame pixels, pts of the last detection, identity and zones', () => {
  assert.deepEqual(buildSightingMessage(sightingEvent), {
    event_id: 'c7b5a3e0-6f0e-4d57-9d38-2f4b9a1e0c11',
    type: 'update',
    camera: 'gate-left',
    track_id: 12,
    class: 'person',
    time: '2024-05-01T12:00:02.000Z',
    first_seen: '2024-05-01T11:59:57.000Z',
    last_seen: '2024-05-01T12:00:01.900Z',
    box: [101.2, 50.1, 160.5, 231],
    pts: 41.2,
    score: 0.877,
    quality: 0.712,
    identity: 'id-000042',
    zones: ['entrance'],
    snapshot: null,
  });
});

test('match: both sides with camera, track, first/last seen, pts and box; similarity, margin, candidates', () => {
  assert.deepEqual(buildMatchMessage(matchDecision), {
    event_id: '5f1d2c1e-8a51-4a55-b1de-7f3f0b6b2a90',
    identity: 'id-000042',
    class: 'person',
    time: '2024-05-01T12:00:15.000Z',
    sighting: {
      camera: 'gate-right',
      track_id: 7,
      first_seen: '2024-05-01T12:00:10.000Z',
      last_seen: '2024-05-01T12:00:14.500Z',
      pts: 52.4,
      box: [20, 40, 75.6, 210],
      quality: 0.8,
      snapshot: null,
    },
    matched: {
      camera: 'gate-left',
      track_id: 12,
      first_seen: '2024-05-01T11:59:57.000Z',
      last_seen: '2024-05-01T12:00:01.900Z',
      pts: 40.8,
      box: [101.2, 50.1, 160.5, 231],
      quality: 0.712,
      snapshot: null,
    },
    similarity: 0.8123,
    margin: 0.1235,
    candidates: 5,
    watchlist_label: null,
    confidence: 0.6346,
    low_confidence: false,
    late: false,
  });
  assert.equal(buildMatchMessage({ ...matchDecision, lateMatch: true }).late, true);
  const low = buildMatchMessage({ ...matchDecision, highConfidence: false, confidence: undefined });
  assert.equal(low.low_confidence, true);
  assert.equal(low.confidence, null);
});

test('snapshot references: each side names its own track, a sighting only once it has a best crop', () => {
  const links = (track: { cameraId: string; trackId: number; firstSeenAt: number }) => {
    const id = `${track.cameraId}-${track.trackId}-${track.firstSeenAt}`;
    return { id, crop_url: `http://127.0.0.1:8080/snapshots/${id}/crop.jpg`, frame_url: `http://127.0.0.1:8080/snapshots/${id}/frame.jpg` };
  };
  const match = buildMatchMessage(matchDecision, links);
  assert.equal(match.sighting.snapshot?.id, `gate-right-7-${Date.parse('2024-05-01T12:00:10.000Z')}`);
  assert.equal(match.matched?.snapshot?.crop_url, `http://127.0.0.1:8080/snapshots/gate-left-12-${Date.parse('2024-05-01T11:59:57.000Z')}/crop.jpg`);
  assert.equal(buildSightingMessage(sightingEvent, links).snapshot, null, 'no best crop yet: nothing to show');
  const withCrop = { ...sightingEvent, track: { ...sightingEvent.track, bestCrop: { quality: 0.7, pts: 41, frameIndex: 205, box: sightingEvent.track.box } } };
  assert.equal(buildSightingMessage(withCrop, links).snapshot?.frame_url, `http://127.0.0.1:8080/snapshots/gate-left-12-${Date.parse('2024-05-01T11:59:57.000Z')}/frame.jpg`);
});

test('identities/merged: kept, merged ids, evidence and reason; the event id is stable for redelivery', () => {
  const message = buildIdentitiesMergedMessage({
    objectClass: 'person',
    kept: 'person-000003',
    merged: ['person-000009'],
    similarity: 0.712345,
    reason: 'online',
    movedSightings: 2,
    at: Date.UTC(2024, 4, 1, 12),
  });
  assert.deepEqual(message, {
    event_id: 'merge-person-000003-1714564800000',
    class: 'person',
    time: '2024-05-01T12:00:00.000Z',
    kept: 'person-000003',
    merged: ['person-000009'],
    similarity: 0.7123,
    reason: 'online',
    moved_sightings: 2,
  });
  assert.deepEqual(schemaErrors('identities-merged', message), []);
});

test('only decisions that attached to a known identity are match events', () => {
  assert.equal(isAttachedDecision(matchDecision), true);
  const { matched: _matched, similarity: _similarity, margin: _margin, ...rest } = matchDecision;
  assert.equal(isAttachedDecision({ ...rest, outcome: 'new-identity' }), false);
  assert.equal(isAttachedDecision({ ...matchDecision, outcome: 'new-identity' }), false);
});

test('a first watch-list hit is a match without an earlier sighting, carrying the label', () => {
  const { matched: _matched, ...firstHit } = matchDecision;
  const hit = { ...firstHit, watchlistLabel: 'lost child, red coat' };
  assert.equal(isAttachedDecision(hit), true);
  const message = buildMatchMessage(hit);
  assert.equal(message.matched, null);
  assert.equal(message.watchlist_label, 'lost child, red coat');
});

test('stats: per-camera figures, outbox, providers, process cpu and rss in MB', () => {
  const stats = buildStatsMessage(statsSnapshot);
  assert.equal(stats.time, '2024-05-01T12:01:00.000Z');
  assert.equal(stats.uptime_s, 3600);
  assert.deepEqual(stats.cameras[0], { camera: 'gate-left', fps: 5, processed: 18_000, skipped: 17, pipeline_ms: 61.2, latency_ms: 140.6, people: 3 });
  assert.equal(stats.matches_last_hour, 14);
  assert.deepEqual(stats.cameras[1].pipeline_ms, null);
  assert.deepEqual(stats.process, { cpu_percent: 73.3, rss_mb: 412.1 });
  assert.deepEqual(stats.outbox, { pending: 0, dropped: 0 });
});

const builtPayloads: [MessageType, unknown][] = [
  ['available', 'online'],
  ['camera-status', buildCameraStatusMessage(cameraStatus)],
  ['sighting', buildSightingMessage(sightingEvent)],
  ['match', buildMatchMessage(matchDecision)],
  ['stats', buildStatsMessage(statsSnapshot)],
  ['request', { request_id: 'r1', identity: 'id-000042' }],
  ['response', { ok: false, request_id: 'r1', error: { code: 'not_found', message: 'no such identity' } }],
];

test('built payloads satisfy their zod schema and the committed JSON Schema', () => {
  for (const [type, payload] of builtPayloads) {
    assert.equal(MESSAGE_SCHEMAS[type].safeParse(payload).success, true, `${type} zod`);
    assert.deepEqual(schemaErrors(type, payload), [], `${type} JSON Schema`);
  }
});

test('the committed JSON Schemas reject what the contract forbids', () => {
  const match = buildMatchMessage(matchDecision);
  const { margin: _margin, ...withoutMargin } = match;
  assert.notDeepEqual(schemaErrors('match', withoutMargin), []);
  assert.notDeepEqual(schemaErrors('match', { ...match, extra: 1 }), []);
  assert.notDeepEqual(schemaErrors('match', { ...match, time: '2024-05-01 12:00' }), []);
  assert.notDeepEqual(schemaErrors('sighting', { ...buildSightingMessage(sightingEvent), box: [1, 2, 3] }), []);
  assert.notDeepEqual(schemaErrors('camera-status', { ...buildCameraStatusMessage(cameraStatus), state: 'sleeping' }), []);
  assert.notDeepEqual(schemaErrors('available', 'maybe'), []);
  assert.notDeepEqual(schemaErrors('request', [1, 2]), []);
  assert.notDeepEqual(schemaErrors('response', { ok: true }), []);
});

test('schemas/ holds exactly the files generated from the zod schemas (no drift)', () => {
  const generated = renderJsonSchemas();
  const dir = path.join(REPO_ROOT, SCHEMA_DIR);
  assert.deepEqual(readdirSync(dir).sort(), [...generated.keys()].sort(), 'run `npm run schemas` to regenerate');
  for (const [name, text] of generated) {
    assert.equal(readFileSync(path.join(dir, name), 'utf8'), text, `${name} is stale: run \`npm run schemas\``);
  }
});

test('every example payload in docs/mqtt.md is valid against its schema', () => {
  const doc = readFileSync(path.join(REPO_ROOT, 'docs/mqtt.md'), 'utf8');
  const examples = [...doc.matchAll(/<!-- example: ([a-z-]+) -->\s*```(json|text)\n([\s\S]*?)```/g)];
  const covered = new Set<string>();
  for (const [, type, format, body] of examples) {
    assert.ok(Object.hasOwn(MESSAGE_SCHEMAS, type), `unknown example type ${type}`);
    const payload = format === 'json' ? JSON.parse(body) : body.trim();
    assert.deepEqual(schemaErrors(type as MessageType, payload), [], `docs example for ${type}`);
    covered.add(type);
  }
  assert.deepEqual([...covered].sort(), Object.keys(MESSAGE_SCHEMAS).sort());
});

test('topics live under <base_topic>/<node_id>; only single-level commands are requests', () => {
  const topics = topicsFor('crosscam', 'edge-1');
  assert.equal(topics.available, 'crosscam/edge-1/available');
  assert.equal(topics.cameraStatus('gate-left'), 'crosscam/edge-1/cameras/gate-left/status');
  assert.equal(topics.requests, 'crosscam/edge-1/request/+');
  assert.equal(topics.commandOf('crosscam/edge-1/request/lookup'), 'lookup');
  assert.equal(topics.commandOf('crosscam/edge-1/request/'), '', 'an empty command is answered (unknown_command)');
  assert.equal(topics.commandOf('crosscam/edge-1/request/a/b'), null);
  assert.equal(topics.commandOf('crosscam/edge-2/request/lookup'), null);
  assert.equal(topics.response('lookup'), 'crosscam/edge-1/response/lookup');
});
