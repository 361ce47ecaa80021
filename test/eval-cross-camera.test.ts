import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupByFrame, parseMotText } from '../src/eval/mot-ground-truth.js';
import { scoreMatch, sourceFrameAt } from '../src/eval/cross-camera.js';

// Two people: id 1 walks right on the left half, id 2 stands on the right half.
const GT = groupByFrame(
  parseMotText(['11,1,100,100,40,100,1', '11,2,500,100,40,100,1', '21,1,380,100,40,100,1', '21,2,500,100,40,100,1', '31,2,500,100,40,100,0'].join('\n')),
);
const CAMERAS = { left: { offsetX: 0, offsetY: 0 }, right: { offsetX: 384, offsetY: 0 } };
const VIDEO = { fps: 10, frames: 795 };

test('media time maps to the source frame, wrapping at the end of a looped video', () => {
  assert.equal(sourceFrameAt(1.0, VIDEO), 10);
  assert.equal(sourceFrameAt(0.2 * 3, VIDEO), 6, '5 fps output frame 3 is source frame 6');
  assert.equal(sourceFrameAt(79.5 + 1.0, VIDEO), 10, 'second loop');
});

test('a match is correct when both sides overlap the same ground-truth identity', () => {
  const right = (pts: number, x1: number) => ({ camera: 'right', pts, box: [x1 - 384, 100, x1 - 384 + 40, 200] });
  const left = (pts: number, x1: number) => ({ camera: 'left', pts, box: [x1, 100, x1 + 40, 200] });
  assert.deepEqual(scoreMatch({ sighting: right(2.0, 380), matched: left(1.0, 100) }, GT, CAMERAS, VIDEO), {
    sightingIdentity: 1,
    matchedIdentity: 1,
    correct: true,
  });
  assert.deepEqual(scoreMatch({ sighting: right(2.0, 500), matched: left(1.0, 100) }, GT, CAMERAS, VIDEO), {
    sightingIdentity: 2,
    matchedIdentity: 1,
    correct: false,
  });
  // A box overlapping nothing (IoU < 0.5) and a "do not consider" row give no identity.
  assert.equal(scoreMatch({ sighting: right(2.0, 420), matched: left(1.0, 100) }, GT, CAMERAS, VIDEO).sightingIdentity, null);
  assert.equal(scoreMatch({ sighting: right(3.0, 500), matched: right(2.0, 500) }, GT, CAMERAS, VIDEO).correct, false);
});
