import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openStateStore } from '../src/core/state-store.js';
import { OBJECT_CLASSES, type ObjectClass } from '../src/core/types.js';
import { normalised } from '../src/core/vectors.js';
import { RAW_SPACE } from '../src/features/feature-space.js';
import { Gallery } from '../src/gallery/gallery.js';
import { FULL_PASS_MAX, Matcher, POOL_SCORED_MAX, SHORTLIST, type ClassMatchingOptions, type MatchableTrack, type MatcherOptions } from '../src/match/matcher.js';
import { randomVectors } from './support/random-vectors.js';

const T0 = Date.UTC(2024, 0, 1);
const CLASSES = Object.fromEntries(OBJECT_CLASSES.map((name) => [name, { threshold: 0.6, minMargin: 0.05 }])) as Record<
  ObjectClass,
  ClassMatchingOptions
>;

const vec = (...values: number[]) => normalised(Float32Array.from(values));
/** A unit 3-vector with the given first two components. */
const unit = (x: number, y: number) => Float32Array.of(x, y, Math.sqrt(Math.max(0, 1 - x * x - y * y)));
const close = (actual: number | undefined, expected: number, tolerance = 1e-6) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) <= tolerance, `${actual} is not within ${tolerance} of ${expected}`);

function track(cameraId: string, trackId: number, firstS: number, lastS: number, embedding: Float32Array, quality = 0.8): MatchableTrack {
  return {
    cameraId,
    trackId,
    objectClass: 'person',
    firstSeenAt: T0 + firstS * 1000,
    lastSeenAt: T0 + lastS * 1000,
    embedding,
    quality,
    bestCrop: { pts: firstS + 1, box: { x1: 10, y1: 20, x2: 50, y2: 120 } },
  };
}

async function setUp(t: TestContext, options: Partial<MatcherOptions> = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-match-'));
  const store = openStateStore({ path: dir, mapSizeMb: 64 });
  const gallery = new Gallery({ store, space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  let events = 0;
  const matcher = new Matcher({
    gallery,
    classes: CLASSES,
    windowS: 600,
    sameCamera: { enabled: true, minGapS: 10 },
    minTrackQuality: 0.3,
    now: () => T0 + 3_600_000,
    newEventId: () => `event-${++events}`,
    ...options,
  });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { gallery, matcher, store, dir };
}

/** Two identities X and Y seen by overlapping tracks on camera A (so they cannot be matched to each other). */
function seedTwo(matcher: Matcher, x: Float32Array, y: Float32Array): void {
  assert.equal(matcher.decide(track('A', 1, 0, 10, x))?.identityId, 'person-000001');
  assert.equal(matcher.decide(track('A', 2, 0, 10, y))?.identityId, 'person-000002');
}

test('a new appearance creates an identity; the same appearance on another camera matches it', async (t) => {
  const { gallery, matcher } = await setUp(t);
  const first = matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  assert.deepEqual(first, {
    eventId: 'event-1',
    identityId: 'person-000001',
    objectClass: 'person',
    outcome: 'new-identity',
    sighting: { cameraId: 'A', trackId: 1, objectClass: 'person', firstSeenAt: T0, lastSeenAt: T0 + 10_000, pts: 1, box: { x1: 10, y1: 20, x2: 50, y2: 120 }, quality: 0.8 },
    candidates: 0,
    confidence: 1,
    highConfidence: true,
    decidedAt: T0 + 3_600_000,
  });
  const second = matcher.decide(track('B', 7, 20, 30, vec(1, 0, 0)))!;
  assert.equal(second.outcome, 'matched');
  assert.equal(second.identityId, 'person-000001');
  assert.deepEqual(second.matched, first!.sighting);
  close(second.similarity, 1);
  close(second.margin, 0.4, 1e-6); // alone: the threshold 0.6 stands in for the runner-up
  assert.equal(second.candidates, 1);
  const identity = gallery.identity('person-000001')!;
  assert.equal(identity.count, 2);
  assert.deepEqual(Object.keys(identity.cameras).sort(), ['A', 'B']);
  assert.equal(identity.lastSeenAt, T0 + 30_000);
  assert.equal(gallery.sightingsOf('person-000001').length, 2);
});

test('threshold: a lone candidate must beat the threshold 0.6 by min_margin 0.05: 0.65 matches (low confidence), 0.64 does not', async (t) => {
  const { gallery, matcher } = await setUp(t);
  matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  const justEnough = matcher.decide(track('B', 1, 20, 30, unit(0.65, 0.75)))!;
  assert.equal(justEnough.outcome, 'matched');
  close(justEnough.similarity, 0.65);
  close(justEnough.margin, 0.05);
  // softmax([0.65, 0.6] / 0.05) = [0.73106, 0.26894]; H = 0.58220; H / ln 2 = 0.83994; confidence 0.16006.
  close(justEnough.confidence, 0.16006, 1e-5);
  assert.equal(justEnough.highConfidence, false);
  assert.deepEqual(Array.from(gallery.prototype('person-000001')!), [1, 0, 0], 'a low-confidence match does not move the prototype');

  const below = matcher.decide(track('C', 1, 40, 50, unit(0.64, 0.76)))!;
  assert.equal(below.outcome, 'new-identity');
  assert.equal(below.identityId, 'person-000002');
  assert.equal(below.candidates, 1);
  assert.equal(below.similarity, undefined);
});

test('margin: the best must lead the runner-up by min_margin (0.05)', async (t) => {
  const cases: [x: number, y: number, outcome: string, margin?: number][] = [
    [0.8, 0.6, 'matched', 0.2],
    [0.7, 0.65, 'matched', 0.05],
    [0.7, 0.66, 'new-identity'],
  ];
  for (const [x, y, outcome, margin] of cases) {
    const { matcher } = await setUp(t);
    seedTwo(matcher, vec(1, 0, 0), vec(0, 1, 0));
    const decision = matcher.decide(track('B', 1, 20, 30, unit(x, y)))!;
    assert.equal(decision.outcome, outcome, `similarities ${x} and ${y}`);
    assert.equal(decision.candidates, 2);
    if (margin !== undefined) {
      assert.equal(decision.identityId, 'person-000001');
      close(decision.margin, margin);
    } else {
      assert.equal(decision.identityId, 'person-000003');
    }
  }
});

test('hard identities need a larger margin: min_margin + max(0, c_i − threshold)', async (t) => {
  // X = [1,0,0] and Y = [0.8,0.6,0]: c_X = cos(X, Y) = 0.8, so a match to X needs 0.05 + (0.8 − 0.6) = 0.25.
  for (const [y, outcome] of [
    [-0.1, 'new-identity'], // similarities 0.9 and 0.66: margin 0.24
    [-0.2, 'matched'], // similarities 0.9 and 0.60: margin 0.30
  ] as const) {
    const { matcher } = await setUp(t);
    seedTwo(matcher, vec(1, 0, 0), vec(0.8, 0.6, 0));
    close(matcher.difficulty('person-000001'), 0.8);
    close(matcher.difficulty('person-000002'), 0.8);
    const decision = matcher.decide(track('B', 1, 20, 30, unit(0.9, y)))!;
    assert.equal(decision.outcome, outcome, `y = ${y}`);
  }
  // The same margin 0.24 against two unconfused identities (c = 0) is enough.
  const { matcher } = await setUp(t);
  seedTwo(matcher, vec(1, 0, 0), vec(0, 1, 0));
  close(matcher.difficulty('person-000001'), 0);
  assert.equal(matcher.decide(track('B', 1, 20, 30, unit(0.7, 0.46)))!.outcome, 'matched');
});

test('confidence is 1 − H/log n of the softmax over [candidates…, threshold]/τ', async (t) => {
  const { matcher } = await setUp(t);
  seedTwo(matcher, vec(1, 0, 0), vec(0, 1, 0));
  // Similarities 0.8 and 0.5, threshold 0.6, τ 0.05: logits 16, 10, 12 → p ∝ [1, e^−6, e^−4] → 0.90267647 (hand-computed).
  const decision = matcher.decide(track('B', 1, 20, 30, unit(0.8, 0.5)))!;
  assert.equal(decision.outcome, 'matched');
  close(decision.confidence, 0.90267647, 2e-6);
  assert.equal(decision.highConfidence, true);
});

test('a high-confidence match moves the prototype by momentum and adds an exemplar', async (t) => {
  const { gallery, matcher } = await setUp(t);
  matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  const decision = matcher.decide(track('B', 1, 20, 30, vec(0.8, 0.6, 0)))!;
  // One candidate at 0.8: normalised entropy 0.1300 ≤ 0.5.
  close(decision.confidence, 0.8700207253336952, 2e-6);
  assert.equal(decision.highConfidence, true);
  const prototype = gallery.prototype('person-000001')!;
  close(prototype[0], 0.9981310335652204);
  close(prototype[1], 0.06111006327950329);
  assert.equal(prototype[2], 0);
  const record = gallery.readIdentity('person-000001')!;
  assert.deepEqual(normalised(record.appearance.sum), prototype, 'LMDB and the index agree');
  assert.equal(record.exemplars.length, 2);
});

test('a low-confidence match attaches the sighting but does not move the prototype', async (t) => {
  const { gallery, matcher } = await setUp(t, { highConfidenceEntropy: 0.1 });
  matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  const decision = matcher.decide(track('B', 1, 20, 30, vec(0.8, 0.6, 0)))!;
  assert.equal(decision.outcome, 'matched');
  assert.equal(decision.highConfidence, false);
  assert.deepEqual(Array.from(gallery.prototype('person-000001')!), [1, 0, 0]);
  const record = gallery.readIdentity('person-000001')!;
  assert.equal(record.count, 2);
  assert.equal(record.exemplars.length, 1);
  assert.equal(gallery.sightingsOf('person-000001').length, 2);
});

test('same camera: a return after min_gap_s reappears; a shorter gap or the setting off gives a new identity', async (t) => {
  const { matcher } = await setUp(t);
  const first = matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)))!;
  const back = matcher.decide(track('A', 2, 25, 30, vec(1, 0, 0)))!;
  assert.equal(back.outcome, 'reappeared');
  assert.equal(back.identityId, first.identityId);
  assert.deepEqual(back.matched, first.sighting);
  const tooSoon = matcher.decide(track('A', 3, 35, 40, vec(1, 0, 0)))!;
  assert.equal(tooSoon.outcome, 'new-identity', 'gap 5 s after track 2');

  const off = await setUp(t, { sameCamera: { enabled: false, minGapS: 10 } });
  off.matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  assert.equal(off.matcher.decide(track('A', 2, 100, 110, vec(1, 0, 0)))!.outcome, 'new-identity');
});

test('the time window and topology filter candidates before similarity counts', async (t) => {
  const { matcher } = await setUp(t, { topology: [{ from: 'A', to: 'B', minS: 30, maxS: 60, bidirectional: true }] });
  matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  // B's look is close to A's (0.9), but only its own identity can be a candidate on C.
  const tooFast = matcher.decide(track('B', 1, 20, 30, unit(0.9, 0.43)))!;
  assert.equal(tooFast.outcome, 'new-identity', 'transit 10 s < 30 s');
  assert.equal(tooFast.candidates, 0);
  // On C (no topology to A or B): A's sighting ended 601 s before, out of the window; B's is in it.
  const onC = matcher.decide(track('C', 2, 611, 620, unit(0.9, 0.43)))!;
  assert.equal(onC.candidates, 1);
  assert.equal(onC.identityId, tooFast.identityId);
  assert.equal(onC.matched?.cameraId, 'B');
  const outOfWindow = await setUp(t);
  outOfWindow.matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  assert.equal(outOfWindow.matcher.decide(track('B', 1, 611, 620, vec(1, 0, 0)))!.outcome, 'new-identity', 'ended 601 s before');
});

test('an early decision then the end of the same track: one identity, one sighting, counted once', async (t) => {
  const { gallery, matcher } = await setUp(t);
  const early = matcher.decide(track('A', 1, 0, 5, vec(1, 0, 0), 0.5))!;
  const end = matcher.decide(track('A', 1, 0, 12, vec(0.96, 0.28, 0), 0.9))!;
  assert.equal(end.identityId, early.identityId);
  assert.equal(end.updateOf, early.eventId);
  assert.equal(end.outcome, 'new-identity');
  assert.equal(gallery.identityCount, 1);
  assert.equal(gallery.stats().sightings, 1);
  const [sighting] = gallery.sightingsOf(early.identityId);
  assert.equal(sighting!.lastSeenAt, T0 + 12_000);
  assert.equal(sighting!.quality, 0.9);
  const record = gallery.readIdentity(early.identityId)!;
  assert.equal(record.count, 1);
  // The identity is this track's alone: it follows the track's final embedding.
  close(normalised(record.appearance.sum)[0], 0.96);
  close(normalised(record.appearance.sum)[1], 0.28);

  // A match decided early on B, then at B's end.
  const matchedEarly = matcher.decide(track('B', 3, 20, 25, vec(0.96, 0.28, 0)))!;
  assert.equal(matchedEarly.outcome, 'matched');
  const movedOnce = Array.from(gallery.prototype(early.identityId)!);
  const matchedEnd = matcher.decide(track('B', 3, 20, 40, vec(0.6, 0.8, 0)))!;
  assert.equal(matchedEnd.identityId, early.identityId);
  assert.equal(matchedEnd.outcome, 'matched');
  assert.equal(matchedEnd.updateOf, matchedEarly.eventId);
  assert.deepEqual(matchedEnd.matched, matchedEarly.matched);
  assert.equal(matchedEnd.margin, matchedEarly.margin);
  // Reported similarity: the final embedding against the identity's prototype.
  close(matchedEnd.similarity, 0.6 * movedOnce[0]! + 0.8 * movedOnce[1]!);
  const after = gallery.readIdentity(early.identityId)!;
  assert.equal(after.count, 2);
  assert.equal(after.lastSeenAt, T0 + 40_000);
  assert.equal(after.cameras.B!.lastSeenAt, T0 + 40_000);
  assert.deepEqual(Array.from(normalised(after.appearance.sum)), movedOnce, 'the prototype moves once per track');
  assert.equal(gallery.stats().sightings, 2);
});

test('no decision and nothing stored for a track without an embedding or below min_track_quality', async (t) => {
  const { gallery, matcher } = await setUp(t);
  assert.equal(matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0), 0.29)), undefined);
  assert.equal(matcher.decide({ ...track('A', 2, 0, 10, vec(1, 0, 0)), embedding: undefined }), undefined);
  assert.equal(gallery.identityCount, 0);
  assert.equal(gallery.stats().sightings, 0);
});

test('a failure inside the decision transaction leaves no identity, sighting or counter step behind', async (t) => {
  const { gallery, matcher } = await setUp(t);
  const failing = { inTransaction: () => { throw new Error('outbox full'); } };
  assert.throws(() => matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)), failing), /outbox full/);
  assert.equal(gallery.identityCount, 0);
  assert.equal(gallery.stats().sightings, 0);
  assert.equal(gallery.readIdentity('person-000001'), undefined);

  const written: string[] = [];
  const first = matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)), { inTransaction: (decision) => written.push(decision.eventId) })!;
  assert.equal(first.identityId, 'person-000001', 'the id counter was rolled back');
  assert.deepEqual(written, [first.eventId]);

  // A failing match leaves the matched identity as it was.
  assert.throws(() => matcher.decide(track('B', 1, 20, 30, vec(0.8, 0.6, 0)), failing));
  const record = gallery.readIdentity('person-000001')!;
  assert.equal(record.count, 1);
  assert.deepEqual(Array.from(normalised(record.appearance.sum)), [1, 0, 0]);
  assert.deepEqual(Array.from(gallery.prototype('person-000001')!), [1, 0, 0]);
  assert.equal(gallery.stats().sightings, 1);
});

test('a watch-list identity is a candidate at any time on any camera', async (t) => {
  const { gallery, matcher } = await setUp(t);
  const enrolled = matcher.enrol({ objectClass: 'person', embedding: vec(0, 0, 1), label: 'lost child' });
  assert.equal(enrolled.id, 'person-000001');
  assert.equal(enrolled.watchlist, true);
  const tenDays = 10 * 86_400;
  const decision = matcher.decide(track('B', 1, tenDays, tenDays + 10, vec(0, 0.1, 0.995)))!;
  assert.equal(decision.outcome, 'matched');
  assert.equal(decision.identityId, 'person-000001');
  assert.equal(decision.matched, undefined, 'never seen before');
  const record = gallery.readIdentity('person-000001')!;
  assert.equal(record.label, 'lost child');
  assert.equal(record.count, 1);
  assert.equal(gallery.applyRetention(T0 + 1000 * 86_400_000).identities, 0, 'watch-list identities never expire');
});

test('a likely fragment of the best identity (close prototype, never seen beside it) is no runner-up, and the track merges them', async (t) => {
  const options = { likelySameSimilarity: 0.9, sameCamera: { enabled: false, minGapS: 0 } };
  // X and its fragment X' on camera A at different times: cos = 0.95 (X' does not match X: same-camera off).
  const fragments = async (extra: Partial<MatcherOptions> = {}) => {
    const env = await setUp(t, { ...options, ...extra });
    env.matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
    env.matcher.decide(track('A', 2, 20, 30, unit(0.95, 0.3122)));
    return env;
  };
  const query = track('B', 1, 40, 50, unit(0.98, 0.19));
  const { gallery, matcher } = await fragments();
  const decision = matcher.decide(query)!;
  assert.equal(decision.outcome, 'matched');
  assert.equal(decision.identityId, 'person-000001', 'the older identity is kept');
  // Scores 0.990 (X') and 0.980 (X): X is the best one's fragment, so the threshold 0.6 stands in for the runner-up.
  const [q, f] = [unit(0.98, 0.19), unit(0.95, 0.3122)];
  close(decision.similarity, q[0]! * f[0]! + q[1]! * f[1]! + q[2]! * f[2]!, 1e-5);
  close(decision.margin, decision.similarity! - 0.6, 1e-6);
  // The track attached to X' (now 2 sightings), which then folded into the older X.
  assert.deepEqual(decision.merges?.map(({ kept, merged, reason, movedSightings }) => ({ kept, merged, reason, movedSightings })), [
    { kept: 'person-000001', merged: ['person-000002'], reason: 'online', movedSightings: 2 },
  ]);
  assert.equal(gallery.identity('person-000002'), undefined);
  assert.equal(gallery.sightingsOf('person-000001').length, 3);
  assert.equal([...gallery.merges()].length, 1);

  const noMerge = await fragments({ onlineMerge: false });
  const kept = noMerge.matcher.decide(query)!;
  assert.equal(kept.outcome, 'matched', 'the fragment is still no rival');
  assert.equal(kept.merges, undefined);
  assert.ok(noMerge.gallery.identity('person-000002'));

  const rivals = await fragments({ likelySameSimilarity: undefined });
  assert.equal(rivals.matcher.decide(query)!.outcome, 'new-identity', 'two near-equal rivals: no margin');
});

test('a track whose early decision made it an identity of its own joins the earlier identity its final embedding matches', async (t) => {
  const { gallery, matcher } = await setUp(t);
  matcher.decide(track('C', 1, 0, 10, vec(1, 0, 0)));
  const early = matcher.decide(track('A', 1, 20, 25, vec(0, 1, 0)))!;
  assert.equal(early.outcome, 'new-identity');
  assert.equal(early.identityId, 'person-000002');
  const end = matcher.decide(track('A', 1, 20, 40, vec(0.99, 0.1, 0)))!;
  assert.equal(end.lateMatch, true);
  assert.equal(end.updateOf, early.eventId);
  assert.equal(end.outcome, 'matched');
  assert.equal(end.identityId, 'person-000001');
  assert.equal(end.matched?.cameraId, 'C');
  assert.deepEqual(end.merges?.map((m) => [m.kept, m.merged]), [['person-000001', ['person-000002']]]);
  assert.equal(gallery.identityCount, 1);
  assert.equal(gallery.sightingOfTrack({ cameraId: 'A', trackId: 1, firstSeenAt: T0 + 20_000 })!.identityId, 'person-000001');
});

test('views: score = w·(best view) + (1 − w)·(prototype), so a second look of an identity counts', async (t) => {
  const { gallery, matcher } = await setUp(t, { viewWeight: 0.5, highConfidenceEntropy: 1 });
  matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  // A confident match with a side look adds it as a view and moves the prototype by 10 %.
  matcher.decide(track('B', 1, 20, 30, unit(0.7, 0.714)));
  assert.equal(gallery.readIdentity('person-000001')!.exemplars.length, 2);
  const prototype = gallery.prototype('person-000001')!;
  const side = unit(0.7, 0.714);
  const query = unit(0.72, 0.69);
  const decision = matcher.decide(track('C', 1, 40, 50, query))!;
  const views = [vec(1, 0, 0), side].map((v) => v[0]! * query[0]! + v[1]! * query[1]! + v[2]! * query[2]!);
  const proto = prototype[0]! * query[0]! + prototype[1]! * query[1]! + prototype[2]! * query[2]!;
  close(decision.similarity, 0.5 * Math.max(...views) + 0.5 * proto, 1e-5);
});

test('a sighting of a track still followed counts as seen until now: an identity beside the track on its camera is no candidate', async (t) => {
  const { matcher } = await setUp(t);
  // Track A#1 was decided early at 0-5 s and is still in view when A#2 (0-30 s... from 20 s) is decided.
  matcher.decide(track('A', 1, 0, 5, vec(1, 0, 0)));
  const stale = matcher.decide(track('A', 2, 20, 30, vec(1, 0, 0)))!;
  assert.equal(stale.outcome, 'reappeared', 'by its stored span, A#1 left 15 s before');
  const { matcher: live } = await setUp(t);
  live.decide(track('A', 1, 0, 5, vec(1, 0, 0)));
  const isLive = (ref: { cameraId: string; trackId: number }) => ref.cameraId === 'A' && ref.trackId === 1;
  const beside = live.decide(track('A', 2, 20, 30, vec(1, 0, 0)), { isLive })!;
  assert.equal(beside.outcome, 'new-identity');
  assert.equal(beside.candidates, 0);
});

test('scores are calibrated per camera pair before threshold and margin', async (t) => {
  const levels: [string, string, number][] = [];
  const calibration = {
    calibrate: (s: number, a: string, b: string) => (s - 0.5) / 0.5 + (a === b ? -1 : 0),
    observe: (a: string, b: string, values: readonly number[]) => values.forEach((v) => levels.push([a, b, v])),
  };
  const { matcher } = await setUp(t, { calibration });
  matcher.decide(track('A', 1, 0, 10, vec(1, 0, 0)));
  // Raw 0.9 → (0.9 − 0.5)/0.5 = 0.8 ≥ 0.6 + margin.
  const decision = matcher.decide(track('B', 1, 20, 30, unit(0.9, 0.43)))!;
  assert.equal(decision.outcome, 'matched');
  close(decision.similarity, 0.8, 1e-5);
  assert.deepEqual(levels.map(([a, b]) => `${a}|${b}`), ['B|A'], 'the candidate from A sampled the B–A pair');
});

/** `count` identities of camera A, one track each over [firstS, firstS + 10] s, in one transaction; returns their ids. */
function seedCrowd(gallery: Gallery, embeddings: readonly Float32Array[], firstS: (i: number) => number): string[] {
  return gallery.write((tx) =>
    embeddings.map((embedding, i) => {
      const firstSeenAt = T0 + firstS(i) * 1000;
      const sighting = { cameraId: 'A', trackId: 10_000 + i, objectClass: 'person' as const, firstSeenAt, lastSeenAt: firstSeenAt + 10_000, pts: 1, box: { x1: 0, y1: 0, x2: 10, y2: 30 }, quality: 0.8 };
      const decision = { eventId: `crowd-${i}`, outcome: 'new-identity' as const, candidates: 0, decidedAt: firstSeenAt };
      return tx.createIdentity({ sighting, embedding, decision }).id;
    }),
  );
}

test(`a class over ${FULL_PASS_MAX} identities: only those the window can admit are compared, and the match is the full pass's`, async (t) => {
  const { gallery, matcher } = await setUp(t);
  const crowd = randomVectors(FULL_PASS_MAX + 100, 64, 3);
  // All but the last 50 were seen a day before; the last 50 within the window.
  const ids = seedCrowd(gallery, crowd, (i) => (i < crowd.length - 50 ? -86_400 : 100 + i - (crowd.length - 50)));
  assert.equal(gallery.classSize('person'), FULL_PASS_MAX + 100);
  const target = crowd.length - 7;
  const decision = matcher.decide(track('B', 1, 200, 210, crowd[target]!))!;
  assert.equal(decision.outcome, 'matched');
  assert.equal(decision.identityId, ids[target]);
  assert.equal(decision.candidates, 50, 'the in-window identities only (what the full pass would have admitted)');
  // An old identity identical to the track is not a candidate: it is out of the window, as before.
  const old = matcher.decide(track('B', 2, 300, 310, crowd[0]!))!;
  assert.notEqual(old.identityId, ids[0]);
});

test(`more than ${POOL_SCORED_MAX} identities in the window: the search shortlists, the match is still found`, async (t) => {
  const { gallery, matcher } = await setUp(t);
  const crowd = randomVectors(POOL_SCORED_MAX + 200, 64, 4);
  const ids = seedCrowd(gallery, crowd, () => 100);
  const target = 4321;
  const decision = matcher.decide(track('B', 1, 200, 210, crowd[target]!))!;
  assert.equal(decision.outcome, 'matched');
  assert.equal(decision.identityId, ids[target]);
  // The shortlist and the calibration's subsample, not every identity of the window.
  assert.ok(decision.candidates <= 2 * SHORTLIST && decision.candidates >= SHORTLIST, `${decision.candidates} candidates`);
});

test('parts: an occluded view the global vector misses is matched on the parts both show, and the hidden part teaches the identity nothing', async (t) => {
  const parts = (features: number[], visibility: number[]) => ({ features: Float32Array.from(features), visibility: Float32Array.from(visibility) });
  // Identity X on camera A, seen whole: top part (1,0), bottom part (0,1).
  const whole = { ...track('A', 1, 0, 10, vec(1, 0, 0)), parts: parts([1, 0, 0, 1], [1, 1]) };
  // On camera B its bottom half is hidden behind a car: the global vector drifts to cosine 0.55
  // (under the threshold 0.6), the bottom part is noise with visibility 0, the top part (0.96, 0.28)
  // is still 0.96 alike. Score with parts: 0.55 + 1 · (1/2) · (0.96 − 0.55) = 0.755.
  const occluded = { ...track('B', 7, 20, 30, unit(0.55, Math.sqrt(1 - 0.55 ** 2))), parts: parts([0.96, 0.28, -1, 0], [1, 0]) };

  const plain = await setUp(t);
  plain.matcher.decide(whole);
  assert.equal(plain.matcher.decide(occluded)?.outcome, 'new-identity', 'without the part comparison: no match');

  const { matcher, gallery } = await setUp(t, { partWeights: { person: 1 } });
  matcher.decide(whole);
  const decision = matcher.decide(occluded);
  assert.equal(decision?.outcome, 'matched');
  assert.equal(decision.identityId, 'person-000001');
  close(decision.similarity, 0.755, 1e-5);
  assert.equal(decision.highConfidence, true);
  // Momentum 0.9 on the top part only: normalise(0.9·(1,0) + 0.1·(0.96,0.28)) = (0.999605, 0.028101); the
  // bottom part and its visibility stay as the whole view left them.
  const stored = gallery.readIdentity('person-000001')!.parts!;
  close(stored.features[0], 0.999605, 1e-5);
  close(stored.features[1], 0.028101, 1e-5);
  assert.deepEqual(Array.from(stored.features.subarray(2)), [0, 1]);
  assert.deepEqual(Array.from(stored.visibility), [1, 1]);

  // Parts that are not mutually visible add no evidence: the track similarity is the global cosine.
  const bottomOnly = { cameraId: 'A', embedding: vec(1, 0, 0), parts: parts([1, 0, 0, 1], [0, 1]) };
  const topOnly = { cameraId: 'B', embedding: vec(0, 1, 0), parts: parts([1, 0, 0, 1], [1, 0]) };
  assert.equal(matcher.trackSimilarity('person', bottomOnly, topOnly), 0);
  close(matcher.trackSimilarity('person', { ...whole, embedding: whole.embedding! }, { ...occluded, embedding: occluded.embedding! }), 0.755, 1e-5);
});
