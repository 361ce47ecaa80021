/**
 * The daemon end to end with real parts: GStreamer's RTSP server streams the two halves of the
 * PETS09 clip, a Mosquitto broker carries the events, and `crosscam run` runs as a child
 * process. Phases share one setup and run in order; a failed phase skips the rest. Each
 * measured figure is printed as a test diagnostic.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { scoreMatch, type ScoredMatch } from '../src/eval/cross-camera.js';
import { groupByFrame, readMotFile } from '../src/eval/mot-ground-truth.js';
import type { AdapterMessage, CameraStatusMessage, MatchMessage, MessageType, SightingMessage, StatsMessage } from '../src/publish/messages.js';
import { spawnSync } from 'node:child_process';
import { adapterDocument } from '../src/adapt/adapter-file.js';
import { AdapterVersions } from '../src/adapt/adapter-versions.js';
import { ResidualAdapter } from '../src/adapt/residual-adapter.js';
import { openStateStore } from '../src/core/state-store.js';
import { CLI_PATH, startDaemon, type DaemonLogLine, type DaemonProcess } from './support/daemon-process.js';
import { waitFor } from './support/ingest-fixtures.js';
import { HAVE_MOSQUITTO, startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { collectMqtt, type CollectedMessage, type MqttCollector } from './support/mqtt-collector.js';
import { haveRtspServer, makeH264Clip, startRtspServer, type RtspServer } from './support/rtsp-server.js';
import { schemaErrors } from './support/schema-validator.js';
import { HAVE_PETS, HAVE_SHARED_MODELS, PETS_GT, PETS_VIDEO, TEST_MODELS_DIR } from './support/shared-data.js';

const skip = !HAVE_PETS
  ? 'PETS09 clip not found'
  : !HAVE_SHARED_MODELS
    ? 'models not found'
    : !HAVE_MOSQUITTO
      ? 'mosquitto is not installed'
      : !haveRtspServer()
        ? 'GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) not installed'
        : false;

const BASE = 'crosscam/e2e';
const CAMERAS = ['left', 'right'] as const;
/** Where each camera's frame sits in the PETS09 frame, and the source's timing (for scoreMatch). */
const GEOMETRY = { left: { offsetX: 0, offsetY: 0 }, right: { offsetX: 384, offsetY: 0 } };
const VIDEO = { fps: 10, frames: 795 };
/** Probe only the first packet, so that at 5 fps output frame i is file frame 2i (see ingest-rtsp.test.ts). */
const RTSP_INPUT_ARGS = ['-analyzeduration', '0', '-probesize', '32'];
const SHUTDOWN_TIMEOUT_S = 15;

interface Setup {
  daemon: DaemonProcess;
  rtsp: RtspServer;
  broker: Mosquitto;
  watcher: MqttCollector;
  gt: ReturnType<typeof groupByFrame>;
  startedAt: number;
  galleryDir: string;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const on = (topic: string) => (message: CollectedMessage) => message.topic === `${BASE}/${topic}`;

function messageType(topic: string): MessageType {
  const rest = topic.slice(BASE.length + 1);
  if (rest === 'available') return 'available';
  if (/^cameras\/[^/]+\/status$/.test(rest)) return 'camera-status';
  if (rest === 'sightings') return 'sighting';
  if (rest === 'matches') return 'match';
  if (rest === 'stats') return 'stats';
  if (rest === 'identities/merged') return 'identities-merged';
  if (rest === 'adapter') return 'adapter';
  throw new Error(`unexpected topic ${topic}`);
}

/** Match event ids the daemon logged (its readable `match ...` lines) between `from` and `until` (ms since epoch). */
function loggedMatchIds(daemon: DaemonProcess, until = Infinity, from = -Infinity): string[] {
  return daemon
    .logs()
    .filter((line: DaemonLogLine) => line.msg.startsWith('match ') && typeof line.event === 'string' && line.time >= from && line.time <= until)
    .map((line) => line.event as string);
}

const received = (watcher: MqttCollector, topic: string) => watcher.messages.filter(on(topic));
const matchMessages = (watcher: MqttCollector) => received(watcher, 'matches').map((m) => m.payload as MatchMessage);

/** A status message of `camera` received from `since` on, in one of `states`. */
const isStatus = (camera: string, since: number, states: string[]) => (m: CollectedMessage) =>
  on(`cameras/${camera}/status`)(m) && m.receivedAt >= since && states.includes((m.payload as CameraStatusMessage).state);

async function prepare(t: TestContext): Promise<Setup> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-e2e-'));
  const cleanups: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });
  const [left, right, gtRecords] = await Promise.all([
    makeH264Clip({ input: PETS_VIDEO, output: path.join(dir, 'left.mp4'), filter: 'crop=iw/2:ih:0:0' }),
    makeH264Clip({ input: PETS_VIDEO, output: path.join(dir, 'right.mp4'), filter: 'crop=iw/2:ih:iw/2:0' }),
    readMotFile(PETS_GT),
  ]);
  const rtsp = await startRtspServer({ mounts: { left, right } });
  cleanups.push(() => rtsp.stop());
  const broker = await startMosquitto({ persistence: true });
  cleanups.push(() => broker.dispose());
  // A persistent session, so that nothing queued for it is lost while the broker restarts.
  const watcher = await collectMqtt({ url: broker.url, topics: [`${BASE}/#`], protocolVersion: 5, clientId: 'e2e-watcher', clean: false, qos: 1 });
  cleanups.push(() => watcher.close());

  const startedAt = Date.now();
  const daemon = startDaemon({
    config: {
      node_id: 'e2e',
      models: { dir: TEST_MODELS_DIR },
      service: { shutdown_timeout_s: SHUTDOWN_TIMEOUT_S },
      ffmpeg: { stall_timeout_s: 5, restart_delay_s: 1, restart_delay_max_s: 4 },
      detect: { fps: 5, classes: ['person'] },
      cameras: CAMERAS.map((id) => ({ id, url: rtsp.url(id), ffmpeg: { input_args: RTSP_INPUT_ARGS } })),
      mqtt: { url: broker.url, protocol_version: 5, qos: 1, stats_interval_s: 5 },
      gallery: { path: path.join(dir, 'gallery') },
      // Early decisions put matches in the first seconds of the clip, where the broker outage is.
      matching: { decide_early: true },
      topology: [{ from: 'left', to: 'right', min_s: -5, max_s: 10, bidirectional: true }],
    },
  });
  cleanups.push(() => daemon.dispose());
  return { daemon, rtsp, broker, watcher, gt: groupByFrame(gtRecords), startedAt, galleryDir: path.join(dir, 'gallery') };
}

test('e2e: crosscam run with an RTSP server and Mosquitto: correct matches, camera and broker outages, clean stop', { skip, timeout: 420_000 }, async (t) => {
  const env = await prepare(t);
  const { daemon, rtsp, broker, watcher } = env;
  let failed = false;
  const phase = async (name: string, timeoutMs: number, body: (t: TestContext) => Promise<void>) => {
    await t.test(name, { skip: failed ? 'an earlier phase failed' : false, timeout: timeoutMs }, async (st) => {
      try {
        await body(st);
      } catch (error) {
        failed = true;
        st.diagnostic(`daemon stderr tail:\n${daemon.stderr().slice(-2000)}`);
        throw error;
      }
    });
  };
  const scored = new Map<string, ScoredMatch>();
  /** Ground truth of a match; one without an earlier side (a watch-list hit) cannot be correct. */
  const score = (match: MatchMessage): ScoredMatch => {
    let result = scored.get(match.event_id);
    if (!result) {
      const { matched } = match;
      result = matched ? scoreMatch({ sighting: match.sighting, matched }, env.gt, GEOMETRY, VIDEO) : { sightingIdentity: null, matchedIdentity: null, correct: false };
      scored.set(match.event_id, result);
    }
    return result;
  };

  await phase('both cameras online, sightings arrive and validate', 60_000, async (st) => {
    await daemon.waitForLog((line) => line.msg.startsWith('crosscam running'), 30_000);
    for (const camera of CAMERAS) {
      const online = await watcher.waitFor(isStatus(camera, 0, ['online']), 30_000, `${camera} online`);
      st.diagnostic(`${camera} online after ${seconds(online.receivedAt - env.startedAt)}`);
    }
    const sighting = await watcher.waitFor(on('sightings'), 20_000, 'a sighting');
    assert.deepEqual(schemaErrors('sighting', sighting.payload), []);
  });

  // The outage is placed early in the clip, where people cross the seam (matches were logged at
  // media times 6-20 s in every run here): after an RTSP restart the clip starts again with every
  // identity already known, and hardly any cross-camera match is made in the first seconds.
  await phase('Mosquitto down for at least 10 s and until a match is made: every logged match and the sightings made meanwhile reach the subscriber', 150_000, async (st) => {
    await watcher.waitFor((m) => on('sightings')(m) && (m.payload as SightingMessage).pts >= 6, 30_000, 'a sighting at media time 6 s');
    const stoppedAt = Date.now();
    await broker.stop();
    await sleep(10_000);
    // When people cross the seam varies from run to run by a few seconds; the broker stays down
    // until a match is made, so that the phase always proves a match survives the outage.
    await daemon.waitForLog((line) => line.msg.startsWith('match ') && line.time >= stoppedAt, 30_000).catch(() => undefined);
    await broker.restart();
    const restartedAt = Date.now();
    // The daemon's reconnect backoff reaches its 30 s cap (±20 % jitter) in an outage this long.
    const reconnected = await daemon.waitForLog((line) => line.msg === 'MQTT: connected' && line.time >= stoppedAt, 45_000);
    // Delivery is in order: once a sighting made after the reconnect arrives, the backlog is through.
    const fresh = await watcher.waitFor((m) => on('sightings')(m) && Date.parse((m.payload as SightingMessage).time) >= reconnected.time, 30_000, 'a sighting made after the reconnect');
    const logged = loggedMatchIds(daemon, fresh.receivedAt);
    const unreachable = loggedMatchIds(daemon, reconnected.time, stoppedAt);
    await waitFor(() => logged.every((id) => matchMessages(watcher).some((m) => m.event_id === id)), 'every logged match id on the subscriber', 20_000).catch(() => undefined);
    const missing = logged.filter((id) => !matchMessages(watcher).some((m) => m.event_id === id));
    const madeMeanwhile = received(watcher, 'sightings').filter((m) => {
      const time = Date.parse((m.payload as SightingMessage).time);
      return time >= stoppedAt && time < reconnected.time;
    });
    st.diagnostic(
      `broker down ${seconds(restartedAt - stoppedAt)}, daemon reconnected ${seconds(reconnected.time - restartedAt)} after its restart, backlog through ${seconds(fresh.receivedAt - reconnected.time)} later; ` +
        `made while unreachable and delivered: ${madeMeanwhile.length} sightings, ${unreachable.length} matches; ${logged.length} matches logged so far, ${missing.length} missing; ` +
        `subscriber connects: ${watcher.connects()}`,
    );
    assert.deepEqual(missing, [], 'every match the daemon logged arrived');
    assert.ok(madeMeanwhile.length > 0, 'sightings made while the broker was unreachable arrive after it is back');
    assert.ok(unreachable.length > 0, 'a match was made while the broker was unreachable (else this phase proves little)');
  });

  await phase('a correct cross-camera match: both sides overlap the same ground-truth person', 100_000, async (st) => {
    const correct = await watcher.waitFor((m) => on('matches')(m) && score(m.payload as MatchMessage).correct, 100_000, 'a correct match');
    const match = correct.payload as MatchMessage;
    assert.notEqual(match.sighting.camera, match.matched?.camera);
    assert.deepEqual(schemaErrors('match', match), []);
    const firstLogged = daemon.logs().find((line) => line.msg.startsWith('match '))!;
    const loggedCorrect = daemon.logs().find((line) => line.event === match.event_id)!;
    st.diagnostic(
      `first match logged ${seconds(firstLogged.time - env.startedAt)} after the daemon started, the first correct one ${seconds(loggedCorrect.time - env.startedAt)} ` +
        `(received ${seconds(correct.receivedAt - env.startedAt)}, after the broker outage): ${JSON.stringify(score(match))}`,
    );
  });

  await phase('an adapter activated beside the running daemon is used and published, and crosscam adapt rollback undoes it, without a restart', 60_000, async (st) => {
    // What `crosscam adapt run` stores when its candidate wins, written by another process.
    const store = openStateStore({ path: env.galleryDir, mapSizeMb: 64 });
    const adapter = new ResidualAdapter({ dimension: 512, rank: 1, u: new Float32Array(512).fill(-0.01), v: new Float32Array(512).fill(0.01) });
    const figures = { cameraMixing: 0.4, selfConsistency: 0.9, pairAgreement: 0.95, tracks: { all: 24, halves: 24, pairs: 3 } };
    const activatedAt = Date.now();
    new AdapterVersions(store).add(adapterDocument(adapter, { trainedAt: new Date().toISOString(), tracks: { training: 48, heldOut: 24 }, score: figures, activeScore: { ...figures, cameraMixing: 0.3 } }), true, activatedAt);
    await store.close();
    const activated = await env.watcher.waitFor((m) => on('adapter')(m) && (m.payload as AdapterMessage).action === 'activated', 20_000, 'adapter activated');
    const message = activated.payload as AdapterMessage;
    assert.deepEqual(schemaErrors('adapter', message), []);
    assert.deepEqual({ active: message.active_version, previous: message.previous_version, candidate: message.candidate?.version }, { active: 1, previous: 0, candidate: 1 });
    st.diagnostic(`adapter activated by another process, published ${seconds(activated.receivedAt - activatedAt)} later`);
    const stats = await env.watcher.waitFor((m) => on('stats')(m) && m.receivedAt >= activated.receivedAt && (m.payload as StatsMessage).adapter.active_version === 1, 15_000, 'stats with adapter version 1');
    assert.deepEqual(schemaErrors('stats', stats.payload), []);

    const rollback = spawnSync(process.execPath, [CLI_PATH, 'adapt', 'rollback', '--config', daemon.configFile, '--json'], { encoding: 'utf8', env: { ...process.env, CROSSCAM_MODELS_DIR: TEST_MODELS_DIR } });
    assert.equal(rollback.status, 0, rollback.stderr);
    assert.equal(JSON.parse(rollback.stdout).action, 'rolled_back');
    const rolledBack = await env.watcher.waitFor((m) => on('adapter')(m) && (m.payload as AdapterMessage).action === 'rolled_back', 20_000, 'adapter rolled back');
    assert.deepEqual({ active: (rolledBack.payload as AdapterMessage).active_version, previous: (rolledBack.payload as AdapterMessage).previous_version }, { active: 0, previous: 1 });
    await env.watcher.waitFor((m) => on('sightings')(m) && m.receivedAt >= rolledBack.receivedAt, 20_000, 'sightings go on after the rollback');
    assert.equal(daemon.logs().filter((line) => line.msg.startsWith('crosscam running')).length, 1, 'the daemon did not restart');
  });

  await phase('RTSP server killed and restarted: cameras reconnecting/offline, then online again in the same daemon', 60_000, async (st) => {
    const killedAt = Date.now();
    await rtsp.stop();
    for (const camera of CAMERAS) {
      const down = await watcher.waitFor(isStatus(camera, killedAt, ['reconnecting', 'offline']), 20_000, `${camera} reconnecting or offline`);
      st.diagnostic(`${camera} ${(down.payload as CameraStatusMessage).state} ${seconds(down.receivedAt - killedAt)} after the kill`);
    }
    await sleep(2000);
    const restartedAt = Date.now();
    await rtsp.restart();
    for (const camera of CAMERAS) {
      const back = await watcher.waitFor(isStatus(camera, restartedAt, ['online']), 20_000, `${camera} online again`);
      const status = back.payload as CameraStatusMessage;
      assert.ok(status.reconnects >= 1, `${camera} counts its reconnects`);
      st.diagnostic(`${camera} online ${seconds(back.receivedAt - restartedAt)} after the restart (reconnects ${status.reconnects})`);
    }
    for (const camera of CAMERAS) {
      const isNewTrack = (m: CollectedMessage) => on('sightings')(m) && m.receivedAt >= restartedAt && (m.payload as SightingMessage).camera === camera && (m.payload as SightingMessage).type === 'new';
      await watcher.waitFor(isNewTrack, 20_000, `a new track on ${camera} after the restart`);
    }
    assert.equal(daemon.logs().filter((line) => line.msg.startsWith('crosscam running')).length, 1, 'the daemon did not restart');
    process.kill(daemon.pid, 0); // still the same process
    const went = received(watcher, 'available').filter((m) => m.receivedAt >= killedAt && m.payload === 'offline');
    assert.deepEqual(went, [], 'the node stayed available');
  });

  await phase('SIGTERM: exit 0, outbox drained, offline retained, every payload valid, no sighting lost', 60_000, async (st) => {
    const stopAt = Date.now();
    const code = await daemon.stop('SIGTERM', SHUTDOWN_TIMEOUT_S * 1000 + 5000);
    st.diagnostic(`exit ${code} ${seconds(Date.now() - stopAt)} after SIGTERM`);
    assert.equal(code, 0);
    await watcher.waitFor((m) => on('available')(m) && m.payload === 'offline' && m.receivedAt >= stopAt, 5000, 'available offline');

    // Every match the daemon logged arrived; QoS 1 may repeat one, which is counted.
    const logged = loggedMatchIds(daemon);
    const ids = matchMessages(watcher).map((m) => m.event_id);
    assert.deepEqual(logged.filter((id) => !ids.includes(id)), [], 'every logged match arrived');
    assert.deepEqual(ids.filter((id) => !logged.includes(id)), [], 'nothing arrived that the daemon did not log');
    const unique = [...new Set(ids)];
    const correct = unique.filter((id) => score(matchMessages(watcher).find((m) => m.event_id === id)!).correct);
    const sightingIds = received(watcher, 'sightings').map((m) => (m.payload as SightingMessage).event_id);
    const stats = received(watcher, 'stats').at(-1)?.payload as StatsMessage | undefined;
    st.diagnostic(
      `matches: ${unique.length} (${ids.length - unique.length} duplicates), ${correct.length} correct per gt.txt; ` +
        `sightings: ${new Set(sightingIds).size} (${sightingIds.length - new Set(sightingIds).size} duplicates); run ${seconds(Date.now() - env.startedAt)}; ` +
        `last stats: ${JSON.stringify(stats?.cameras.map((c) => ({ camera: c.camera, fps: c.fps, skipped: c.skipped, pipeline_ms: c.pipeline_ms })))}, cpu ${stats?.process.cpu_percent}%`,
    );

    // Every payload validates against its committed schema.
    const invalid = watcher.messages.map((m) => ({ topic: m.topic, errors: schemaErrors(messageType(m.topic), m.payload) })).filter((m) => m.errors.length > 0);
    assert.deepEqual(invalid, []);

    // No sighting lost: on each camera, a track id's events arrive as new, update…, end, in
    // order (a camera's stop and each ffmpeg restart end its live tracks; ids may be reused after).
    const open = new Set<string>();
    const problems: string[] = [];
    const seen = new Set<string>();
    let tracks = 0;
    for (const message of received(watcher, 'sightings')) {
      const sighting = message.payload as SightingMessage;
      if (seen.has(sighting.event_id)) continue;
      seen.add(sighting.event_id);
      const key = `${sighting.camera}#${sighting.track_id}`;
      if (sighting.type === 'new') {
        if (open.has(key)) problems.push(`${key}: new while open`);
        open.add(key);
        tracks += 1;
      } else if (!open.has(key)) problems.push(`${key}: ${sighting.type} without new`);
      else if (sighting.type === 'end') open.delete(key);
    }
    assert.deepEqual(problems, [], 'every track: one new, updates, one end');
    assert.deepEqual([...open], [], 'every track ended');
    st.diagnostic(`${tracks} tracks, each with new … end`);

    // A subscriber arriving now learns from retained messages that the node and its cameras are offline.
    const late = await collectMqtt({ url: broker.url, topics: [`${BASE}/available`, `${BASE}/cameras/+/status`], protocolVersion: 5 });
    try {
      const available = await late.waitFor(on('available'), 5000, 'retained available');
      assert.deepEqual([available.payload, available.retained], ['offline', true]);
      for (const camera of CAMERAS) {
        const status = await late.waitFor(on(`cameras/${camera}/status`), 5000, `retained ${camera} status`);
        assert.deepEqual([(status.payload as CameraStatusMessage).state, status.retained], ['offline', true], camera);
      }
    } finally {
      await late.close();
    }
  });
});
