/**
 * `npm run faults` (full) / `npm run faults -- --short` (CI): the faults a site meets, each
 * injected into real processes (the daemon, ffmpeg, Mosquitto, GStreamer's RTSP server, a
 * tmpfs), with a table fault | injected | survived | lost | duplicated written to
 * bench/faults-report.md and .json. Exits 1 when a row lost something or did not survive.
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import sharp from 'sharp';
import { parse as parseYaml, stringify } from 'yaml';
import { environmentIssues } from '../src/config/environment.js';
import { ConfigError } from '../src/config/issues.js';
import { OperatorError } from '../src/core/operator-error.js';
import { openStateStore } from '../src/core/state-store.js';
import { RAW_SPACE } from '../src/features/feature-space.js';
import { Gallery } from '../src/gallery/gallery.js';
import { OBJECT_CLASSES } from '../src/core/types.js';
import { loadConfigWithCatalog } from '../src/pipeline/setup.js';
import type { CameraStatusMessage, SightingMessage, StatsMessage } from '../src/publish/messages.js';
import { Outbox } from '../src/publish/outbox.js';
import { CLI_PATH, startDaemon, type DaemonProcess } from '../test/support/daemon-process.js';
import { startMosquitto, type Mosquitto } from '../test/support/mosquitto.js';
import { collectMqtt, type CollectedMessage, type MqttCollector } from '../test/support/mqtt-collector.js';
import { freePort } from '../test/support/ports.js';
import { groupProcesses } from '../test/support/process-group.js';
import { makeH264Clip, startRtspServer } from '../test/support/rtsp-server.js';
import { schemaErrors } from '../test/support/schema-validator.js';
import { makeTlsMaterial } from '../test/support/tls.js';
import { PETS_VIDEO, TEST_MODELS_DIR } from '../test/support/shared-data.js';

const { values: args } = parseArgs({ options: { short: { type: 'boolean', default: false }, out: { type: 'string', default: 'bench/faults-report' }, only: { type: 'string' } } });
const SHORT = args.short === true;

interface FaultRow {
  fault: string;
  injected: number;
  survived: number;
  lost: number;
  duplicated: number;
  notes: string;
  seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const work = mkdtempSync(path.join(os.tmpdir(), 'crosscam-faults-'));
const cleanups: (() => Promise<void> | void)[] = [];
let nodeCounter = 0;

/** Two virtual cameras (the halves of PETS09-S2L1), real time, looping: people cross from one to the other. */
function petsCameras() {
  return [
    { id: 'left', url: PETS_VIDEO, ffmpeg: { filter: 'crop=iw/2:ih:0:0' }, file: { realtime: true, loop: true } },
    { id: 'right', url: PETS_VIDEO, ffmpeg: { filter: 'crop=iw/2:ih:iw/2:0' }, file: { realtime: true, loop: true } },
  ];
}

function daemonConfig(nodeId: string, broker: Mosquitto, cameras: object[], extra: Record<string, unknown> = {}) {
  return {
    node_id: nodeId,
    detect: { fps: 5, classes: ['person'] },
    cameras,
    mqtt: { url: broker.url, stats_interval_s: 2 },
    gallery: { path: path.join(work, `gallery-${nodeId}`) },
    ffmpeg: { restart_delay_s: 1, restart_delay_max_s: 4, rtsp_timeout_s: 3, stall_timeout_s: 6 },
    service: { status_interval_s: 2 },
    ...extra,
  };
}

async function broker(persistence = false): Promise<Mosquitto> {
  const started = await startMosquitto({ persistence });
  cleanups.push(() => started.dispose());
  return started;
}

async function watch(url: string, nodeId: string, persistent = false): Promise<MqttCollector> {
  const collector = await collectMqtt({ url, topics: [`crosscam/${nodeId}/#`], ...(persistent ? { clean: false, clientId: `faults-${nodeId}` } : {}) });
  cleanups.push(() => collector.close());
  return collector;
}

function daemon(config: object | string, env: NodeJS.ProcessEnv = {}): DaemonProcess {
  const started = startDaemon({ config, env });
  cleanups.push(() => started.dispose());
  return started;
}

const statusOf = (nodeId: string, camera: string, state: string, after = 0) => (m: CollectedMessage) =>
  m.topic === `crosscam/${nodeId}/cameras/${camera}/status` && m.receivedAt >= after && typeof m.payload === 'object' && (m.payload as CameraStatusMessage).state === state;

/** The processes of a group still running (a zombie has exited). */
const liveGroupProcesses = (pgid: number) => groupProcesses(pgid).filter((process) => process.state !== 'Z');

/** Sightings by track: lost = a track with only one of new/end; duplicated = event ids received more than once. */
function sightingLedger(messages: readonly CollectedMessage[], nodeId: string) {
  const sightings = messages.filter((m) => m.topic === `crosscam/${nodeId}/sightings` && typeof m.payload === 'object').map((m) => m.payload as SightingMessage);
  const ids = sightings.map((s) => s.event_id);
  const tracks = new Map<string, Set<string>>();
  for (const s of sightings) {
    const key = `${s.camera}#${s.track_id}#${s.first_seen}`;
    tracks.set(key, (tracks.get(key) ?? new Set()).add(s.type));
  }
  const incomplete = [...tracks.values()].filter((types) => !(types.has('new') && types.has('end'))).length;
  return { sightings: sightings.length, tracks: tracks.size, incomplete, duplicated: ids.length - new Set(ids).size, ids: new Set(ids) };
}

// ---- the faults

async function rtspServerRestarts(times: number): Promise<Omit<FaultRow, 'seconds'>> {
  const clip = await makeH264Clip({ input: PETS_VIDEO, output: path.join(work, 'rtsp-clip.mp4'), durationS: 120, fps: 10 });
  const server = await startRtspServer({ mounts: { cam: clip } });
  cleanups.push(() => server.stop());
  const mosquitto = await broker();
  const nodeId = `rtsp${++nodeCounter}`;
  const collector = await watch(mosquitto.url, nodeId);
  const running = daemon(daemonConfig(nodeId, mosquitto, [{ id: 'cam', url: server.url('cam') }]));
  await collector.waitFor(statusOf(nodeId, 'cam', 'online'), 60_000, 'camera online');
  let survived = 0;
  for (let i = 0; i < times; i++) {
    const killedAt = Date.now();
    await server.stop();
    await collector.waitFor((m) => statusOf(nodeId, 'cam', 'reconnecting', killedAt)(m) || statusOf(nodeId, 'cam', 'offline', killedAt)(m), 30_000, 'camera lost');
    await sleep(1000 + Math.random() * 3000);
    const restartedAt = Date.now();
    await server.restart();
    try {
      await collector.waitFor(statusOf(nodeId, 'cam', 'online', restartedAt), 40_000, 'camera back online');
      survived += 1;
    } catch {
      // counted as not survived
    }
  }
  const ffmpegs = liveGroupProcesses(running.pid).filter((p) => p.comm === 'ffmpeg').length;
  const fds = readdirSync(`/proc/${running.pid}/fd`).length;
  const exit = await running.stop('SIGTERM');
  return { fault: `RTSP server killed and restarted ×${times}`, injected: times, survived: exit === 0 ? survived : 0, lost: times - survived, duplicated: 0, notes: `camera back online after each; ${ffmpegs} ffmpeg running at the end, ${fds} open descriptors; exit ${exit}` };
}

async function ffmpegKills(times: number): Promise<Omit<FaultRow, 'seconds'>> {
  const mosquitto = await broker();
  const nodeId = `ffmpeg${++nodeCounter}`;
  const collector = await watch(mosquitto.url, nodeId);
  const running = daemon(daemonConfig(nodeId, mosquitto, [petsCameras()[0]!]));
  await collector.waitFor(statusOf(nodeId, 'left', 'online'), 60_000, 'camera online');
  let survived = 0;
  for (let i = 0; i < times; i++) {
    const ffmpeg = liveGroupProcesses(running.pid).find((p) => p.comm === 'ffmpeg');
    if (ffmpeg === undefined) break;
    const killedAt = Date.now();
    process.kill(ffmpeg.pid, 'SIGKILL');
    try {
      await collector.waitFor((m) => statusOf(nodeId, 'left', 'online', killedAt)(m) && (m.payload as CameraStatusMessage).reconnects >= i + 1, 40_000, 'camera back online');
      survived += 1;
    } catch {
      // not survived
    }
    await sleep(2000);
  }
  const exit = await running.stop('SIGTERM');
  return { fault: `ffmpeg child SIGKILLed ×${times}`, injected: times, survived: exit === 0 ? survived : 0, lost: times - survived, duplicated: 0, notes: `restarted by the watchdog each time; exit ${exit}` };
}

async function brokerOutage(outageS: number): Promise<Omit<FaultRow, 'seconds'>> {
  const mosquitto = await broker(true);
  const nodeId = `outage${++nodeCounter}`;
  const collector = await watch(mosquitto.url, nodeId, true);
  const running = daemon(daemonConfig(nodeId, mosquitto, petsCameras()));
  await collector.waitFor((m) => m.topic === `crosscam/${nodeId}/sightings`, 60_000, 'first sighting');
  await sleep(10_000);
  await mosquitto.stop();
  const downAt = Date.now();
  await sleep(outageS * 1000);
  // Taken before the restart: the daemon's retry can connect while restart() still polls the new broker.
  const restartAt = Date.now();
  await mosquitto.restart();
  const upAt = Date.now();
  await running.waitForLog((line) => line.msg === 'MQTT: connected' && line.time >= restartAt, 60_000);
  await sleep(10_000);
  const exit = await running.stop('SIGTERM');
  await sleep(3000);
  const ledger = sightingLedger(collector.messages, nodeId);
  const duringOutage = collector.messages.filter((m) => m.topic.startsWith(`crosscam/${nodeId}/`) && typeof m.payload === 'object' && m.payload !== null && 'time' in m.payload && (m.topic.endsWith('/sightings') || m.topic.endsWith('/matches'))).filter((m) => {
    const at = Date.parse((m.payload as { time: string }).time);
    return at >= downAt && at < upAt;
  }).length;
  const matches = collector.messages.filter((m) => m.topic === `crosscam/${nodeId}/matches`).length;
  return {
    fault: `Mosquitto down ${outageS} s while matches happen`,
    injected: 1,
    survived: exit === 0 ? 1 : 0,
    lost: ledger.incomplete,
    duplicated: ledger.duplicated,
    notes: `${duringOutage} events of the outage queued and delivered after it, ${ledger.sightings} sightings of ${ledger.tracks} tracks, ${matches} matches; exit ${exit}`,
  };
}

/** Opens the gallery and outbox of a killed daemon: clean, consistent, and what the outbox still holds. */
async function inspectState(dir: string): Promise<{ consistent: boolean; queued: string[]; detail: string }> {
  const store = openStateStore({ path: dir, mapSizeMb: 2048 });
  try {
    const gallery = new Gallery({ store, space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 10, retention: { sightingsDays: 30, identitiesDays: 90 } });
    const stats = gallery.stats();
    let counted = 0;
    let identities = 0;
    for (const objectClass of OBJECT_CLASSES) {
      for (const identity of gallery.identitiesOf(objectClass)) {
        identities += 1;
        counted += gallery.sightingsOf(identity.id).length;
      }
    }
    const outbox = new Outbox(store, { maxMessages: 100_000, logger: silentLogger });
    const queued = outbox.read(0, 100_000).flatMap((entry) => {
      const payload = JSON.parse(entry.payload) as { event_id?: string };
      return payload.event_id === undefined ? [] : [payload.event_id];
    });
    const consistent = counted === stats.sightings && identities === stats.identities;
    return { consistent, queued, detail: `${stats.identities} identities, ${stats.sightings} sightings` };
  } finally {
    await store.close();
  }
}

const silentLogger = (await import('pino')).pino({ level: 'silent' });

async function daemonKills(times: number): Promise<Omit<FaultRow, 'seconds'>> {
  const mosquitto = await broker(true);
  const nodeId = `kill${++nodeCounter}`;
  const collector = await watch(mosquitto.url, nodeId, true);
  const configFile = path.join(work, `${nodeId}.yaml`);
  const config = daemonConfig(nodeId, mosquitto, petsCameras(), { http: { port: 0 }, snapshots: { path: path.join(work, `snapshots-${nodeId}`) } });
  writeFileSync(configFile, stringify(config));
  const queued = new Set<string>();
  let consistent = 0;
  let orphans = 0;
  // The broker is away during the kills, so events pile up in the outbox across them.
  await mosquitto.stop();
  for (let i = 0; i < times; i++) {
    const running = startDaemon({ config: configFile });
    try {
      await running.waitForLog((line) => /^crosscam running/.test(line.msg), 60_000);
      // Tracks end and decisions are written from a few seconds in.
      await sleep(4000 + Math.random() * 8000);
      // The daemon alone, as a crash would: its ffmpeg children must not outlive it.
      process.kill(running.pid, 'SIGKILL');
      await running.exited;
      await sleep(1500);
      orphans += liveGroupProcesses(running.pid).length;
    } finally {
      await running.dispose();
    }
    const state = await inspectState(config.gallery.path);
    if (state.consistent) consistent += 1;
    for (const id of state.queued) queued.add(id);
  }
  // One last run, with the broker back, delivers what the kills left in the outbox.
  await mosquitto.restart();
  const last = daemon(configFile);
  await last.waitForLog((line) => line.msg === 'MQTT: connected', 60_000);
  await sleep(8000);
  const exit = await last.stop('SIGTERM');
  await sleep(2000);
  // Every event kind carries an event id: sightings, matches, identities/merged.
  const eventIds = collector.messages.flatMap((m) => (typeof m.payload === 'object' && m.payload !== null && 'event_id' in m.payload ? [(m.payload as { event_id: string }).event_id] : []));
  const all = new Set(eventIds);
  const lost = [...queued].filter((id) => !all.has(id)).length;
  const duplicated = eventIds.length - all.size;
  return {
    fault: `daemon SIGKILLed ×${times} at random moments while writing`,
    injected: times,
    survived: exit === 0 ? consistent : 0,
    lost: lost + orphans,
    duplicated,
    notes: `gallery opened clean and consistent after ${consistent}/${times} kills; ${queued.size} events found queued in the outbox after the kills, ${queued.size - lost} of them delivered later; ${orphans} orphaned processes; at-least-once: duplicates are redeliveries of messages whose PUBACK the kill cut off`,
  };
}

async function diskFull(seconds: number): Promise<Omit<FaultRow, 'seconds'> | undefined> {
  const mountPoint = path.join(work, 'tmpfs');
  mkdirSync(mountPoint);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  cleanups.push(() => {
    execFileSync('umount', ['-l', mountPoint]);
  });
  const mosquitto = await broker();
  const nodeId = `disk${++nodeCounter}`;
  const collector = await watch(mosquitto.url, nodeId);
  const running = daemon(
    daemonConfig(nodeId, mosquitto, petsCameras(), {
      gallery: { path: path.join(mountPoint, 'gallery'), map_size_mb: 16 },
      snapshots: { path: path.join(mountPoint, 'snapshots') },
      http: { port: 0 },
      matching: { window_s: 3600 },
    }),
  );
  await running.waitForLog((line) => /^crosscam running/.test(line.msg), 60_000);
  // The disk fills while the daemon runs (another process's logs, say): about 2 MB are left,
  // which the gallery, the outbox and the snapshots use up within seconds.
  const { bavail, bsize } = statfsSync(mountPoint);
  writeFileSync(path.join(mountPoint, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - 2 * 2 ** 20)));
  await sleep(seconds * 1000);
  const stats = collector.messages.filter((m) => m.topic === `crosscam/${nodeId}/stats`).map((m) => m.payload as StatsMessage);
  const last = stats.at(-1);
  const exit = await running.stop('SIGTERM');
  const lines = running.stderr().split('\n').filter((line) => line.trim() !== '');
  const raw = lines.filter((line) => !line.startsWith('{')).length;
  const warnings = running.logs().filter((line) => line.level >= 40).length;
  const dropped = running.logs().filter((line) => line.kind === 'decisions-dropped').length;
  const held = last?.storage.held_decisions ?? 0;
  return {
    fault: 'disk full on a small tmpfs (24 MB, filled to 2 MB free while running)',
    injected: 1,
    survived: exit === 0 ? 1 : 0,
    lost: dropped + held,
    duplicated: 0,
    notes: `${seconds} s: storage ${last?.storage.state ?? '?'}, ${last?.storage.pruned_sightings ?? 0} oldest sightings pruned to make room, ${held} decisions held at the end; ${warnings} warning/error log lines, ${raw} non-JSON stderr lines; exit ${exit}`,
  };
}

async function badModels(): Promise<Omit<FaultRow, 'seconds'>> {
  const kinds = ['corrupt', 'truncated', 'mismatched'] as const;
  const nodeId = `models${++nodeCounter}`;
  const configFile = path.join(work, `${nodeId}.yaml`);
  writeFileSync(configFile, stringify({ node_id: nodeId, cameras: [{ id: 'cam', url: `rtsp://127.0.0.1:${await freePort()}/x` }], gallery: { path: path.join(work, `gallery-${nodeId}`) }, snapshots: { path: path.join(work, `snap-${nodeId}`) }, http: { port: 0 } }));
  let survived = 0;
  const outcomes: string[] = [];
  for (const kind of kinds) {
    const dir = path.join(work, `models-${kind}`);
    mkdirSync(dir);
    for (const file of readdirSync(TEST_MODELS_DIR)) copyFileSync(path.join(TEST_MODELS_DIR, file), path.join(dir, file));
    const detector = path.join(dir, 'yolox_nano.onnx');
    if (kind === 'corrupt') {
      const bytes = readFileSync(detector);
      for (let i = 0; i < bytes.length; i += 97) bytes[i] = bytes[i]! ^ 0x5a;
      writeFileSync(detector, bytes);
    } else if (kind === 'truncated') {
      truncateSync(detector, Math.floor(readFileSync(detector).length / 2));
    } else {
      copyFileSync(path.join(dir, readdirSync(dir).find((file) => file.startsWith('osnet'))!), detector);
    }
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI_PATH, 'run', '--config', configFile, '--models-dir', dir], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    const clear = result.code === 78 && /yolox/.test(result.stderr) && !/^\s+at /m.test(result.stderr);
    if (clear) survived += 1;
    outcomes.push(`${kind}: exit ${result.code}`);
  }
  return { fault: 'corrupt, truncated and mismatched model files', injected: kinds.length, survived, lost: kinds.length - survived, duplicated: 0, notes: `${outcomes.join(', ')}; each names the model, no stack trace` };
}

async function cameraUnreachable(): Promise<Omit<FaultRow, 'seconds'>> {
  const mosquitto = await broker();
  const nodeId = `unreach${++nodeCounter}`;
  const collector = await watch(mosquitto.url, nodeId);
  const running = daemon(daemonConfig(nodeId, mosquitto, [petsCameras()[0]!, { id: 'gone', url: `rtsp://192.0.2.1:554/live` }]));
  await collector.waitFor(statusOf(nodeId, 'left', 'online'), 60_000, 'the reachable camera online');
  await sleep(12_000);
  const stats = collector.messages.filter((m) => m.topic === `crosscam/${nodeId}/stats`).map((m) => m.payload as StatsMessage).at(-1);
  const processed = stats?.cameras.find((c) => c.camera === 'left')?.processed ?? 0;
  const gone = collector.messages.filter((m) => m.topic === `crosscam/${nodeId}/cameras/gone/status` && typeof m.payload === 'object').map((m) => m.payload as CameraStatusMessage).at(-1);
  const exit = await running.stop('SIGTERM');
  const ok = processed > 20 && gone !== undefined && gone.state !== 'online' && exit === 0;
  return { fault: 'one camera unreachable at start', injected: 1, survived: ok ? 1 : 0, lost: ok ? 0 : 1, duplicated: 0, notes: `the other processed ${processed} frames; unreachable one ${gone?.state ?? '?'} (${gone?.last_error ?? 'no error'}); exit ${exit}` };
}

function fuzzPayload(index: number): Buffer {
  const random = () => Math.random();
  const junk = () => Array.from({ length: Math.floor(random() * 40) }, () => String.fromCharCode(Math.floor(random() * 0xffff))).join('');
  const value = (depth: number): unknown => {
    const pick = Math.floor(random() * 9);
    if (depth > 3) return random();
    return [null, true, -1e308, 1e308, junk(), 'x'.repeat(Math.floor(random() * 5000)), [value(depth + 1), value(depth + 1)], { [junk()]: value(depth + 1) }, Math.floor(random() * 1000) - 500][pick];
  };
  switch (index % 8) {
    case 0:
      return Buffer.from(junk()); // not JSON
    case 1:
      return Buffer.from(JSON.stringify([1, 2, 3]));
    case 2:
      return Buffer.alloc(0);
    case 3:
      return Buffer.from(JSON.stringify(Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, value(2)]))));
    case 4:
      return Buffer.from(JSON.stringify({ identity: value(0), sightings: value(0), limit: value(0) }));
    case 5:
      return Buffer.from(JSON.stringify({ image: Buffer.from(junk()).toString('base64'), label: value(0), class: value(0) }));
    case 6:
      return Buffer.from(JSON.stringify({ request_id: value(0), [junk()]: value(0) }));
    default:
      return Buffer.from(JSON.stringify(value(0)));
  }
}

async function fuzzRequests(count: number): Promise<Omit<FaultRow, 'seconds'>> {
  const mosquitto = await broker();
  const nodeId = `fuzz${++nodeCounter}`;
  const running = daemon(daemonConfig(nodeId, mosquitto, [{ id: 'cam', url: `rtsp://127.0.0.1:${await freePort()}/x` }]));
  await running.waitForLog((line) => line.msg === 'MQTT: connected', 60_000);
  const client = await mqtt.connectAsync(mosquitto.url, { protocolVersion: 5 });
  cleanups.push(() => client.endAsync(true));
  const responses = new Map<string, string[]>();
  client.on('message', (_topic, payload, packet) => {
    const id = packet.properties?.correlationData?.toString() ?? '?';
    responses.set(id, [...(responses.get(id) ?? []), payload.toString()]);
  });
  const replyTopic = `fuzz/${nodeId}/replies`;
  await client.subscribeAsync(replyTopic, { qos: 1 });
  const ask = async (command: string, payload: Buffer, id: string) =>
    client.publishAsync(`crosscam/${nodeId}/request/${command}`, payload, { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from(id) } });
  const identities = async (): Promise<number> => {
    await ask('identities', Buffer.from('{}'), 'count');
    for (let i = 0; i < 50 && !responses.has('count'); i++) await sleep(100);
    const reply = JSON.parse(responses.get('count')?.[0] ?? '{}') as { result?: { total: number } };
    responses.delete('count');
    return reply.result?.total ?? -1;
  };
  // Two watch-list identities the fuzzing must not change (forget, enrol and search are fuzzed too).
  const picture = (await sharp({ create: { width: 32, height: 64, channels: 3, background: { r: 180, g: 40, b: 40 } } }).png().toBuffer()).toString('base64');
  for (const label of ['red coat', 'blue coat']) await ask('enrol', Buffer.from(JSON.stringify({ image: picture, label })), `enrol-${label}`);
  for (let i = 0; i < 50 && responses.size < 2; i++) await sleep(100);
  const before = await identities();
  const commands = ['lookup', 'identities', 'forget', 'enrol', 'search', 'x'.repeat(3000), 'unknown', '%', ''];
  for (let i = 0; i < count; i++) {
    await ask(commands[i % commands.length]!, fuzzPayload(i), `r${i}`);
    if (i % 50 === 0) await sleep(20);
  }
  for (let waited = 0; waited < 30_000 && responses.size < count; waited += 200) await sleep(200);
  const after = await identities();
  let invalid = 0;
  let duplicated = 0;
  for (const answers of responses.values()) {
    if (answers.length > 1) duplicated += answers.length - 1;
    if (schemaErrors('response', JSON.parse(answers[0]!)).length > 0) invalid += 1;
  }
  const alive = running.logs().length > 0 && (await running.stop('SIGTERM')) === 0;
  const unanswered = count - [...responses.keys()].filter((id) => /^r\d+$/.test(id)).length;
  return {
    fault: `fuzzed MQTT requests ×${count}`,
    injected: count,
    survived: alive && invalid === 0 && before === after && before === 2 ? count - unanswered : 0,
    lost: unanswered + invalid,
    duplicated,
    notes: `every request answered with a schema-valid response (${invalid} invalid); identities ${before} before, ${after} after; largest answer ${Math.max(...[...responses.values()].map((a) => a[0]!.length))} bytes`,
  };
}

/** A random change to one key of the example config (or to its text). */
function mutateConfig(base: Record<string, unknown>, text: string, index: number): string {
  if (index % 10 === 9) return text.slice(0, Math.floor(Math.random() * text.length)); // cut short
  const copy = structuredClone(base);
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, at: (string | number)[]) => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node)) {
      const step = Array.isArray(node) ? Number(key) : key;
      paths.push([...at, step]);
      walk(child, [...at, step]);
    }
  };
  walk(copy, []);
  const target = paths[Math.floor(Math.random() * paths.length)]!;
  const parent = target.slice(0, -1).reduce<Record<string | number, unknown>>((node, key) => node[key] as Record<string | number, unknown>, copy);
  const key = target.at(-1)!;
  const values = [null, -1, 0, 1e12, -1e12, Number.POSITIVE_INFINITY, Number.NaN, 0.5, '', 'x'.repeat(300), '${ENV:NOPE_NOT_SET}', '/no/such/file', [], {}, true, 'rtsp://', 'mqtts://h:99999'];
  switch (index % 3) {
    case 0:
      delete parent[key];
      break;
    case 1:
      parent[key] = values[Math.floor(Math.random() * values.length)];
      break;
    default:
      parent[`${String(key)}_typo`] = parent[key];
  }
  return stringify(copy);
}

async function fuzzConfigs(count: number): Promise<Omit<FaultRow, 'seconds'>> {
  // The example on this machine: its TLS files and state directories made real here.
  const tls = makeTlsMaterial(mkdtempSync(path.join(work, 'tls-')), 'crosscam');
  const text = readFileSync('config/crosscam.example.yaml', 'utf8')
    .replaceAll('/etc/crosscam/tls/ca.pem', tls.ca)
    .replaceAll('/etc/crosscam/tls/client.pem', tls.clientCert)
    .replaceAll('/etc/crosscam/tls/client.key', tls.clientKey)
    .replaceAll('/var/lib/crosscam', work);
  const base = parseYaml(text) as Record<string, unknown>;
  const dir = path.join(work, 'configs');
  mkdirSync(dir);
  process.env.CAM_GATE_PASSWORD = 'gate';
  process.env.CREDENTIALS_DIRECTORY = dir;
  writeFileSync(path.join(dir, 'cam_yard_password'), 'yard');
  writeFileSync(path.join(dir, 'mqtt_password'), 'mqtt');
  let accepted = 0;
  let refusedWithKey = 0;
  const crashes: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `config-${i}.yaml`);
    writeFileSync(file, mutateConfig(base, text, i));
    try {
      const { config } = await loadConfigWithCatalog(file);
      const issues = environmentIssues(config);
      if (issues.length === 0) accepted += 1;
      else if (issues.every((issue) => issue.path !== '(root)')) refusedWithKey += 1;
      else crashes.push(`config-${i}: ${issues[0]!.message}`);
    } catch (error) {
      if (error instanceof ConfigError && error.issues.every((issue) => issue.path !== '(root)' || /YAML|empty/.test(issue.message))) refusedWithKey += 1;
      else if (error instanceof OperatorError) refusedWithKey += 1;
      else crashes.push(`config-${i}: ${(error as Error).stack ?? String(error)}`);
    }
  }
  // And through the CLI, a sample: exit 0 or 78, never a stack trace.
  let cliBad = 0;
  for (let i = 0; i < Math.min(20, count); i++) {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI_PATH, 'check-config', path.join(dir, `config-${i}.yaml`)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
      child.on('exit', (code) => resolve({ code, stderr }));
    });
    if (!(result.code === 0 || result.code === 78) || /^\s+at /m.test(result.stderr)) cliBad += 1;
  }
  return {
    fault: `fuzzed config files ×${count}`,
    injected: count,
    survived: count - crashes.length,
    lost: crashes.length + cliBad,
    duplicated: 0,
    notes: `${accepted} accepted, ${refusedWithKey} refused naming the key; check-config on ${Math.min(20, count)} of them: ${cliBad} bad exits${crashes.length > 0 ? `; first crash: ${crashes[0]!.slice(0, 200)}` : ''}`,
  };
}

// ---- run and report

const plan: { name: string; run: () => Promise<Omit<FaultRow, 'seconds'> | undefined> }[] = [
  { name: 'rtsp', run: () => rtspServerRestarts(SHORT ? 3 : 10) },
  { name: 'ffmpeg', run: () => ffmpegKills(SHORT ? 2 : 5) },
  { name: 'broker', run: () => brokerOutage(SHORT ? 15 : 60) },
  { name: 'kill', run: () => daemonKills(SHORT ? 5 : 20) },
  { name: 'disk', run: () => diskFull(SHORT ? 20 : 60) },
  { name: 'models', run: () => badModels() },
  { name: 'camera', run: () => cameraUnreachable() },
  { name: 'requests', run: () => fuzzRequests(SHORT ? 1000 : 2000) },
  { name: 'configs', run: () => fuzzConfigs(SHORT ? 200 : 500) },
];

const rows: FaultRow[] = [];
const skipped: string[] = [];
const started = Date.now();
try {
  for (const step of plan.filter((s) => args.only === undefined || args.only.split(',').includes(s.name))) {
    const t0 = Date.now();
    process.stderr.write(`faults: ${step.name}...\n`);
    try {
      const row = await step.run();
      if (row === undefined) skipped.push(`${step.name} (needs root to mount a tmpfs)`);
      else rows.push({ ...row, seconds: Math.round((Date.now() - t0) / 1000) });
    } catch (error) {
      rows.push({ fault: step.name, injected: 1, survived: 0, lost: 1, duplicated: 0, notes: `the fault run itself failed: ${(error as Error).message.split('\n')[0]}`, seconds: Math.round((Date.now() - t0) / 1000) });
    } finally {
      for (const cleanup of cleanups.splice(0).reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
    }
    process.stderr.write(`faults: ${step.name}: ${JSON.stringify(rows.at(-1))}\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const table = [
  '| fault | injected | survived | lost | duplicated | s | notes |',
  '|---|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.fault} | ${r.injected} | ${r.survived} | ${r.lost} | ${r.duplicated} | ${r.seconds} | ${r.notes} |`),
].join('\n');
const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
const report = `# Fault suite (${SHORT ? 'short' : 'full'})\n\n\`npm run faults${SHORT ? ' -- --short' : ''}\` on ${machine}, ${new Date().toISOString()}, ${Math.round((Date.now() - started) / 1000)} s.\n\n${table}\n${skipped.length > 0 ? `\nSkipped: ${skipped.join(', ')}\n` : ''}`;
writeFileSync(`${args.out}.md`, report);
writeFileSync(`${args.out}.json`, JSON.stringify({ short: SHORT, machine, rows, skipped }, null, 2));
process.stdout.write(`${report}\n`);
process.exitCode = rows.every((r) => r.lost === 0 && r.survived === r.injected) ? 0 : 1;
