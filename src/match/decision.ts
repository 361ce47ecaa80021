import type { Box } from '../core/geometry.js';
import type { ObjectClass } from '../core/types.js';

/** One side of a decision: a track on one camera, as stored in the gallery. */
export interface SightingRef {
  cameraId: string;
  trackId: number;
  objectClass: ObjectClass;
  /** Wall-clock times (ms since epoch) of the track's first and last detection. */
  firstSeenAt: number;
  lastSeenAt: number;
  /** Media time (s) and box (frame pixels) of the track's best crop. */
  pts: number;
  box: Box;
  quality: number;
}

/**
 * What the matcher decided for a track:
 * - `new-identity`: nothing close enough, a new identity was created;
 * - `matched`: attached to an identity last seen on another camera (published on `matches`);
 * - `reappeared`: attached to an identity last seen on the same camera after a gap.
 */
export type MatchOutcome = 'new-identity' | 'matched' | 'reappeared';

export interface MatchDecision {
  /** Unique id of this decision (the `matches` event id). */
  eventId: string;
  identityId: string;
  objectClass: ObjectClass;
  outcome: MatchOutcome;
  /** The track being decided. */
  sighting: SightingRef;
  /** For matched/reappeared: the identity's earlier sighting that the track matched (absent on a first watch-list hit). */
  matched?: SightingRef;
  /** Set when the identity is on the operator's watch list: its label. */
  watchlistLabel?: string;
  /** Cosine similarity to the chosen identity's prototype (matched/reappeared). */
  similarity?: number;
  /** Similarity minus the runner-up's, or minus the threshold when that is higher (no runner-up, or a weak one). */
  margin?: number;
  /** Identities the track was compared with (after class, time-window and topology filters). */
  candidates: number;
  /** 1 − normalised entropy of the softmax over candidate similarities, in [0,1]. */
  confidence?: number;
  /** High-confidence decisions move the identity's prototype; low-confidence ones do not. */
  highConfidence?: boolean;
  /** Wall-clock time of the decision (ms since epoch). */
  decidedAt: number;
  /**
   * Set when this track had been decided before (an early decision on a live track): the
   * eventId of that first decision. Identity, outcome, matched side, candidates, margin and
   * confidence are the first decision's; the stored sighting and the identity were updated
   * (time span, best crop, embedding), nothing was added. Publish it as an update, not as a
   * new match.
   */
  updateOf?: string;
}
