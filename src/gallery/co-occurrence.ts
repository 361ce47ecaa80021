/**
 * Co-occurrence: two identities seen at overlapping times by different tracks of one camera
 * are two people. An identity a site sees daily gathers thousands of sightings in a year, and
 * the check runs for the runner-ups of every decision, so it does not compare every pair of
 * spans: per camera, the other identity's spans sorted by start carry a running top two of
 * their end times (of two different tracks), and each span asks one binary search,
 * O((n + m) log m) instead of O(n·m).
 */
import { sameTrack, type SightingSpan } from './records.js';

interface CameraSpans {
  starts: number[];
  /** Over the spans up to each index: the latest end, a span of its track, and the latest end of any other track. */
  latestEnd: number[];
  latestTrack: SightingSpan[];
  otherEnd: number[];
}

function byCamera(spans: readonly SightingSpan[]): Map<string, CameraSpans> {
  const groups = new Map<string, SightingSpan[]>();
  for (const span of spans) {
    const group = groups.get(span.cameraId);
    if (group) group.push(span);
    else groups.set(span.cameraId, [span]);
  }
  const cameras = new Map<string, CameraSpans>();
  for (const [cameraId, group] of groups) {
    group.sort((x, y) => x.firstSeenAt - y.firstSeenAt);
    const prefix: CameraSpans = { starts: [], latestEnd: [], latestTrack: [], otherEnd: [] };
    let latest = -Infinity;
    let latestTrack: SightingSpan | undefined;
    let other = -Infinity;
    for (const span of group) {
      if (latestTrack !== undefined && sameTrack(span, latestTrack)) latest = Math.max(latest, span.lastSeenAt);
      else if (span.lastSeenAt > latest) [other, latest, latestTrack] = [latest, span.lastSeenAt, span];
      else other = Math.max(other, span.lastSeenAt);
      prefix.starts.push(span.firstSeenAt);
      prefix.latestEnd.push(latest);
      prefix.latestTrack.push(latestTrack!);
      prefix.otherEnd.push(other);
    }
    cameras.set(cameraId, prefix);
  }
  return cameras;
}

/** Index of the last start ≤ t, or −1. */
function lastStartAtOrBefore(starts: readonly number[], t: number): number {
  let low = 0;
  let high = starts.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (starts[middle]! <= t) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/** Whether a span of `a` and a span of `b` of different tracks of one camera overlap in time (ends included). */
export function spansCoOccur(a: readonly SightingSpan[], b: readonly SightingSpan[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const cameras = byCamera(b);
  for (const x of a) {
    const other = cameras.get(x.cameraId);
    if (other === undefined) continue;
    // b's spans that start no later than x ends overlap x when they end no earlier than x starts.
    const k = lastStartAtOrBefore(other.starts, x.lastSeenAt);
    if (k < 0) continue;
    const latestOfAnotherTrack = sameTrack(other.latestTrack[k]!, x) ? other.otherEnd[k]! : other.latestEnd[k]!;
    if (latestOfAnotherTrack >= x.firstSeenAt) return true;
  }
  return false;
}
