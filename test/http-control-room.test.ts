/**
 * The operator's view end to end: the daemon on the demo config (the two halves of PETS09,
 * embedded broker), its HTTP server on a free port, and the control-room page in Debian's
 * Chromium driven by playwright-core. Also checks what the page rests on: /metrics with real
 * values, /readyz, and the two snapshots of a match (they exist, decode, show the matched
 * boxes' regions of the video, and are deleted by `forget`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import { chromium, type Browser } from 'playwright-core';
import sharp from 'sharp';
import { parse as parseYaml } from 'yaml';
import type { MatchMessage } from '../src/publish/messages.js';
import { startDaemon } from './support/daemon-process.js';
import { freePort } from './support/ports.js';
import { HAVE_PETS, HAVE_SHARED_MODELS, PETS_VIDEO } from './support/shared-data.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = !HAVE_PETS || !HAVE_SHARED_MODELS ? 'PETS09 clip or models not found' : !existsSync(CHROMIUM) ? 'Debian chromium not installed' : false;
const DEMO_CONFIG = path.resolve(import.meta.dirname, '../../config/demo.yaml');
/** The demo's camera crops, as offsets into the PETS09 frame; the clip runs at 10 fps. */
const OFFSET_X: Record<string, number> = { left: 0, right: 384 };
const VIDEO_FPS = 10;
const run = promisify(execFile);

/** The PETS09 frame at media time `pts`, RGB. */
async function videoFrame(pts: number): Promise<{ data: Buffer; width: number; height: number }> {
  const frame = Math.round(pts * VIDEO_FPS);
  const { stdout } = await run(ffmpegInstaller.path, ['-v', 'error', '-i', PETS_VIDEO, '-vf', `select=eq(n\\,${frame})`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    encoding: 'buffer',
    maxBuffer: 16 << 20,
  });
  return { data: stdout, width: 768, height: 576 };
}

/** Mean absolute difference between a crop and the video's region at (x, y). */
function regionDifference(crop: { data: Buffer; width: number; height: number }, frame: { data: Buffer; width: number }, x: number, y: number): number {
  let sum = 0;
  for (let row = 0; row < crop.height; row++) {
    for (let col = 0; col < crop.width; col++) {
      for (let c = 0; c < 3; c++) sum += Math.abs(crop.data[(row * crop.width + col) * 3 + c]! - frame.data[((y + row) * frame.width + x + col) * 3 + c]!);
    }
  }
  return sum / (crop.width * crop.height * 3);
}

test('control room: a match with both crops in Chromium, cameras online, /metrics and /readyz real; snapshots show the boxes and go with forget', { skip, timeout: 180_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-http-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const brokerPort = await freePort();
  const demo = parseYaml(await readFile(DEMO_CONFIG, 'utf8')) as Record<string, Record<string, unknown>>;
  const snapshotDir = path.join(dir, 'snapshots');
  const daemon = startDaemon({
    config: {
      ...demo,
      models: {},
      mqtt: { ...demo.mqtt, url: `mqtt://127.0.0.1:${brokerPort}`, embedded_broker: { enabled: true, host: '127.0.0.1', port: brokerPort } },
      gallery: { path: path.join(dir, 'gallery') },
      snapshots: { path: snapshotDir },
      http: { host: '127.0.0.1', port: 0 },
      // A decision as soon as a track has its best crops: the first match comes sooner.
      matching: { decide_early: true },
    },
    env: { CROSSCAM_DEMO_VIDEO: PETS_VIDEO },
  });
  t.after(() => daemon.dispose());
  const listening = await daemon.waitForLog((line) => /^HTTP server on/.test(line.msg), 60_000);
  const base = String(listening.url);
  await daemon.waitForLog((line) => /^match person-/.test(line.msg), 120_000);

  // The page, in a real browser.
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const consoleErrors: string[] = [];
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.goto(base);
  const card = page.locator('.match').first();
  await card.waitFor({ timeout: 20_000 });
  // Both crops of the match load (naturalWidth > 0 once decoded).
  // (A string: it runs in the page, whose DOM types this project does not compile against.)
  await page.waitForFunction(
    `(() => { const images = document.querySelector('.match')?.querySelectorAll('img') ?? []; return images.length === 2 && [...images].every((image) => image.complete && image.naturalWidth > 0); })()`,
    undefined,
    { timeout: 20_000 },
  );
  await page.locator('.camera .state-online').nth(1).waitFor({ timeout: 20_000 });
  assert.equal(await page.locator('.camera .state-online').count(), 2, 'both cameras shown online');
  assert.match((await card.locator('.figures').innerText()).replace(/\s+/g, ' '), /person-\d+ similarity \d\.\d{3} confidence/);
  const screenshot = path.join(os.tmpdir(), 'crosscam-control-room.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  const shot = await sharp(screenshot).stats();
  const spread = Math.max(...shot.channels.map((channel) => channel.stdev));
  assert.ok(spread > 20, `the screenshot is not blank (largest channel stdev ${spread.toFixed(1)})`);
  const cardBox = await card.boundingBox();
  assert.ok(cardBox && cardBox.width > 200 && cardBox.height > 150, `the match card is on the screenshot (${JSON.stringify(cardBox)})`);
  t.diagnostic(`screenshot ${screenshot}: match card ${Math.round(cardBox.width)}×${Math.round(cardBox.height)} px, channel stdev ${spread.toFixed(1)}`);
  assert.deepEqual(consoleErrors, [], 'no script error on the page');

  // What the page shows is also in the API, and the snapshots are the matched boxes of the video.
  const { matches } = (await (await fetch(`${base}/api/matches?limit=5`)).json()) as { matches: MatchMessage[] };
  const match = matches.find((m) => m.matched !== null)!;
  assert.ok(match, 'a cross-camera match is listed');
  // A snapshot is the track's best crop; it may have improved since the (early) decision, so
  // its box and pts are read from the identity's timeline, which the track's end updated.
  const identity = (await (await fetch(`${base}/api/identities/${match.identity}`)).json()) as {
    timeline: { camera: string; track_id: number; box: number[]; pts: number; snapshot: MatchMessage['sighting']['snapshot'] }[];
  };
  for (const ref of [match.sighting, match.matched!]) {
    assert.ok(ref.snapshot, `side ${ref.camera}#${ref.track_id} has a snapshot`);
    const side = identity.timeline.find((s) => s.camera === ref.camera && s.track_id === ref.track_id && s.snapshot?.id === ref.snapshot!.id);
    assert.ok(side?.snapshot, `${ref.camera}#${ref.track_id} is on the identity's timeline with its snapshot`);
    const response = await fetch(side.snapshot.crop_url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/jpeg');
    const crop = await sharp(Buffer.from(await response.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
    const [x1, y1, x2, y2] = side.box as [number, number, number, number];
    assert.ok(Math.abs(crop.info.width - (x2 - x1)) <= 2 && Math.abs(crop.info.height - (y2 - y1)) <= 2, `crop ${crop.info.width}×${crop.info.height} is the box ${side.box.join(',')}`);
    const frame = await videoFrame(side.pts);
    const image = { data: crop.data, width: crop.info.width, height: crop.info.height };
    const x = Math.max(0, Math.floor(x1)) + OFFSET_X[side.camera]!;
    const y = Math.max(0, Math.floor(y1));
    const here = regionDifference(image, frame, x, y);
    const elsewhere = regionDifference(image, frame, x + (x > 400 ? -60 : 60), y);
    t.diagnostic(`${side.camera}#${side.track_id}: mean |crop − video region| ${here.toFixed(1)}, 60 px aside ${elsewhere.toFixed(1)}`);
    assert.ok(here < 25 && here < elsewhere * 0.7, `the crop shows the box's region of the video (${here.toFixed(1)} vs ${elsewhere.toFixed(1)} aside)`);
    const frameResponse = await fetch(side.snapshot.frame_url);
    assert.equal(frameResponse.status, 200);
    const frameMeta = await sharp(Buffer.from(await frameResponse.arrayBuffer())).metadata();
    assert.equal(frameMeta.format, 'jpeg');
  }

  // Metrics and health carry real values.
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? NaN);
  assert.ok(value(/^crosscam_camera_fps\{camera="left"\} ([\d.]+)$/m) > 2, 'left camera fps');
  assert.ok(value(/^crosscam_camera_processed_frames_total\{camera="right"\} (\d+)$/m) > 50, 'right camera processed frames');
  assert.ok(value(/^crosscam_camera_detections_total\{camera="left",class="person"\} (\d+)$/m) > 50, 'detections by class');
  assert.ok(value(/^crosscam_inference_seconds_count\{model="yolox-nano",provider="cpu"\} (\d+)$/m) > 50, 'detector latency histogram');
  assert.ok(value(/^crosscam_inference_seconds_count\{model="osnet-x0_25-msmt17",provider="cpu"\} (\d+)$/m) > 5, 're-ID latency histogram');
  // Each detector run is one frame; a re-ID run is a batch, so it ran at least as many crops as runs.
  assert.equal(value(/^crosscam_inference_items_total\{model="yolox-nano",provider="cpu"\} (\d+)$/m), value(/^crosscam_inference_seconds_count\{model="yolox-nano",provider="cpu"\} (\d+)$/m), 'detector items are frames');
  assert.ok(
    value(/^crosscam_inference_items_total\{model="osnet-x0_25-msmt17",provider="cpu"\} (\d+)$/m) >= value(/^crosscam_inference_seconds_count\{model="osnet-x0_25-msmt17",provider="cpu"\} (\d+)$/m),
    're-ID items are crops, at least one per run',
  );
  assert.ok(value(/^crosscam_matches_total\{confidence="(?:high|low)"\} (\d+)$/m) >= 1, 'matches by confidence');
  assert.ok(value(/^crosscam_gallery_identities (\d+)$/m) >= 1, 'gallery identities');
  assert.equal(value(/^crosscam_mqtt_connected (\d)$/m), 1, 'MQTT connected');
  assert.equal(value(/^crosscam_camera_state\{camera="right",state="online"\} (\d)$/m), 1);
  assert.ok(value(/^process_resident_memory_bytes (\d+)$/m) > 50e6, 'process RSS');
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(((await ready.json()) as { checks: object }).checks, { models: true, mqtt: true, cameras: true, storage: true });

  // forget deletes the identity's snapshots (files and URLs).
  const forgotten = await fetch(`${base}/api/request/forget`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ identity: match.identity }) });
  assert.equal(forgotten.status, 200);
  const result = ((await forgotten.json()) as { result: { snapshots_removed: number } }).result;
  assert.ok(result.snapshots_removed >= 2, `forget removed ${result.snapshots_removed} snapshot files`);
  const ended = match.matched!.snapshot!;
  assert.equal((await fetch(ended.crop_url)).status, 404, 'the forgotten crop is gone');
  assert.ok(!(await readdir(snapshotDir)).some((name) => name.startsWith(ended.id)), 'its files are deleted');
  const unknown = await fetch(`${base}/api/request/nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(unknown.status, 400);

  assert.equal(await daemon.stop('SIGTERM', 30_000), 0);
});
