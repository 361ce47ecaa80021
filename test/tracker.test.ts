import { test } from 'node:test';
import assert from 'node:assert/strict';
import { iou, type Box } from '../src/core/geometry.js';
import type { Detection, ObjectClass } from '../src/core/types.js';
import { ByteTracker, type TrackerFrameEvents } from '../src/track/tracker.js';

const FPS = 4; // pts = frameIndex / 4 is exact in binary floating point
const at = (frameIndex: number) => ({ frameIndex, pts: frameIndex / FPS });
const box = (x1: number, y1: number, w = 100, h = 100): Box => ({ x1, y1, x2: x1 + w, y2: y1 + h });
const det = (b: Box, score = 0.9, objectClass: ObjectClass = 'person'): Detection => ({ box: b, score, objectClass });
const noEvents = (e: TrackerFrameEvents) =>
  e.started.length === 0 && e.updated.length === 0 && e.lost.length === 0 && e.ended.length === 0;

/** Runs frames first..last with the same detections and returns each frame's events. */
function run(tracker: ByteTracker, first: number, last: number, detections: Detection[]): TrackerFrameEvents[] {
  const out: TrackerFrameEvents[] = [];
  for (let f = first; f <= last; f++) out.push(tracker.update(detections, at(f)));
  return out;
}

test('confirmation after confirmHits matches; ids follow confirmation order and are not burned by false positives', () => {
  const tracker = new ByteTracker();
  const a = det(box(0, 0));
  const b = det(box(400, 0));
  const falsePositive = det(box(200, 300));
  const f0 = tracker.update([falsePositive, a], at(0));
  const f1 = tracker.update([a, b], at(1));
  const f2 = tracker.update([a, b], at(2));
  const f3 = tracker.update([b, a], at(3));
  assert.ok(noEvents(f0) && noEvents(f1));
  assert.deepEqual(f2.started.map((t) => [t.id, t.hits, t.firstFrameIndex, t.matchedDetectionIndex]), [[1, 3, 0, 0]]);
  assert.equal(f2.started[0]!.state, 'confirmed');
  assert.deepEqual(f3.started.map((t) => [t.id, t.firstFrameIndex, t.matchedDetectionIndex]), [[2, 1, 0]]);
  assert.deepEqual(f3.updated.map((t) => [t.id, t.matchedDetectionIndex, t.lastFrameIndex]), [[1, 1, 3]]);
  assert.deepEqual(f3.updated[0]!.box, a.box);
});

test('association is the optimal assignment, not greedy best-IoU-first', () => {
  const tracker = new ByteTracker();
  const t1 = box(0, 0); // id 1
  const t2 = box(30, 0); // id 2, overlapping t1 (two people crossing)
  run(tracker, 0, 2, [det(t1), det(t2)]);
  // IoU(t1,D1)=0.818 is the best pair, but then t2 would get D2 at IoU 0.25 (cost 0.932 in total);
  // t1->D2 (0.538) and t2->D1 (0.667) cost 0.795 in total.
  const d1 = box(10, 0);
  const d2 = box(-30, 0);
  assert.ok(iou(t1, d1) > iou(t2, d1) && iou(t1, d1) > iou(t1, d2));
  const f3 = tracker.update([det(d1), det(d2)], at(3));
  const byId = new Map(f3.updated.map((t) => [t.id, t.matchedDetectionIndex]));
  assert.deepEqual([...byId.entries()].sort(), [[1, 1], [2, 0]]);
});

test('low-score detections keep a confirmed track alive but never start a track', () => {
  const tracker = new ByteTracker();
  run(tracker, 0, 2, [det(box(0, 0))]);
  // Occluded: the detector is unsure (0.3) about the tracked object; another 0.3 box elsewhere.
  const frames = run(tracker, 3, 8, [det(box(2, 0), 0.3), det(box(500, 0), 0.3)]);
  for (const f of frames) {
    assert.deepEqual(f.updated.map((t) => [t.id, t.score, t.matchedDetectionIndex]), [[1, 0.3, 0]]);
    assert.equal(f.started.length + f.lost.length + f.ended.length, 0);
  }
  // Below lowScore the detection is ignored and the track becomes lost.
  const dropped = tracker.update([det(box(2, 0), 0.05)], at(9));
  assert.deepEqual(dropped.lost.map((t) => [t.id, t.state, t.lastFrameIndex]), [[1, 'lost', 8]]);
  assert.equal(dropped.updated.length, 0);
});

test('detections of another class are never associated when classAware', () => {
  const aware = new ByteTracker();
  run(aware, 0, 2, [det(box(0, 0), 0.9, 'person')]);
  const f3 = aware.update([det(box(0, 0), 0.9, 'car')], at(3));
  assert.deepEqual(f3.lost.map((t) => [t.id, t.objectClass]), [[1, 'person']]);
  assert.equal(f3.updated.length, 0);
  const f5 = run(aware, 4, 5, [det(box(0, 0), 0.9, 'car')])[1]!;
  assert.deepEqual(f5.started.map((t) => [t.id, t.objectClass, t.firstFrameIndex]), [[2, 'car', 3]]);

  const blind = new ByteTracker({ classAware: false });
  run(blind, 0, 2, [det(box(0, 0), 0.9, 'person')]);
  const g3 = blind.update([det(box(0, 0), 0.9, 'car')], at(3));
  assert.deepEqual(g3.updated.map((t) => t.id), [1]);
});

test('a lost track that is found again keeps its id and is reported as updated', () => {
  const tracker = new ByteTracker();
  run(tracker, 0, 2, [det(box(0, 0))]);
  const gap = run(tracker, 3, 6, []);
  assert.deepEqual(gap[0]!.lost.map((t) => t.id), [1]);
  assert.ok(gap.slice(1).every(noEvents), 'lost is reported once');
  const back = tracker.update([det(box(0, 0))], at(7));
  assert.equal(back.started.length, 0);
  assert.deepEqual(back.updated.map((t) => [t.id, t.state, t.hits, t.firstFrameIndex, t.lastFrameIndex]), [
    [1, 'confirmed', 4, 0, 7],
  ]);
});

test('a track lost for longer than maxLostSeconds ends with its last matched times', () => {
  const tracker = new ByteTracker({ maxLostSeconds: 2 });
  run(tracker, 0, 2, [det(box(0, 0))]); // last match at frame 2, pts 0.5
  // pts - 0.5 > 2 first holds at frame 11 (pts 2.75); frame 10 is exactly 2 s.
  const frames = run(tracker, 3, 12, []);
  frames.slice(1, 8).forEach((f) => assert.ok(noEvents(f)));
  const ended = frames[8]!.ended; // frame 11
  assert.deepEqual(ended.map((t) => [t.id, t.state, t.lastPts, t.lastFrameIndex, t.firstPts, t.matchedDetectionIndex]), [
    [1, 'ended', 0.5, 2, 0, null],
  ]);
  assert.ok(noEvents(frames[9]!));
  // The object returning later is a new track.
  const again = run(tracker, 13, 15, [det(box(0, 0))]);
  assert.deepEqual(again[2]!.started.map((t) => t.id), [2]);
});

test('a tentative track that misses one frame vanishes without any event', () => {
  const tracker = new ByteTracker();
  const d = det(box(0, 0));
  const frames = [
    tracker.update([d], at(0)),
    tracker.update([d], at(1)),
    tracker.update([], at(2)),
    tracker.update([d], at(3)),
    tracker.update([d], at(4)),
  ];
  assert.ok(frames.every(noEvents));
  const f5 = tracker.update([d], at(5));
  assert.deepEqual(f5.started.map((t) => [t.id, t.firstFrameIndex, t.hits]), [[1, 3, 3]]);
});

test('detections below newTrackScore do not start tracks', () => {
  const tracker = new ByteTracker();
  const frames = run(tracker, 0, 5, [det(box(0, 0), 0.55)]);
  assert.ok(frames.every(noEvents));
});

test('flush ends confirmed and lost tracks, drops tentative ones, and allows a new source', () => {
  const tracker = new ByteTracker();
  run(tracker, 0, 2, [det(box(0, 0)), det(box(300, 0))]);
  tracker.update([det(box(0, 0)), det(box(600, 0))], at(3)); // track 2 lost, a tentative one starts
  const ended = tracker.flush();
  assert.deepEqual(ended.map((t) => [t.id, t.state, t.lastFrameIndex]).sort(), [[1, 'ended', 3], [2, 'ended', 2]]);
  assert.deepEqual(tracker.flush(), []);
  const next = run(tracker, 0, 2, [det(box(0, 0))]);
  assert.deepEqual(next[2]!.started.map((t) => t.id), [3]);
  assert.throws(() => tracker.update([], at(2)), RangeError);
});

test('Kalman prediction carries a constant-velocity box across a 3-frame gap', () => {
  // 15 px/frame to the right, 50 px wide, seen in frames 0..7, missed in 8..10, seen again in 11.
  // Without motion, even a box advanced one frame past the last sighting overlaps the new one
  // at IoU 5/95 < matchIou: only prediction through the gap re-associates.
  const moving = (f: number) => box(15 * f, 0, 50, 100);
  assert.ok(iou(moving(8), moving(11)) < 0.2);
  for (const skipFrames of [false, true]) {
    const tracker = new ByteTracker();
    for (let f = 0; f <= 7; f++) tracker.update([det(moving(f))], at(f));
    if (!skipFrames) for (let f = 8; f <= 10; f++) assert.equal(tracker.update([], at(f)).updated.length, 0);
    const found = tracker.update([det(moving(11))], at(11));
    assert.equal(found.started.length, 0, `skipFrames=${skipFrames}`);
    assert.deepEqual(found.updated.map((t) => [t.id, t.firstFrameIndex]), [[1, 0]]);
    assert.ok(Math.abs(found.updated[0]!.filteredBox.x1 - 165) < 3, `filtered x1 ${found.updated[0]!.filteredBox.x1}`);
  }
});
