import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../src/core/logger.js';
import { framesFlow, SystemdWatchdog, systemdNotify, type FrameFlowView } from '../src/service/systemd-watchdog.js';

const logger = createLogger({ level: 'silent' });
const STALL_MS = 20_000;

test('frames flow while every online camera has a recent processed frame; offline cameras do not count', () => {
  const now = 100_000;
  const camera = (cameraId: string, online: boolean, lastProcessedAt: number | null, onlineSince = 0): FrameFlowView => ({ cameraId, online, lastProcessedAt, onlineSince });
  assert.deepEqual(framesFlow([camera('a', true, now - 1000), camera('b', true, now - 19_000)], STALL_MS, now), { flowing: true, stalled: [] });
  assert.deepEqual(framesFlow([camera('a', true, now - 1000), camera('b', true, now - 21_000)], STALL_MS, now), { flowing: false, stalled: ['b'] });
  assert.deepEqual(framesFlow([camera('a', false, now - 60_000)], STALL_MS, now), { flowing: true, stalled: [] }, 'a camera being reconnected is the ingest watchdog’s business');
  assert.deepEqual(framesFlow([camera('a', true, null, now - 5000)], STALL_MS, now), { flowing: true, stalled: [] }, 'just online, no frame processed yet');
  assert.deepEqual(framesFlow([camera('a', true, null, now - 25_000)], STALL_MS, now), { flowing: false, stalled: ['a'] });
});

test('READY=1 with a status line, WATCHDOG=1 pings only while frames flow, nothing outside systemd', async () => {
  const sent: string[][] = [];
  let now = 1_000_000;
  let lastProcessedAt = now;
  const watchdog = new SystemdWatchdog({
    env: { NOTIFY_SOCKET: '/run/fake', WATCHDOG_USEC: '30000000' },
    notify: async (assignments) => void sent.push([...assignments]),
    cameras: () => [{ cameraId: 'gate', online: true, lastProcessedAt, onlineSince: 0 }],
    statusLine: () => '1/1 cameras online',
    stallMs: STALL_MS,
    logger,
    now: () => now,
  });
  assert.equal(watchdog.intervalMs, 15_000, 'pings at half of WatchdogSec');
  await watchdog.ready();
  await watchdog.stopping(); // clears the interval timer; ticks are driven by hand below
  sent.length = 0;
  assert.equal(await watchdog.tick(), true);
  assert.deepEqual(sent, [['WATCHDOG=1', 'STATUS=1/1 cameras online']]);
  now += 30_000; // the pipeline hangs: no frame processed for 30 s while ffmpeg keeps the camera online
  assert.equal(await watchdog.tick(), false);
  assert.equal(await watchdog.tick(), false);
  assert.equal(sent.length, 1, 'no ping while frames do not flow');
  lastProcessedAt = now;
  assert.equal(await watchdog.tick(), true, 'pings resume with the frames');

  const outside = new SystemdWatchdog({ env: {}, notify: async () => assert.fail('no message outside systemd'), cameras: () => [], statusLine: () => '', stallMs: STALL_MS, logger });
  assert.equal(outside.intervalMs, undefined);
  await outside.ready();
  const otherPid = new SystemdWatchdog({ env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' }, notify: async () => undefined, cameras: () => [], statusLine: () => '', stallMs: STALL_MS, logger, pid: 4242 });
  assert.equal(otherPid.intervalMs, undefined, 'the watchdog is for another process');
});

test('the real systemd-notify delivers READY, STATUS and WATCHDOG datagrams to $NOTIFY_SOCKET, and pings stop with the frames', { timeout: 30_000, skip: existsSync('/usr/bin/systemd-notify') ? false : 'systemd-notify not installed' }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-notify-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'notify');
  const script = path.resolve(import.meta.dirname, '../../test/support/notify-socket.py');
  const receiver = spawn('/usr/bin/python3', [script, socketPath], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    try {
      process.kill(-receiver.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const lines: string[] = [];
  receiver.stdout.setEncoding('utf8').on('data', (text: string) => lines.push(...text.split('\n').filter(Boolean)));
  const waitFor = async (predicate: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(predicate(), `${what} (got ${JSON.stringify(lines)})`);
  };
  await waitFor(() => lines.includes('listening'), 'receiver up');

  let flowing = true;
  const watchdog = new SystemdWatchdog({
    env: { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: '400000' },
    notify: systemdNotify({ env: { ...process.env, NOTIFY_SOCKET: socketPath } }),
    cameras: () => [{ cameraId: 'gate', online: true, lastProcessedAt: flowing ? Date.now() : Date.now() - 60_000, onlineSince: 0 }],
    statusLine: () => '1/1 cameras online, 5.0 fps',
    stallMs: STALL_MS,
    logger,
  });
  t.after(() => watchdog.stopping());
  await watchdog.ready();
  await waitFor(() => lines.some((line) => line.includes('READY=1') && line.includes('STATUS=1/1 cameras online, 5.0 fps')), 'READY=1 with STATUS');
  await waitFor(() => lines.filter((line) => line.includes('WATCHDOG=1')).length >= 2, 'pings every 200 ms');
  flowing = false;
  await new Promise((resolve) => setTimeout(resolve, 300));
  const pings = lines.filter((line) => line.includes('WATCHDOG=1')).length;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(lines.filter((line) => line.includes('WATCHDOG=1')).length, pings, 'no ping once frames stopped flowing');
});
