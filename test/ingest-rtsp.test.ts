import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CameraSource, type CameraSourceOptions } from '../src/ingest/camera-source.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import { memoryLogger, waitFor } from './support/ingest-fixtures.js';
import { haveRtspServer, makeH264Clip, startRtspServer } from './support/rtsp-server.js';
import { HAVE_PETS, PETS_VIDEO } from './support/shared-data.js';

const skip = !HAVE_PETS ? 'PETS09 clip not found' : !haveRtspServer() ? 'GStreamer RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) not installed' : false;
const digest = (data: Uint8Array) => createHash('sha1').update(data).digest('hex');
/**
 * Probe no further than the first packet: ffmpeg 4.1 gets no timestamp for the first RTP packet
 * and, after probing several more, backdates it wrongly, which shifts fps=5 by several frames.
 */
const RTSP_FIRST_PACKET_ARGS = ['-analyzeduration', '0', '-probesize', '32'];

interface Fixture {
  clip: string;
  /** Hashes of the clip's frames decoded locally at full rate (10 fps). */
  reference: string[];
}

let fixture: Promise<Fixture> | undefined;
let workDir: string | undefined;
after(() => (workDir ? rm(workDir, { recursive: true, force: true }) : undefined));

/** The left half of the first 100 PETS09 frames (10 s at 10 fps) as H.264, made once per file. */
function leftHalfClip(): Promise<Fixture> {
  fixture ??= (async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-rtsp-'));
    const clip = await makeH264Clip({ input: PETS_VIDEO, output: path.join(workDir, 'left.mp4'), filter: 'crop=iw/2:ih:0:0', frames: 100 });
    const reference: string[] = [];
    for await (const frame of readFfmpegFrames({ url: clip, cameraId: 'reference' })) reference.push(digest(frame.data));
    return { clip, reference };
  })();
  return fixture;
}

function rtspCamera(cameraId: string, url: string, extra: Partial<CameraSourceOptions> = {}, extraInputArgs: string[] = RTSP_FIRST_PACKET_ARGS): CameraSource {
  return new CameraSource({ cameraId, source: { url, fps: 5, rtspTimeoutS: 3, extraInputArgs }, logger: memoryLogger().logger, ...extra });
}

/** The first `count` frames as indices of the file's frames (by pixel hash; -1 when none matches). */
async function fileFramesOf(source: CameraSource, reference: string[], count: number) {
  const frames: { fileFrame: number; index: number; pts: number; width: number; height: number }[] = [];
  for await (const frame of source.frames()) {
    frames.push({ fileFrame: reference.indexOf(digest(frame.data)), index: frame.index, pts: frame.pts, width: frame.width, height: frame.height });
    if (frames.length === count) break;
  }
  return frames;
}

test('RTSP: frames arrive bit-exact at the right size; with first-packet probing, output frame i at 5 fps is file frame 2i', { skip, timeout: 40_000 }, async (t) => {
  const { clip, reference } = await leftHalfClip();
  assert.equal(reference.length, 100);
  const server = await startRtspServer({ mounts: { left: clip } });
  t.after(() => server.stop());
  // Two clients of the same mount at once: each gets its own media from the file's start.
  const tuned = rtspCamera('tuned', server.url('left'));
  const plain = rtspCamera('plain', server.url('left'), {}, []);
  t.after(() => Promise.all([tuned.stop(), plain.stop()]));
  tuned.start();
  plain.start();
  const [tunedFrames, plainFrames] = await Promise.all([fileFramesOf(tuned, reference, 15), fileFramesOf(plain, reference, 15)]);

  assert.ok(tunedFrames.every((frame) => frame.width === 384 && frame.height === 576));
  assert.deepEqual(tunedFrames.map((frame) => frame.index), Array.from({ length: 15 }, (_, i) => i), 'no frame skipped');
  assert.deepEqual(tunedFrames.map((frame) => frame.fileFrame), Array.from({ length: 15 }, (_, i) => 2 * i));
  assert.ok(tunedFrames.every((frame) => Math.abs(frame.pts - frame.index * 0.2) < 1e-9));

  // ffmpeg's default probing: still every other file frame, bit-exact, but shifted (0.6 s measured here).
  const plainFileFrames = plainFrames.map((frame) => frame.fileFrame);
  t.diagnostic(`default RTSP probing: output frames 0..14 at 5 fps are file frames ${plainFileFrames.join(',')}`);
  assert.ok(plainFileFrames.every((fileFrame, i) => fileFrame >= 0 && (i === 0 || fileFrame === plainFileFrames[i - 1] + 2)), plainFileFrames.join(','));
});

test('RTSP: killing the server turns the camera reconnecting then offline; restarting it brings the same source back online', { skip, timeout: 40_000 }, async (t) => {
  const { clip, reference } = await leftHalfClip();
  const server = await startRtspServer({ mounts: { left: clip } });
  t.after(() => server.stop());
  const source = rtspCamera('door', server.url('left'), { stallTimeoutS: 4, restartDelayS: 0.3, restartDelayMaxS: 1 });
  t.after(() => source.stop());
  const states: string[] = [];
  source.on('status', (status) => {
    if (states.at(-1) !== status.state) states.push(status.state);
  });
  const frames: { session: number; index: number; fileFrame: number }[] = [];
  const consuming = (async () => {
    for await (const frame of source.frames()) frames.push({ session: frame.session, index: frame.index, fileFrame: reference.indexOf(digest(frame.data)) });
  })();
  source.start();

  await waitFor(() => frames.length >= 3, 'frames over RTSP', 15_000);
  assert.equal(source.status().state, 'online');
  await server.stop();
  await waitFor(() => source.status().state === 'offline', 'the camera to go offline', 15_000);
  assert.ok(source.status().reconnects >= 2);
  assert.match(source.status().lastError ?? '', /Connection refused/);

  await server.restart();
  await waitFor(() => source.status().state === 'online', 'the camera to come back', 15_000);
  await waitFor(() => frames.some((frame) => frame.session > 1), 'a frame of the new session');
  assert.deepEqual(states, ['online', 'reconnecting', 'offline', 'online']);
  const resumed = frames.find((frame) => frame.session === source.session)!;
  assert.deepEqual([resumed.index, resumed.fileFrame], [0, 0], 'the new session starts at the file\'s first frame, index 0');
  await source.stop();
  await consuming;
});
