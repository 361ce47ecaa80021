import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { buildFfmpegCommand, ffmpegArgv, OutputStreamHeader, parseRawOutputStream, videoFilterChain } from '../src/ingest/ffmpeg-command.js';
import { redactCredentials } from '../src/core/redaction.js';
import { RawFrameAssembler } from '../src/ingest/raw-frame-assembler.js';
import { readFfmpegFrames } from '../src/ingest/ffmpeg-frames.js';
import { HAVE_PETS, PETS_VIDEO } from './support/shared-data.js';


test('RTSP command line: TCP transport, socket timeout in µs, fps then crop then scale', () => {
  const command = buildFfmpegCommand({
    url: 'rtsp://user:secret@10.0.0.5:554/stream1',
    fps: 5,
    filter: 'crop=iw/2:ih:0:0',
    width: 640,
    height: 360,
    rtspTimeoutS: 7,
    decodeThreads: 1,
    extraInputArgs: ['-hwaccel', 'cuda'],
  });
  assert.equal(
    ffmpegArgv(command).join(' '),
    '-hide_banner -nostats -loglevel level+info -rtsp_transport tcp -stimeout 7000000 -threads 1 -hwaccel cuda ' +
      '-i rtsp://user:secret@10.0.0.5:554/stream1 -an -sn -dn -vf fps=5,crop=iw/2:ih:0:0,scale=640:360 -pix_fmt rgb24 -f rawvideo pipe:1',
  );
});

test('file command line: realtime pacing and looping, file:// prefix stripped, no filter when nothing asked', () => {
  const command = buildFfmpegCommand({ url: 'file:///srv/clips/gate.mp4', realtime: true, loop: true });
  assert.equal(
    ffmpegArgv(command).join(' '),
    '-hide_banner -nostats -loglevel level+info -re -stream_loop -1 -i /srv/clips/gate.mp4 -an -sn -dn -pix_fmt rgb24 -f rawvideo pipe:1',
  );
  assert.equal(videoFilterChain({}), undefined);
  assert.equal(videoFilterChain({ width: 640 }), undefined, 'scale needs both sides');
});

test('frames larger than max side are shrunk by ffmpeg, aspect kept; an explicit size wins; 0 keeps the source size', () => {
  assert.equal(
    videoFilterChain({ fps: 5, filter: 'crop=iw/2:ih:0:0', maxSide: 832 }),
    'fps=5,crop=iw/2:ih:0:0,scale=w=min(832\\,iw):h=min(832\\,ih):force_original_aspect_ratio=decrease:flags=bilinear',
  );
  assert.equal(videoFilterChain({ width: 640, height: 360, maxSide: 832 }), 'scale=640:360');
  assert.equal(videoFilterChain({ fps: 5, maxSide: 0 }), 'fps=5');
});

test('ffmpeg turns a 1280x720 source into 832x468 frames and leaves a 768x576 one as it is', { skip: !HAVE_PETS }, async () => {
  for (const [filter, expected] of [['scale=1280:720', '832x468'], [undefined, '768x576']] as const) {
    let size = '';
    const frames = readFfmpegFrames({ url: PETS_VIDEO, cameraId: 'c', maxSide: 832, ...(filter ? { filter } : {}), onStreamInfo: (info) => (size = `${info.width}x${info.height}`) });
    for await (const frame of frames) {
      assert.equal(frame.data.length, frame.width * frame.height * 3);
      break;
    }
    assert.equal(size, expected);
  }
});

test('output stream header parsing and credential redaction', () => {
  assert.deepEqual(
    parseRawOutputStream('[info]     Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 384x576, q=2-31, 26542 kb/s, 5 fps, 5 tbn, 5 tbc'),
    { width: 384, height: 576, fps: 5 },
  );
  assert.equal(parseRawOutputStream('[info]     Stream #0:0: Video: msmpeg4v3 (div3 / 0x33766964), yuv420p, 768x576, 10 fps'), undefined);
  assert.equal(
    redactCredentials('[error] rtsp://admin:hunter2@cam-3/live: 401 Unauthorized; also rtsp://bob@x/y'),
    '[error] rtsp://***:***@cam-3/live: 401 Unauthorized; also rtsp://***:***@x/y',
  );
});

test('assembler cuts frames across chunk borders and reuses its ring of buffers', () => {
  const assembler = new RawFrameAssembler(4, 2);
  const frames: number[][] = [];
  const identities: Uint8Array[] = [];
  const stream = Uint8Array.from({ length: 14 }, (_, i) => i);
  for (const [start, end] of [[0, 3], [3, 9], [9, 14]] as const) {
    const chunk = stream.subarray(start, end);
    let offset = 0;
    while (offset < chunk.length) {
      offset = assembler.append(chunk, offset);
      const frame = assembler.takeFrame();
      if (frame) {
        frames.push(Array.from(frame));
        identities.push(frame);
      }
    }
  }
  assert.deepEqual(frames, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
  assert.equal(identities[0], identities[2], 'ring of two buffers: third frame reuses the first buffer');
  assert.notEqual(identities[0], identities[1]);
});

test('decodes the PETS09 clip: every frame, right size, pts from the output rate; fps=5 keeps every other frame', { skip: !HAVE_PETS }, async () => {
  const digest = (data: Uint8Array) => createHash('sha1').update(data).digest('hex');
  const full: string[] = [];
  for await (const frame of readFfmpegFrames({ url: PETS_VIDEO, cameraId: 'pets' })) {
    assert.equal(frame.width, 768);
    assert.equal(frame.height, 576);
    assert.equal(frame.data.length, 768 * 576 * 3);
    assert.ok(Math.abs(frame.pts - frame.index / 10) < 1e-9);
    full.push(digest(frame.data));
  }
  assert.equal(full.length, 795);

  const halved: { index: number; pts: number; hash: string }[] = [];
  for await (const frame of readFfmpegFrames({ url: PETS_VIDEO, cameraId: 'pets', fps: 5 })) {
    halved.push({ index: frame.index, pts: frame.pts, hash: digest(frame.data) });
    if (halved.length === 20) break; // leaving early must stop ffmpeg cleanly
  }
  assert.deepEqual(
    halved.map((f) => full.indexOf(f.hash)),
    halved.map((_, i) => 2 * i),
    'at 5 fps from a 10 fps source, output frame i is source frame 2i',
  );
  assert.deepEqual(halved.map((f) => f.pts).slice(0, 4), [0, 0.2, 0.4, 0.6]);
});

test('a source ffmpeg cannot open fails the reader with ffmpeg\'s reason, credentials redacted', async () => {
  const frames = readFfmpegFrames({ url: 'rtsp://admin:pw@127.0.0.1:1/none', cameraId: 'dead', rtspTimeoutS: 2 });
  await assert.rejects(async () => {
    for await (const frame of frames) assert.fail(`no frame expected, got ${frame.index}`);
  }, (error: Error) => /ffmpeg failed for rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:1\/none/.test(error.message) && !error.message.includes('pw@'));
  await assert.rejects(async () => {
    for await (const frame of readFfmpegFrames({ url: '/nonexistent/clip.mp4', cameraId: 'missing' })) assert.fail(`got ${frame.index}`);
  }, /ffmpeg failed for \/nonexistent\/clip\.mp4/);
});

test('the stream header is read from the output section only: a rawvideo input line is not the frame size', () => {
  const header = new OutputStreamHeader();
  assert.equal(header.read("[info] Input #0, yuv4mpegpipe, from 'clip.y4m':"), undefined);
  assert.equal(header.read('[info]     Stream #0:0: Video: rawvideo (I420 / 0x30323449), yuv420p, 64x48, 10 fps, 10 tbr'), undefined);
  assert.equal(header.read("[info] Output #0, rawvideo, to 'pipe:1':"), undefined);
  assert.deepEqual(header.read('[info]     Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 32x24, q=2-31, 5 fps, 5 tbn'), { width: 32, height: 24, fps: 5 });
});
