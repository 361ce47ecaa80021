import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IdentitySummary } from '../src/gallery/records.js';
import { CandidateFilter, type CandidateRules, type TopologyLink } from '../src/match/candidates.js';
import type { SightingRef } from '../src/match/decision.js';

const S = 1000;

function seen(cameraId: string, firstS: number, lastS: number, trackId = 1): SightingRef {
  return { cameraId, trackId, objectClass: 'person', firstSeenAt: firstS * S, lastSeenAt: lastS * S, pts: 0, box: { x1: 0, y1: 0, x2: 1, y2: 1 }, quality: 1 };
}

function identity(sightings: SightingRef[], watchlist = false): IdentitySummary {
  return {
    id: 'person-000001',
    objectClass: 'person',
    count: sightings.length,
    createdAt: 0,
    cameras: Object.fromEntries(sightings.map((sighting) => [sighting.cameraId, sighting])),
    watchlist,
    appearanceWeights: {},
  };
}

function filter(overrides: Partial<CandidateRules> = {}, topology: TopologyLink[] = []): CandidateFilter {
  return new CandidateFilter({ windowS: 600, sameCamera: { enabled: true, minGapS: 10 }, topology, ...overrides });
}

// The track being decided: camera B, seen from t = 1000 s to t = 1020 s.
const TRACK = { cameraId: 'B', firstSeenAt: 1000 * S, lastSeenAt: 1020 * S };

test('time window: another camera qualifies when its sighting ended within [first − window, last] (overlap allowed)', () => {
  const rules = filter();
  assert.deepEqual(rules.qualify(identity([seen('A', 300, 400)]), TRACK), { via: seen('A', 300, 400), sameCamera: false }, 'ended exactly window_s before');
  assert.equal(rules.qualify(identity([seen('A', 300, 399.999)]), TRACK), undefined, 'ended just before the window');
  assert.ok(rules.qualify(identity([seen('A', 990, 1010)]), TRACK), 'ended while the track was seen (overlapping views)');
  assert.ok(rules.qualify(identity([seen('A', 990, 1020)]), TRACK), 'ended with the track');
  assert.equal(rules.qualify(identity([seen('A', 990, 1021)]), TRACK), undefined, 'ended after the track: not an earlier sighting');
});

test('topology: a listed pair bounds the transit time first − last to [min_s, max_s]; unlisted pairs only use the window', () => {
  const rules = filter({}, [{ from: 'A', to: 'B', minS: 5, maxS: 30, bidirectional: false }]);
  // transit = 1000 − lastSeen
  assert.equal(rules.qualify(identity([seen('A', 900, 996)]), TRACK), undefined, 'transit 4 s < min 5 s');
  assert.ok(rules.qualify(identity([seen('A', 900, 995)]), TRACK), 'transit 5 s');
  assert.ok(rules.qualify(identity([seen('A', 900, 970)]), TRACK), 'transit 30 s');
  assert.equal(rules.qualify(identity([seen('A', 900, 969)]), TRACK), undefined, 'transit 31 s > max 30 s');
  assert.ok(rules.qualify(identity([seen('C', 300, 500)]), TRACK), 'C → B is not listed: 500 s transit inside the window is fine');

  // Not bidirectional: B → A tracks are only held to the window.
  const onA = { ...TRACK, cameraId: 'A' };
  assert.ok(rules.qualify(identity([seen('B', 300, 500)]), onA));
  const both = filter({}, [{ from: 'A', to: 'B', minS: 5, maxS: 30, bidirectional: true }]);
  assert.equal(both.qualify(identity([seen('B', 300, 500)]), onA), undefined, 'bidirectional: B → A transit 500 s > 30 s');
  assert.ok(both.qualify(identity([seen('B', 900, 980)]), onA), 'bidirectional: B → A transit 20 s');
});

test('topology with negative min_s admits overlapping views, down to min_s', () => {
  const long = { cameraId: 'B', firstSeenAt: 1000 * S, lastSeenAt: 1100 * S };
  const overlapping = filter({}, [{ from: 'A', to: 'B', minS: -10, maxS: 20, bidirectional: true }]);
  assert.ok(overlapping.qualify(identity([seen('A', 980, 1005)]), long), 'still on A 5 s after appearing on B (transit −5 s)');
  assert.ok(overlapping.qualify(identity([seen('A', 980, 1010)]), long), 'transit −10 s');
  assert.equal(overlapping.qualify(identity([seen('A', 980, 1011)]), long), undefined, 'transit −11 s < min −10 s');
  const disjoint = filter({}, [{ from: 'A', to: 'B', minS: 0, maxS: 20, bidirectional: true }]);
  assert.equal(disjoint.qualify(identity([seen('A', 980, 1005)]), long), undefined, 'min_s 0: no overlap allowed');
});

test('same camera: a return after at least min_gap_s qualifies (when enabled); a concurrent sighting on the same camera excludes', () => {
  const rules = filter();
  assert.deepEqual(rules.qualify(identity([seen('B', 900, 990)]), TRACK), { via: seen('B', 900, 990), sameCamera: true }, 'gap 10 s');
  assert.equal(rules.qualify(identity([seen('B', 900, 991)]), TRACK), undefined, 'gap 9 s');
  assert.equal(filter({ sameCamera: { enabled: false, minGapS: 10 } }).qualify(identity([seen('B', 900, 990)]), TRACK), undefined, 'disabled');
  assert.equal(rules.qualify(identity([seen('B', 300, 380)]), TRACK), undefined, 'outside the window');

  // Seen on B by another track while this one was: a different object, whatever camera A says.
  assert.equal(rules.qualify(identity([seen('A', 950, 980), seen('B', 1010, 1030, 9)]), TRACK), undefined);
});

test('the most recent qualifying sighting is the one the identity qualifies through', () => {
  const rules = filter();
  const both = identity([seen('A', 800, 900), seen('B', 950, 985)]);
  assert.deepEqual(rules.qualify(both, TRACK), { via: seen('B', 950, 985), sameCamera: true });
  const returned = identity([seen('A', 800, 995), seen('B', 950, 985)]);
  assert.deepEqual(rules.qualify(returned, TRACK), { via: seen('A', 800, 995), sameCamera: false });
  // B's return gap is too short (5 s) but A qualifies.
  const shortGap = identity([seen('A', 800, 900), seen('B', 950, 995)]);
  assert.deepEqual(rules.qualify(shortGap, TRACK), { via: seen('A', 800, 900), sameCamera: false });
});

test('watch-list identities are always candidates, whatever the window', () => {
  const rules = filter();
  assert.deepEqual(rules.qualify(identity([], true), TRACK), { sameCamera: false }, 'enrolled, never seen');
  assert.deepEqual(rules.qualify(identity([seen('A', 1, 2)], true), TRACK), { via: seen('A', 1, 2), sameCamera: false }, 'seen long ago');
  assert.equal(rules.qualify(identity([seen('A', 1, 2)]), TRACK), undefined, 'the same sighting without the watch list');
});
