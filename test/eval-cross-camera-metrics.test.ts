import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignTracks, identityScores, linkScores, nearestTrackReference, rocAuc } from '../src/eval/cross-camera-metrics.js';
import { parseMotText, groupByFrame } from '../src/eval/mot-ground-truth.js';
import { cameraTruth, peopleSeen, splitCameras } from '../src/eval/virtual-cameras.js';

const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });

test('rocAuc: Mann–Whitney probability a positive outscores a negative, ties count one half', () => {
  assert.equal(rocAuc([0.9, 0.8], [0.1, 0.2, 0.3]), 1);
  assert.equal(rocAuc([0.1], [0.9]), 0);
  // Pairs (p, n): (0.5, 0.4) win, (0.5, 0.5) tie, (0.5, 0.6) loss, (0.7, ·) 3 wins → (4 + 0.5) / 6.
  assert.equal(rocAuc([0.5, 0.7], [0.4, 0.5, 0.6]), 4.5 / 6);
  assert.ok(Number.isNaN(rocAuc([], [0.1])));
});

test('linkScores: a match is correct when both sides follow one person; people seen on both cameras are linked by a correct match', () => {
  const seenOnBoth = new Set([1, 2, 3, 4]);
  const scores = linkScores(
    [
      { sighting: 1, matched: 1 },
      { sighting: 1, matched: 1 }, // person 1 linked twice counts once
      { sighting: 2, matched: 5 }, // wrong
      { sighting: null, matched: null }, // a track that follows nobody: wrong
      { sighting: 3, matched: 3 },
    ],
    seenOnBoth,
  );
  assert.deepEqual(scores, { matches: 5, correct: 3, precision: 0.6, links: 2, gtLinks: 4, recall: 0.5, f1: (2 * 0.6 * 0.5) / 1.1 });
  assert.equal(linkScores([], seenOnBoth).precision, 1, 'nothing claimed, nothing wrong');
  assert.equal(linkScores([], seenOnBoth).f1, 0);
});

test('identityScores: purity over sightings, fragmentation as identities per person', () => {
  // Identity A holds persons 1,1,2; B holds 2; C holds 3,3. Majorities 2 + 1 + 2 of 6 sightings.
  const result = identityScores([
    { identity: 'A', person: 1 },
    { identity: 'A', person: 1 },
    { identity: 'A', person: 2 },
    { identity: 'B', person: 2 },
    { identity: 'C', person: 3 },
    { identity: 'C', person: 3 },
  ]);
  assert.equal(result.purity, 5 / 6);
  // Person 1 in {A}, person 2 in {A, B}, person 3 in {C}: (1 + 2 + 1) / 3.
  assert.equal(result.fragmentation, 4 / 3);
  assert.deepEqual([result.identities, result.gtIdentities], [3, 3]);
});

test('assignTracks: one-to-one IoU matching per frame, majority person if it covers minShare of the track', () => {
  const truth = new Map([
    [1, [{ id: 7, box: box(0, 0, 10, 20) }, { id: 8, box: box(30, 0, 40, 20) }]],
    [2, [{ id: 7, box: box(1, 0, 11, 20) }, { id: 8, box: box(30, 0, 40, 20) }]],
    [3, [{ id: 8, box: box(30, 0, 40, 20) }]],
  ]);
  const tracks = new Map([
    ['a', [{ frame: 1, box: box(0, 0, 10, 20) }, { frame: 2, box: box(1, 0, 11, 20) }, { frame: 3, box: box(30, 0, 40, 20) }]],
    ['b', [{ frame: 1, box: box(31, 0, 41, 20) }, { frame: 2, box: box(100, 0, 110, 20) }, { frame: 3, box: box(100, 0, 110, 20) }]],
  ]);
  const result = assignTracks(tracks, truth);
  // a: 7, 7, 8 → person 7 with 2/3; b: 8 once in 3 frames → under half, nobody.
  assert.deepEqual(result.get('a'), { person: 7, share: 2 / 3, frames: 3 });
  assert.deepEqual(result.get('b'), { person: null, share: 1 / 3, frames: 3 });
});

test('virtual cameras: even crops, the shift on the second camera only, ground truth clipped into each view', () => {
  const [left, right] = splitCameras({ width: 768, height: 576 }, { axis: 'x', at: 0.5, shift: 'gblur=sigma=1' });
  assert.deepEqual([left.filter, right.filter], ['crop=384:576:0:0:exact=1', 'crop=384:576:384:0:exact=1,gblur=sigma=1']);
  const [top, bottom] = splitCameras({ width: 768, height: 577 }, { axis: 'y', at: 0.3 });
  assert.deepEqual([top.id, top.region, bottom.id, bottom.region], ['top', { x: 0, y: 0, width: 768, height: 174 }, 'bottom', { x: 0, y: 174, width: 768, height: 403 }]);
  assert.throws(() => splitCameras({ width: 100, height: 100 }, { axis: 'x', at: 0.95 }), /under 16 px/);

  // A person straddling the seam (x 364..404) is seen half by each camera; one ignored row is dropped.
  const gt = groupByFrame(parseMotText(['1,1,364,100,40,100,1', '1,2,10,10,20,50,0', '2,1,364,100,40,100,1'].join('\n')));
  const seenLeft = cameraTruth(gt, left.region);
  const seenRight = cameraTruth(gt, right.region);
  assert.deepEqual(seenLeft.get(1), [{ id: 1, box: box(364, 100, 384, 200), visible: 0.5 }]);
  assert.deepEqual(seenRight.get(1), [{ id: 1, box: box(0, 100, 20, 200), visible: 0.5 }]);
  assert.deepEqual([...peopleSeen(seenLeft, [1, 2], { minVisible: 0.5, minFrames: 2 })], [1]);
  assert.deepEqual([...peopleSeen(seenLeft, [1, 2], { minVisible: 0.6, minFrames: 1 })], []);
});

test('nearest-track reference: oracle-centred final embeddings, the best threshold/margin at precision ≥ 0.9', () => {
  const t = (cameraId: string, person: number, v: number[], first: number, last: number) => ({
    cameraId,
    person,
    embedding: Float32Array.from(v),
    firstSeenAt: first * 1000,
    lastSeenAt: last * 1000,
  });
  // Camera R's embeddings carry an offset [0, 0, 1] that the camera means remove.
  const tracks = [t('L', 1, [1, 0, 0], 0, 10), t('L', 2, [0, 1, 0], 0, 10), t('R', 1, [1, 0, 1], 12, 20), t('R', 2, [0, 1, 1], 14, 20)];
  const reference = nearestTrackReference(tracks, new Set([1, 2]));
  assert.equal(reference.auc, 1);
  assert.deepEqual(
    { precision: reference.best!.precision, recall: reference.best!.recall },
    { precision: 1, recall: 1 },
  );
  // A transit window that excludes both links leaves nothing to reach 0.9 with.
  assert.equal(nearestTrackReference(tracks, new Set([1, 2]), { minS: 5, maxS: 10 }).best, undefined);
});
