import type { ObjectClass } from '../core/types.js';
import type { IdentityMerge, SightingDecision, SightingRef } from '../gallery/records.js';

export type { MatchOutcome, SightingRef } from '../gallery/records.js';

/** What the matcher decided for a track (see SightingDecision for the outcomes). */
export interface MatchDecision extends SightingDecision {
  identityId: string;
  objectClass: ObjectClass;
  /** The track being decided. */
  sighting: SightingRef;
  /**
   * Set when this track had been decided before (an early decision on a live track): the
   * eventId of that first decision. Identity, outcome, matched side, candidates, margin and
   * confidence are the first decision's; the stored sighting and the identity were updated
   * (time span, best crop, embedding), nothing was added. Publish it as an update, not as a
   * new match — unless `lateMatch` is set.
   */
  updateOf?: string;
  /**
   * On a repeat decision: the track's first decision had made it a new identity of its own, and
   * its final embedding found that identity to be an earlier one (merged into it, see `merges`).
   * The decision is then news: a match (outcome `matched`) or a return (`reappeared`).
   */
  lateMatch?: boolean;
  /** Identities this decision showed to be one, merged in its transaction. */
  merges?: IdentityMerge[];
}
