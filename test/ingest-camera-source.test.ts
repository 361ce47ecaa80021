import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CameraSource, type LiveFrame } from '../src/ingest/camera-source.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import { FakeClock, StallingCamera, memoryLogger, waitFor, y4mClip } from './support/ingest-fixtures.js';
import { freePort } from './support/ports.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const digest = (data: Uint8Array) => createHash('sha1').update(data).digest('hex');

async function writeClip(dir: string, name: string, options: { frames: number; fps: number }): Promise<string> {
  const clip = y4mClip({ width: 64, height: 48, ...options });
  const file = path.join(dir, name);
  await writeFile(file, Buffer.concat([clip.header, ...clip.frames]));
  return file;
}

/** Hashes of the clip's frames decoded offline, in order. */
async function referenceHashes(file: string): Promise<string[]> {
  const hashes: string[] = [];
  for await (const frame of readFfmpegFrames({ url: file, cameraId: 'reference' })) hashes.push(digest(frame.data));
  return hashes;
}

/** ffmpeg processes that are children of this test process. */
function ffmpegChildren(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => /ffmpeg/.test(line));
  } catch {
    return []; // ps exits 1 when there are no children at all
  }
}

test('slow consumer: newest frame wins, skipped frames are counted, ffmpeg keeps real time, three buffers reused', { timeout: 30_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = await writeClip(dir, 'clip.y4m', { frames: 50, fps: 25 });
  const reference = await referenceHashes(file);
  assert.equal(reference.length, 50);
  assert.equal(new Set(reference).size, 50, 'every frame of the clip differs');

  const { logger } = memoryLogger();
  const source = new CameraSource({ cameraId: 'slow', source: { url: file, realtime: true }, logger, restartDelayS: 60 });
  t.after(() => source.stop());
  const states: string[] = [];
  source.on('status', (status) => states.push(status.state));
  source.start();

  const delivered: LiveFrame[] = [];
  const buffers = new Set<Uint8Array>();
  for (;;) {
    const frame = await source.nextFrame();
    assert.ok(frame);
    delivered.push({ ...frame });
    buffers.add(frame.data);
    await sleep(150); // the pipeline is busy with this frame while ffmpeg goes on
    assert.equal(digest(frame.data), reference[frame.index], `frame ${frame.index} intact after the consumer held it`);
    if (frame.index === 49) break;
  }

  const indices = delivered.map((frame) => frame.index);
  assert.equal(indices[0], 0, 'a waiting consumer gets the first frame at once');
  const gaps = indices.slice(1).reduce((sum, index, i) => sum + (index - indices[i] - 1), 0);
  assert.ok(indices.every((index, i) => i === 0 || index > indices[i - 1]), `strictly increasing: ${indices}`);
  assert.ok(delivered.length < 25, `a consumer taking 150 ms per frame saw ${delivered.length} of 50 frames at 25 fps`);
  assert.equal(source.status().skippedFrames, gaps, 'every frame the consumer never saw is counted once');
  assert.equal(gaps + delivered.length, 50);
  assert.ok(buffers.size <= 3, `distinct frame buffers handed out: ${buffers.size}`);
  assert.ok(delivered.every((frame) => frame.session === 1 && Math.abs(frame.pts - frame.index / 25) < 1e-9 && frame.width === 64 && frame.height === 48));
  const span = delivered.at(-1)!.receivedAt - delivered[0].receivedAt;
  assert.ok(span > 1_500 && span < 3_000, `50 frames at 25 fps arrived over ${span} ms: ffmpeg was never held back by the consumer`);

  await waitFor(() => source.status().state === 'reconnecting', 'end of the file');
  assert.equal(source.status().lastError, 'ffmpeg ended (end of stream)');
  assert.deepEqual(states, ['online', 'reconnecting']);
});

test('watchdog: a stalled source is killed after stall_timeout and restarted with doubling, capped backoff; any session that delivered frames resets it', { timeout: 40_000 }, async (t) => {
  const clock = new FakeClock();
  const camera = new StallingCamera(y4mClip({ width: 32, height: 24, frames: 10, fps: 10 }), 3);
  const url = await camera.listen();
  t.after(() => camera.close());
  const { logger, lines } = memoryLogger();
  const source = new CameraSource({
    cameraId: 'stall', source: { url }, logger, clock, stallTimeoutS: 20, restartDelayS: 10, restartDelayMaxS: 40,
  });
  t.after(() => source.stop());
  const events: string[] = [];
  source.on('status', (status) => events.push(`${status.state}: ${status.lastError}`));
  const restartDelays = () => lines.map((line) => JSON.parse(line) as { restartInS?: number }).filter((entry) => entry.restartInS !== undefined).map((entry) => entry.restartInS);

  source.start();
  await waitFor(() => camera.connections === 1, 'ffmpeg to connect');
  clock.advance(19_999);
  await sleep(300);
  assert.equal(source.status().state, 'starting', 'not killed before stall_timeout');
  clock.advance(1);
  await waitFor(() => restartDelays().length === 1, 'the watchdog to kill ffmpeg');
  assert.equal(source.status().state, 'reconnecting');
  assert.equal(source.status().lastError, 'no frame for 20 s');

  // Silent again on attempts 2-4; attempt 5 gets frames. Delays before attempts 2..5: 10, 20, 40, 40 (capped).
  for (const [attempt, delayMs] of [[2, 10_000], [3, 20_000], [4, 40_000], [5, 40_000]]) {
    clock.advance(delayMs - 1);
    await sleep(300);
    assert.equal(camera.connections, attempt - 1, `attempt ${attempt} not before its ${delayMs} ms delay`);
    if (attempt === 5) camera.mode = 'frames';
    clock.advance(1);
    await waitFor(() => camera.connections === attempt, `attempt ${attempt}`);
    if (attempt === 5) break;
    clock.advance(20_000);
    await waitFor(() => restartDelays().length === attempt, `attempt ${attempt} to be killed`);
  }
  assert.deepEqual(restartDelays(), [10, 20, 40, 40]);
  await waitFor(() => source.status().state === 'online', 'frames from attempt 5');
  assert.equal(source.session, 5);
  assert.equal(source.status().reconnects, 4);

  // Frames for only 2 s, then a stall: the backoff starts over at 10 s (a short session counts).
  clock.advance(2_000);
  camera.sendFrames(3);
  await waitFor(() => source.status().lastFrameAt === clock.now(), 'more frames');
  clock.advance(19_999);
  await sleep(200);
  assert.equal(source.status().state, 'online');
  clock.advance(1);
  await waitFor(() => restartDelays().length === 5, 'the stall after the healthy run');
  assert.deepEqual(restartDelays(), [10, 20, 40, 40, 10]);
  assert.deepEqual(events, ['reconnecting: no frame for 20 s', 'offline: no frame for 20 s', 'online: null', 'reconnecting: no frame for 20 s']);
});

test('file source with loop: frames keep coming past the end of the file in the same session', { timeout: 20_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = await writeClip(dir, 'loop.y4m', { frames: 10, fps: 25 });
  const reference = await referenceHashes(file);
  const source = new CameraSource({ cameraId: 'loop', source: { url: file, realtime: true, loop: true }, logger: memoryLogger().logger, clock: new FakeClock() });
  t.after(() => source.stop());
  source.start();
  const seen: { index: number; pts: number; session: number; matches: boolean }[] = [];
  for await (const frame of source.frames()) {
    seen.push({ index: frame.index, pts: frame.pts, session: frame.session, matches: digest(frame.data) === reference[frame.index % 10] });
    if (frame.index >= 25) break;
  }
  assert.ok(seen.every((frame) => frame.session === 1 && frame.matches && Math.abs(frame.pts - frame.index / 25) < 1e-9), JSON.stringify(seen));
  assert.ok(seen.length >= 20, `a fast consumer sees most frames (${seen.length})`);
  assert.equal(source.status().state, 'online');
});

test('file source without loop: end of file restarts ffmpeg after the delay, index and pts start over in a new session', { timeout: 20_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = await writeClip(dir, 'once.y4m', { frames: 10, fps: 10 });
  const clock = new FakeClock();
  const source = new CameraSource({ cameraId: 'once', source: { url: file }, logger: memoryLogger().logger, clock, restartDelayS: 10 });
  t.after(() => source.stop());
  source.start();
  const first = await source.nextFrame();
  assert.deepEqual([first?.session, first?.index, first?.pts], [1, 0, 0]);
  await waitFor(() => source.status().state === 'reconnecting', 'end of file');
  assert.equal(source.status().lastError, 'ffmpeg ended (end of stream)');
  const last = await source.nextFrame();
  assert.deepEqual([last?.session, last?.index], [1, 9], 'the newest frame of the run is still delivered after it ended');

  const next = source.nextFrame();
  clock.advance(9_999);
  await sleep(300);
  assert.equal(source.session, 1);
  clock.advance(1);
  const restarted = await next;
  assert.deepEqual([restarted?.session, restarted?.index, restarted?.pts], [2, 0, 0]);
  assert.equal(source.status().state, 'online');
  assert.equal(source.status().reconnects, 1);
});

test('credentials never reach status.lastError or the log', { timeout: 20_000 }, async (t) => {
  const port = await freePort(); // nothing listens there
  const { logger, lines } = memoryLogger();
  const source = new CameraSource({
    cameraId: 'secret', source: { url: `rtsp://admin:hunter2@127.0.0.1:${port}/live`, rtspTimeoutS: 2 }, logger, clock: new FakeClock(),
  });
  t.after(() => source.stop());
  source.start();
  await waitFor(() => source.status().state === 'reconnecting', 'the connection to fail');
  assert.equal(source.status().lastError, `rtsp://***:***@127.0.0.1:${port}/live: Connection refused`);
  const log = lines.join('\n');
  assert.match(log, /rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/live: Connection refused/, 'ffmpeg\'s error line is forwarded');
  assert.match(log, /stream lost: rtsp:\/\/\*\*\*:\*\*\*@/);
  assert.doesNotMatch(log, /hunter2/);
});

test('stop() kills ffmpeg, waits for it, and leaves no timer behind, also when stopped before ffmpeg was spawned', { timeout: 20_000 }, async (t) => {
  const camera = new StallingCamera(y4mClip({ width: 32, height: 24, frames: 3, fps: 10 }));
  const url = await camera.listen();
  t.after(() => camera.close());

  const clock = new FakeClock();
  const source = new CameraSource({ cameraId: 'stop', source: { url }, logger: memoryLogger().logger, clock });
  source.start();
  await waitFor(() => camera.connections === 1, 'ffmpeg to connect');
  assert.equal(ffmpegChildren().length, 1);
  const waiting = source.nextFrame();
  await source.stop();
  assert.deepEqual(ffmpegChildren(), []);
  assert.equal(await waiting, null, 'a waiting consumer is released');
  assert.equal(await source.nextFrame(), null);
  assert.equal(clock.pendingTimers, 0);
  assert.deepEqual([source.status().state, source.status().lastError], ['offline', 'stopped']);

  const early = new CameraSource({ cameraId: 'early', source: { url }, logger: memoryLogger().logger, clock });
  early.start();
  await early.stop();
  await sleep(300);
  assert.deepEqual(ffmpegChildren(), [], 'an ffmpeg spawned after stop() is killed at once');
  assert.equal(clock.pendingTimers, 0);

  const refused = new CameraSource({ cameraId: 'refused', source: { url: `rtsp://127.0.0.1:${await freePort()}/x` }, logger: memoryLogger().logger, clock });
  refused.start();
  await waitFor(() => refused.status().state === 'reconnecting', 'the connection to fail');
  assert.equal(clock.pendingTimers, 1, 'the restart is scheduled');
  await refused.stop();
  assert.equal(clock.pendingTimers, 0, 'and cancelled by stop()');
});

test('a process that stopped its camera exits by itself: no handle or timer keeps it alive', { timeout: 20_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-live-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = await writeClip(dir, 'long.y4m', { frames: 250, fps: 25 }); // 10 s at real time
  const moduleUrl = new URL('../src/ingest/camera-source.js', import.meta.url).href;
  const script = `
    import { CameraSource } from ${JSON.stringify(moduleUrl)};
    import { pino } from 'pino';
    const source = new CameraSource({ cameraId: 'exit', source: { url: ${JSON.stringify(file)}, realtime: true }, logger: pino({ level: 'silent' }) });
    source.start();
    const frame = await source.nextFrame();
    await source.stop();
    console.log('stopped after frame', frame.index);`;
  const started = Date.now();
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: path.resolve(fileURLToPath(import.meta.url), '../../..'), timeout: 8_000 }, (error, out) =>
      error ? reject(error) : resolve({ stdout: out }),
    ),
  );
  assert.match(stdout, /stopped after frame 0/);
  assert.ok(Date.now() - started < 5_000, `exited after ${Date.now() - started} ms, long before the 10 s clip or the 20 s watchdog`);
});
