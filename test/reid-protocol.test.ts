import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxFromLtwh } from '../src/core/geometry.js';
import type { MotRecord } from '../src/eval/mot-ground-truth.js';
import { samplesByFrame, selectReidSamples } from '../src/eval/reid-protocol.js';

const row = (frame: number, id: number, options: { left?: number; top?: number; height?: number; consider?: boolean } = {}): MotRecord => {
  const consider = options.consider ?? true;
  return { frame, id, box: boxFromLtwh(options.left ?? 100, options.top ?? 100, 30, options.height ?? 60), confidence: consider ? 1 : 0, consider };
};

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function records(): MotRecord[] {
  return [
    // id 1: frames 1..21, hanging 10 px off the left edge.
    ...range(1, 21).map((f) => row(f, 1, { left: -10 })),
    // id 2: frames 1..5 → sampled 1,3,5: too few for a query, still in the gallery.
    ...range(1, 5).map((f) => row(f, 2)),
    // id 3: frames 1..13, frame 3 not considered, frame 5 only 40 px tall.
    ...range(1, 13).map((f) => row(f, 3, { consider: f !== 3, height: f === 5 ? 40 : 60 })),
  ];
}

test('query: middle of the first 30 % of the span; gallery: last 50 % of every identity; step sampling; filters', () => {
  const split = selectReidSamples(records(), { step: 2, frameWidth: 640, frameHeight: 480 });
  // id 1: sampled 1,3,...,21; span [1,21]; early frames ≤ 7 → [1,3,5,7] → index 2 = frame 5.
  // id 3: kept 1,7,9,11,13; span [1,13]; early ≤ 4.6 → [1] → frame 1.
  assert.deepEqual(split.queries.map((q) => [q.identity, q.frame]), [[1, 5], [3, 1]]);
  // id 1: frames ≥ 11; id 2: span [1,5] → frames ≥ 3; id 3: frames ≥ 7.
  assert.deepEqual(
    split.gallery.map((g) => [g.identity, g.frame]),
    [[1, 11], [1, 13], [1, 15], [1, 17], [1, 19], [1, 21], [2, 3], [2, 5], [3, 7], [3, 9], [3, 11], [3, 13]],
  );
  // Boxes are clipped to the frame.
  assert.deepEqual(split.queries[0]!.box, { x1: 0, y1: 100, x2: 20, y2: 160 });
});

test('the first frame, step 1 and the minimum sample count are honoured', () => {
  const step1 = selectReidSamples(records(), { step: 1, frameWidth: 640, frameHeight: 480 });
  // id 2 now has 5 samples (1..5): span 4, early ≤ 2.2 → [1,2] → index 1 = frame 2.
  assert.deepEqual(step1.queries.map((q) => [q.identity, q.frame]), [[1, 4], [2, 2], [3, 2]]);
  const strict = selectReidSamples(records(), { step: 2, frameWidth: 640, frameHeight: 480, minSamples: 6 });
  assert.deepEqual(strict.queries.map((q) => q.identity), [1]);
  // Frames 2, 4, ... are never sampled with step 2.
  assert.ok(selectReidSamples(records(), { step: 2, frameWidth: 640, frameHeight: 480 }).gallery.every((g) => g.frame % 2 === 1));
  assert.throws(() => selectReidSamples(records(), { step: 0, frameWidth: 640, frameHeight: 480 }), /step/);
});

test('samplesByFrame groups queries and gallery samples in frame order', () => {
  const plan = samplesByFrame(selectReidSamples(records(), { step: 2, frameWidth: 640, frameHeight: 480 }));
  assert.deepEqual([...plan.keys()], [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
  assert.deepEqual(plan.get(5)!.map((w) => [w.sample.identity, w.role]), [[1, 'query'], [2, 'gallery']]);
  assert.deepEqual(plan.get(1)!.map((w) => [w.sample.identity, w.role]), [[3, 'query']]);
});
