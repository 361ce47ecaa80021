import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Detection, Frame } from '../src/core/types.js';
import { detectAhead } from '../src/pipeline/detect-ahead.js';

const BYTES = 2 * 2 * 3;

/** Frames whose pixels all hold the frame index, yielded from one reused buffer as ffmpeg's reader does. */
async function* reusedBufferFrames(count: number): AsyncGenerator<Frame> {
  const data = new Uint8Array(BYTES);
  for (let index = 0; index < count; index++) {
    data.fill(index);
    yield { cameraId: 'file', index, pts: index / 10, receivedAt: index, width: 2, height: 2, data };
  }
}

/** A detector that answers when told to, recording what it was given and how many calls were open at once. */
function heldDetector() {
  const open: { index: number; pixel: number; answer: () => void; fail: (error: Error) => void }[] = [];
  let mostOpen = 0;
  return {
    open,
    mostOpen: () => mostOpen,
    detect: (frame: Frame) =>
      new Promise<Detection[]>((resolve, reject) => {
        const call = {
          index: frame.index,
          pixel: frame.data[0]!,
          answer: () => resolve([{ box: { x1: frame.index, y1: 0, x2: frame.index + 1, y2: 1 }, score: 0.9, objectClass: 'person' }]),
          fail: reject,
        };
        open.push(call);
        mostOpen = Math.max(mostOpen, open.length);
      }),
  };
}

test('detectAhead yields every frame in order with its own detections and pixels, depth frames ahead', async () => {
  const detector = heldDetector();
  // Answer in reverse order within each pair: the output order must still be the frames' order.
  const answering = setInterval(() => {
    const pending = detector.open.splice(0);
    for (const call of pending.reverse()) call.answer();
  }, 1);
  try {
    const seen: { index: number; pixel: number; boxX: number }[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const { frame, detections } of detectAhead(reusedBufferFrames(7), detector, 2)) {
      seen.push({ index: frame.index, pixel: frame.data[0]!, boxX: detections[0]!.box.x1 });
      buffers.add(frame.data.buffer);
      assert.ok(frame.data.buffer instanceof SharedArrayBuffer, 'frames in flight live in shared buffers (workers read them without a copy)');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6].map((index) => ({ index, pixel: index, boxX: index })));
    assert.ok(buffers.size <= 3, `depth 2 reuses at most 3 buffers, used ${buffers.size}`);
  } finally {
    clearInterval(answering);
  }
});

test('detectAhead keeps at most depth + 1 frames in the detector, and depth 0 one at a time', async () => {
  for (const depth of [0, 1, 3]) {
    const detector = heldDetector();
    const answering = setInterval(() => {
      // Answer only when the reader has put as many frames in flight as it is allowed to.
      if (detector.open.length >= depth + 1 || detector.open.some((call) => call.index >= 9 - depth)) for (const call of detector.open.splice(0)) call.answer();
    }, 1);
    try {
      let count = 0;
      for await (const _ of detectAhead(reusedBufferFrames(10), detector, depth)) count += 1;
      assert.equal(count, 10);
      assert.equal(detector.mostOpen(), depth + 1, `depth ${depth}`);
    } finally {
      clearInterval(answering);
    }
  }
});

test('a failed detection surfaces at its frame, after the frames before it', async () => {
  const detector = heldDetector();
  const answering = setInterval(() => {
    for (const call of detector.open.splice(0)) {
      if (call.index === 3) call.fail(new Error('inference worker 0 exited (1)'));
      else call.answer();
    }
  }, 1);
  try {
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const { frame } of detectAhead(reusedBufferFrames(6), detector, 2)) seen.push(frame.index);
    }, /inference worker 0 exited/);
    assert.deepEqual(seen, [0, 1, 2]);
  } finally {
    clearInterval(answering);
  }
});
