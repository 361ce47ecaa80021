/**
 * Which gallery identities a track may be: the time window, camera topology (transit
 * times) and same-camera rules, applied to each identity's latest sighting per camera.
 */
import type { IdentitySummary } from '../gallery/records.js';
import type { SightingRef } from './decision.js';

/** Transit time between two cameras' views, seconds; minS < 0 for overlapping views. */
export interface TopologyLink {
  from: string;
  to: string;
  minS: number;
  maxS: number;
  /** The same transit times apply from `to` to `from`. */
  bidirectional: boolean;
}

export interface CandidateRules {
  windowS: number;
  sameCamera: { enabled: boolean; minGapS: number };
  topology: readonly TopologyLink[];
}

/** The part of a track the rules look at. */
export interface TrackSpan {
  cameraId: string;
  firstSeenAt: number;
  lastSeenAt: number;
}

/** Why an identity is a candidate: the sighting that qualified it (absent for a never-seen watch-list identity). */
export interface Qualification {
  via?: SightingRef;
  /** Qualified through this track's own camera (a reappearance). */
  sameCamera: boolean;
}

export class CandidateFilter {
  private readonly links = new Map<string, TopologyLink>();

  constructor(private readonly rules: CandidateRules) {
    for (const link of rules.topology) {
      this.links.set(linkKey(link.from, link.to), link);
      if (link.bidirectional && !this.links.has(linkKey(link.to, link.from))) this.links.set(linkKey(link.to, link.from), link);
    }
  }

  /**
   * Whether `identity` may be the track, and through which sighting: the most recent of
   * its per-camera latest sightings that passes the rules. Never a candidate: an identity
   * seen on the track's camera by another track at the same time (one object, one place).
   * Watch-list identities are always candidates otherwise. `isLive` tells the sightings of
   * tracks still being followed (decided early): they count as seen until the track's latest time.
   */
  qualify(identity: IdentitySummary, track: TrackSpan, isLive: LiveTest = NOTHING_LIVE): Qualification | undefined {
    let via: SightingRef | undefined;
    let latest: SightingRef | undefined;
    for (const sighting of sightingsNow(identity, track, isLive)) {
      if (sighting.cameraId === track.cameraId && overlaps(sighting, track)) return undefined;
      if (latest === undefined || sighting.lastSeenAt > latest.lastSeenAt) latest = sighting;
      if (this.passes(sighting, track) && (via === undefined || sighting.lastSeenAt > via.lastSeenAt)) via = sighting;
    }
    if (via === undefined && identity.watchlist) via = latest;
    if (via === undefined) return identity.watchlist ? { sameCamera: false } : undefined;
    return { via, sameCamera: via.cameraId === track.cameraId };
  }

  /** Whether the identity was on the track's camera at the same time (so it is someone else). */
  seenBeside(identity: IdentitySummary, track: TrackSpan, isLive: LiveTest = NOTHING_LIVE): boolean {
    return sightingsNow(identity, track, isLive).some((sighting) => sighting.cameraId === track.cameraId && overlaps(sighting, track));
  }

  private passes(sighting: SightingRef, track: TrackSpan): boolean {
    const windowStart = track.firstSeenAt - this.rules.windowS * 1000;
    if (sighting.lastSeenAt < windowStart) return false;
    const transitS = (track.firstSeenAt - sighting.lastSeenAt) / 1000;
    if (sighting.cameraId === track.cameraId) {
      return this.rules.sameCamera.enabled && transitS >= this.rules.sameCamera.minGapS;
    }
    if (sighting.lastSeenAt > track.lastSeenAt) return false;
    const link = this.links.get(linkKey(sighting.cameraId, track.cameraId));
    return link === undefined || (transitS >= link.minS && transitS <= link.maxS);
  }
}

/** Whether a stored sighting's track is still being followed. */
export type LiveTest = (sighting: SightingRef) => boolean;
const NOTHING_LIVE: LiveTest = () => false;

/** The identity's latest sightings per camera; one of a track still followed (stored at its early decision) lasts until the track's time. */
function sightingsNow(identity: IdentitySummary, track: TrackSpan, isLive: LiveTest): SightingRef[] {
  return Object.values(identity.cameras).map((stored) => (isLive(stored) ? { ...stored, lastSeenAt: Math.max(stored.lastSeenAt, track.lastSeenAt) } : stored));
}

function linkKey(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

function overlaps(a: { firstSeenAt: number; lastSeenAt: number }, b: { firstSeenAt: number; lastSeenAt: number }): boolean {
  return a.firstSeenAt <= b.lastSeenAt && b.firstSeenAt <= a.lastSeenAt;
}
