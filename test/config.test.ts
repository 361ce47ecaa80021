import { test } from 'node:test';
import { OperatorError } from '../src/core/operator-error.js';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, type ConfigIssue } from '../src/config/issues.js';
import { loadConfig, parseConfig, type ParseConfigOptions } from '../src/config/load.js';
import type { KnownModels } from '../src/config/references.js';
import { loadModelCatalog } from '../src/models/catalog.js';

const KNOWN_MODELS: KnownModels = new Map([
  ['yolox-nano', { task: 'detector' }],
  ['osnet-x0_25-msmt17', { task: 'reid' }],
  ['vehicle-reid', { task: 'reid' }],
  ['markings', { task: 'segmentation' }],
]);

const TWO_CAMERAS = `
cameras:
  - id: a
    url: rtsp://192.0.2.1/stream
  - id: b
    url: /srv/video/b.mp4
`;

function parse(text: string, options: ParseConfigOptions = {}) {
  return parseConfig(text, { env: {}, hostname: 'test-host', readFile: noFiles, ...options });
}

function noFiles(file: string): string {
  throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
}

function issuesOf(text: string, options: ParseConfigOptions = {}): ConfigIssue[] {
  const result = parse(text, options);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.issues;
}

/** The config must be rejected with an issue at exactly `path` whose message matches. */
function assertIssue(text: string, path: string, message: RegExp | string, options: ParseConfigOptions = {}): void {
  const issues = issuesOf(text, options);
  const atPath = issues.filter((issue) => issue.path === path);
  assert.ok(atPath.length > 0, `no issue at ${path}; got:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  const matches = atPath.some((issue) => (typeof message === 'string' ? issue.message === message : message.test(issue.message)));
  assert.ok(matches, `issue at ${path} is "${atPath.map((i) => i.message).join('" / "')}", expected ${String(message)}`);
}

test('defaults fill every section of a minimal config', () => {
  const result = parse('cameras:\n  - id: gate\n    url: rtsp://192.0.2.1/s\n');
  assert.ok(result.ok);
  const { config } = result;
  assert.equal(config.node_id, 'test-host');
  assert.deepEqual(config.log, { level: 'info' });
  assert.deepEqual(config.service, { shutdown_timeout_s: 15, status_interval_s: 10 });
  assert.deepEqual(config.ffmpeg, {
    loglevel: 'error',
    rtsp_timeout_s: 10,
    threads: 1,
    stall_timeout_s: 20,
    restart_delay_s: 10,
    restart_delay_max_s: 120,
  });
  assert.deepEqual(config.models, {
    dir: '/var/lib/crosscam/models',
    detector: 'yolox-nano',
    reid: { person: 'osnet-x0_25-msmt17' },
  });
  assert.deepEqual(config.runtime, { providers: [{ name: 'cpu' }], intra_op_threads: 1, inter_op_threads: 1, inference_workers: 'auto' });
  assert.deepEqual(config.detect, {
    fps: 5,
    max_side: 832,
    min_score: 0.3,
    nms_iou: 0.45,
    classes: ['person', 'car', 'bus', 'truck', 'motorcycle'],
    min_box_height: 0,
  });
  assert.deepEqual(config.track, {
    high_score: 0.5,
    low_score: 0.1,
    new_track_score: 0.7,
    match_iou: 0.2,
    confirm_hits: 3,
    max_lost_s: 2,
    update_interval_s: 5,
  });
  assert.deepEqual(config.embed, { batch_size: 16, best_crops: 5, min_quality: 0.2, min_interval_s: 1 });
  assert.deepEqual(config.cameras[0], {
    id: 'gate',
    url: 'rtsp://192.0.2.1/s',
    enabled: true,
    zones: [],
    masks: [],
    ffmpeg: { input_args: [] },
    file: { realtime: true, loop: false },
    detect: config.detect,
  });
  assert.deepEqual(config.mqtt, {
    url: 'mqtt://127.0.0.1:1883',
    base_topic: 'crosscam',
    qos: 1,
    protocol_version: 5,
    keepalive_s: 30,
    stats_interval_s: 60,
    outbox: { max_messages: 100000 },
    embedded_broker: { enabled: false, host: '127.0.0.1', port: 1883 },
    home_assistant: { enabled: false, discovery_prefix: 'homeassistant' },
  });
  assert.deepEqual(config.snapshots, { enabled: true, path: '/var/lib/crosscam/snapshots', quality: 80, frame_width: 960, mqtt: false });
  assert.deepEqual(config.http, { enabled: true, host: '127.0.0.1', port: 8080 });
  assert.deepEqual(config.gallery, {
    path: '/var/lib/crosscam/gallery',
    map_size_mb: 2048,
    retention: { sightings_days: 30, identities_days: 90 },
    exemplars_per_identity: 10,
    search: { ann_from: 100_000, graph_dimensions: 48 },
  });
  assert.equal(config.matching.window_s, 600);
  assert.deepEqual(config.matching.same_camera, { enabled: true, min_gap_s: 0 });
  assert.deepEqual(config.matching.classes.person, { threshold: 0.4, min_margin: 0.05 });
  assert.deepEqual(config.matching.classes.truck, { threshold: 0.7, min_margin: 0.05 });
  assert.deepEqual(Object.keys(config.matching.classes), ['person', 'car', 'bus', 'truck', 'motorcycle', 'bicycle']);
  assert.equal(config.matching.momentum, 0.9);
  assert.equal(config.matching.temperature, 0.05);
  assert.equal(config.matching.high_confidence_entropy, 0.5);
  assert.equal(config.matching.decide_early, false);
  assert.equal(config.matching.merge_threshold, 0.6);
  assert.deepEqual(config.matching.views, { weight: 0, shortlist: 20 });
  assert.deepEqual(config.matching.runner_up, { skip_likely_same: true });
  assert.equal(config.matching.online_merge, true);
  assert.deepEqual(config.features, {
    camera_centring: { enabled: true, warmup_tracks: 10, site_warmup_tracks: 10, window_tracks: 500, clip: 2.5 },
    colour_normalisation: { enabled: false, method: 'histogram', warmup_crops: 100, window_crops: 5000 },
    pair_calibration: { enabled: true, window: 400, min_samples: 20 },
  });
  assert.deepEqual(config.topology, []);
  assert.deepEqual(config.schedules, { retention: '0 3 * * *', recluster: '30 3 * * *', adapt: '0 2 * * *' });
});

test('environment-derived defaults, per-camera detect overrides and partial class thresholds', () => {
  const result = parse(
    `
detect: {fps: 4, width: 640, height: 360, classes: [person, car]}
cameras:
  - id: a
    url: rtsp://192.0.2.1/s
    detect: {fps: 2.5, classes: [person]}
  - id: b
    url: rtsp://192.0.2.2/s
    detect: {width: 320, height: 240}
runtime:
  providers: [{name: tensorrt, fp16: false}, cuda, cpu]
matching:
  classes:
    car: {min_margin: 0.1}
  decide_early: false
service: {status_interval_s: 2.5}
schedules: {recluster: null}
`,
    { env: { CROSSCAM_MODELS_DIR: '/opt/models' } },
  );
  assert.ok(result.ok);
  const { config } = result;
  assert.equal(config.models.dir, '/opt/models');
  const [a, b] = config.cameras;
  assert.deepEqual(a!.detect, { fps: 2.5, width: 640, height: 360, max_side: 832, min_score: 0.3, nms_iou: 0.45, classes: ['person'], min_box_height: 0 });
  assert.deepEqual(b!.detect, { fps: 4, width: 320, height: 240, max_side: 832, min_score: 0.3, nms_iou: 0.45, classes: ['person', 'car'], min_box_height: 0 });
  assert.deepEqual(config.runtime.providers, [
    { name: 'tensorrt', device_id: 0, fp16: false, engine_cache_dir: '/var/lib/crosscam/tensorrt-cache' },
    { name: 'cuda', device_id: 0 },
    { name: 'cpu' },
  ]);
  assert.deepEqual(config.matching.classes.car, { threshold: 0.7, min_margin: 0.1 });
  assert.equal(config.matching.decide_early, false);
  assert.deepEqual(config.service, { shutdown_timeout_s: 15, status_interval_s: 2.5 });
  assert.equal(config.schedules.recluster, null);
});

test('the default model ids exist in the built-in model catalog with the right tasks', async () => {
  const catalog = await loadModelCatalog();
  const result = parse(TWO_CAMERAS, { knownModels: catalog.models });
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues));
});

test('mistake: a camera without url', () => {
  assertIssue('cameras:\n  - id: a\n', 'cameras.0.url', 'required');
});

test('mistake: duplicate camera ids name the later one and the first', () => {
  assertIssue(`${TWO_CAMERAS}  - id: c\n    url: /v.mp4\n  - id: a\n    url: /w.mp4\n`, 'cameras.3.id', 'duplicate camera id "a" (also cameras.0.id)');
});

test('mistake: fps out of range, globally and per camera', () => {
  assertIssue(`detect: {fps: 0}\n${TWO_CAMERAS}`, 'detect.fps', 'must be > 0');
  assertIssue('cameras:\n  - id: a\n    url: /v.mp4\n    detect: {fps: 100}\n', 'cameras.0.detect.fps', 'must be <= 30');
});

test('mistake: unknown keys, top level and nested, list the allowed keys', () => {
  assertIssue(`detcet: {fps: 5}\n${TWO_CAMERAS}`, 'detcet', /^unknown key \(allowed: node_id, log, .*detect.*\)$/);
  assertIssue(`mqtt:\n  embedded_broker: {enable: true}\n${TWO_CAMERAS}`, 'mqtt.embedded_broker.enable', 'unknown key (allowed: enabled, host, port)');
  assertIssue(`matching:\n  classes:\n    dog: {threshold: 0.5}\n${TWO_CAMERAS}`, 'matching.classes.dog', /^unknown key \(allowed: person, car, bus, truck, motorcycle, bicycle\)$/);
});

test('mistake: wrong types', () => {
  // YAML 1.2: "yes" is a string, not a boolean.
  assertIssue('cameras:\n  - id: a\n    url: /v.mp4\n    enabled: yes\n', 'cameras.0.enabled', 'expected true or false, got a string');
  assertIssue(`detect: {classes: person}\n${TWO_CAMERAS}`, 'detect.classes', 'expected a list, got a string');
  assertIssue(`track: {confirm_hits: 2.5}\n${TWO_CAMERAS}`, 'track.confirm_hits', 'expected a whole number, got a fraction');
  assertIssue(`log: {level: verbose}\n${TWO_CAMERAS}`, 'log.level', 'must be one of: trace, debug, info, warn, error (got "verbose")');
});

test('mistake: match threshold out of range', () => {
  assertIssue(`matching:\n  classes:\n    person: {threshold: 1.5}\n${TWO_CAMERAS}`, 'matching.classes.person.threshold', 'must be <= 1');
});

test('mistake: unknown model id and model of the wrong task', () => {
  assertIssue(`models: {detector: yolox}\n${TWO_CAMERAS}`, 'models.detector', 'unknown model "yolox" (known: yolox-nano)', {
    knownModels: KNOWN_MODELS,
  });
  assertIssue(
    `models:\n  reid: {person: yolox-nano}\n${TWO_CAMERAS}`,
    'models.reid.person',
    'model "yolox-nano" is a detector model, not a reid model (known: osnet-x0_25-msmt17, vehicle-reid)',
    { knownModels: KNOWN_MODELS },
  );
  // The catalog's segmentation models are not offered for a reid slot.
  assertIssue(`models:\n  reid: {vehicle: markings}\n${TWO_CAMERAS}`, 'models.reid.vehicle', /is a segmentation model, not a reid model \(known: osnet/, {
    knownModels: KNOWN_MODELS,
  });
});

test('mistake: bad cron expression', () => {
  assertIssue(`schedules: {retention: '0 25 * * *'}\n${TWO_CAMERAS}`, 'schedules.retention', /^invalid cron expression "0 25 \* \* \*": .*hour/);
  assertIssue(`schedules: {recluster: 'every night'}\n${TWO_CAMERAS}`, 'schedules.recluster', /^invalid cron expression "every night": expected 5 or 6 fields/);
});

test('mistake: topology naming an unknown camera, and max_s not above min_s', () => {
  const text = `${TWO_CAMERAS}topology:\n  - {from: a, to: lobby, max_s: 60}\n  - {from: b, to: a, min_s: 30, max_s: 30}\n`;
  assertIssue(text, 'topology.0.to', 'unknown camera "lobby" (cameras: a, b)');
  assertIssue(text, 'topology.1.max_s', 'must be greater than min_s (30)');
});

test('overlapping views: topology min_s may be negative, max_s must still exceed it', () => {
  const result = parse(`${TWO_CAMERAS}topology:\n  - {from: a, to: b, min_s: -5, max_s: 60}\n`);
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues));
  assert.deepEqual(result.config.topology, [{ from: 'a', to: 'b', min_s: -5, max_s: 60, bidirectional: true }]);
  assertIssue(`${TWO_CAMERAS}topology:\n  - {from: a, to: b, min_s: -9, max_s: -6}\n`, 'topology.0.max_s', 'must be >= 0');
});

test('mistake: settings of features that do not exist yet are unknown keys', () => {
  assertIssue(`schedules:\n  inspections: [{camera: a, cron: '0 12 * * *'}]\n${TWO_CAMERAS}`, 'schedules.inspections', 'unknown key (allowed: timezone, retention, recluster, adapt)');
  assertIssue(`models: {segmentation: markings}\n${TWO_CAMERAS}`, 'models.segmentation', 'unknown key (allowed: dir, catalog, detector, reid)', {
    knownModels: KNOWN_MODELS,
  });
});

test('mistake: ffmpeg restart delays, stall timeout and log level; service timeouts', () => {
  assertIssue(`ffmpeg: {restart_delay_s: 30, restart_delay_max_s: 20}\n${TWO_CAMERAS}`, 'ffmpeg.restart_delay_max_s', 'must be at least restart_delay_s (30)');
  assertIssue(`ffmpeg: {loglevel: debug}\n${TWO_CAMERAS}`, 'ffmpeg.loglevel', 'must be one of: error, warning, info (got "debug")');
  // One frame every 10 s on camera b: a 20 s watchdog would restart it on any jitter.
  const slow = 'cameras:\n  - id: a\n    url: /a.mp4\n  - id: b\n    url: /b.mp4\n    detect: {fps: 0.1}\n';
  assertIssue(slow, 'ffmpeg.stall_timeout_s', 'must exceed two frame intervals of camera "b" (2 / detect.fps = 20 s)');
  assert.ok(parse(`ffmpeg: {stall_timeout_s: 21}\n${slow}`).ok);
  assertIssue(`service: {shutdown_timeout_s: 0, status_interval_s: 5}\n${TWO_CAMERAS}`, 'service.shutdown_timeout_s', 'must be > 0');
});

test('mistake: matching confidence settings out of range', () => {
  const text = `matching: {temperature: 0, high_confidence_entropy: 1.2, merge_threshold: -1.5, decide_early: 'no'}\n${TWO_CAMERAS}`;
  assertIssue(text, 'matching.temperature', 'must be > 0');
  assertIssue(text, 'matching.high_confidence_entropy', 'must be <= 1');
  assertIssue(text, 'matching.merge_threshold', 'must be >= -1');
  assertIssue(text, 'matching.decide_early', 'expected true or false, got a string');
});

test('mistake: mqtt url with an unsupported scheme, and TLS settings on a plain url', () => {
  assertIssue(`mqtt: {url: 'http://broker:1883'}\n${TWO_CAMERAS}`, 'mqtt.url', 'unsupported scheme "http://" (use mqtt://, mqtts://, ws://, wss://)');
  assertIssue(`mqtt: {url: 'mqtt://broker', tls: {ca: /ca.pem}}\n${TWO_CAMERAS}`, 'mqtt.tls', 'TLS settings need an mqtts:// or wss:// url');
});

test('mistake: YAML syntax error reports line and column', () => {
  assertIssue('cameras:\n  - id: a\n    url: [rtsp://x\n  - id: b\n', '(root)', /^YAML syntax error at line 4, column \d+: /);
});

test('mistake: a secret reference to an unset variable names the key', () => {
  assertIssue('cameras:\n  - id: a\n    url: rtsp://admin:${ENV:CAM1_PASSWORD}@192.0.2.1/s\n', 'cameras.0.url', 'environment variable CAM1_PASSWORD is not set');
});

test('mistake: empty camera list, and an empty file', () => {
  assertIssue('cameras: []\n', 'cameras', 'list at least one camera');
  assertIssue('# nothing yet\n', '(root)', 'the file is empty (at least "cameras" is required)');
});

test('mistake: zone polygon with fewer than 3 points, point outside the frame', () => {
  const text = 'cameras:\n  - id: a\n    url: /v.mp4\n    zones:\n      - {name: door, polygon: [[0, 0], [1, 1]]}\n    masks: [[[0, 0], [1.5, 0], [0, 1]]]\n';
  assertIssue(text, 'cameras.0.zones.0.polygon', 'a polygon needs at least 3 points');
  assertIssue(text, 'cameras.0.masks.0.1.0', 'must be <= 1');
});

test('mistake: node_id and camera id that cannot be MQTT topic levels', () => {
  assertIssue(`node_id: site/edge\n${TWO_CAMERAS}`, 'node_id', 'must be a single MQTT topic level (no "/", "+" or "#")');
  assertIssue('cameras:\n  - id: gate 1\n    url: /v.mp4\n', 'cameras.0.id', 'only letters, digits, "_" and "-" are allowed');
});

test('mistake: execution provider names and settings', () => {
  assertIssue(`runtime: {providers: [gpu]}\n${TWO_CAMERAS}`, 'runtime.providers.0.name', 'must be one of: tensorrt, cuda, cpu');
  assertIssue(`runtime: {providers: [cpu, cpu]}\n${TWO_CAMERAS}`, 'runtime.providers.1', 'duplicate provider "cpu"');
  assertIssue(`runtime: {providers: [{name: cpu, fp16: true}]}\n${TWO_CAMERAS}`, 'runtime.providers.0.fp16', 'unknown key (allowed: name)');
});

test('mistake: detect width without height, camera url scheme', () => {
  assertIssue(`detect: {width: 640}\n${TWO_CAMERAS}`, 'detect.height', 'set width and height together (or neither, for the source size)');
  assertIssue('cameras:\n  - id: a\n    url: rtmp://192.0.2.1/live\n', 'cameras.0.url', /^unsupported scheme "rtmp:\/\/"/);
});

test('every problem of a file is reported in one run, in file order', () => {
  // The non-integer is there on purpose: zod stops object refinements after it, and the
  // camera cross-references must still be reported.
  const issues = issuesOf(`
node_id: edge/1
track: {confirm_hits: 1.5}
cameras:
  - id: a
    url: ftp://x
  - id: a
    url: /v.mp4
topology:
  - {from: a, to: nowhere, max_s: 10}
mqtt: {qos: 3}
colour: blue
`);
  assert.deepEqual(
    issues.map((issue) => issue.path),
    ['node_id', 'track.confirm_hits', 'cameras.0.url', 'cameras.1.id', 'topology.0.to', 'mqtt.qos', 'colour'],
  );
});

test('loadConfig: an unreadable file is missing input (exit 66); a failing model catalog is a ConfigError', async () => {
  const missing = path.join(os.tmpdir(), 'crosscam-no-such-config.yaml');
  await assert.rejects(loadConfig(missing), (error: unknown) => {
    assert.ok(error instanceof OperatorError);
    assert.equal(error.exitCode, 66);
    assert.equal(error.message, `cannot read config file ${missing}: ENOENT`);
    return true;
  });

  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-config-'));
  const file = path.join(dir, 'crosscam.yaml');
  await writeFile(file, `models: {catalog: ./extra.yaml, detector: mine}\n${TWO_CAMERAS}`);
  await assert.rejects(
    loadConfig(file, { env: {}, loadKnownModels: async () => Promise.reject(new Error('model catalog ./extra.yaml: cannot read')) }),
    (error: unknown) => error instanceof ConfigError && error.issues[0]?.path === 'models.catalog' && /cannot read/.test(error.issues[0].message),
  );
  let catalogAsked: string | undefined;
  await assert.rejects(
    loadConfig(file, {
      env: {},
      loadKnownModels: async (models) => {
        catalogAsked = models.catalog;
        return KNOWN_MODELS;
      },
    }),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.issues, [{ path: 'models.detector', message: 'unknown model "mine" (known: yolox-nano)' }]);
      assert.match(error.message, /^invalid config file .*crosscam\.yaml:\nmodels\.detector: unknown model "mine"/);
      return true;
    },
  );
  assert.equal(catalogAsked, './extra.yaml');

  await writeFile(file, TWO_CAMERAS);
  const config = await loadConfig(file, { env: {}, hostname: 'h', loadKnownModels: async () => KNOWN_MODELS });
  assert.deepEqual(config.cameras.map((camera) => camera.id), ['a', 'b']);
});
