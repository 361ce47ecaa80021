/**
 * The matcher: decides which identity a track is, against the gallery, and records the
 * decision in it (one transaction). Cosine retrieval over identity prototypes (DESIGN
 * seed 000) with a per-class threshold and a margin over the runner-up that grows for
 * easily confused identities (seed 002); the entropy of the softmax over the candidates
 * is the decision's confidence, and only confident decisions move prototypes (seed 003).
 */
import { randomUUID } from 'node:crypto';
import type { Box } from '../core/geometry.js';
import type { ObjectClass } from '../core/types.js';
import { dot, normalised } from '../core/vectors.js';
import type { Gallery } from '../gallery/gallery.js';
import { sameTrack, withExemplar, type IdentityRecord, type IdentitySummary, type SightingRecord } from '../gallery/records.js';
import { CandidateFilter, type Qualification, type TopologyLink } from './candidates.js';
import { entropyConfidence, momentumUpdate } from './confidence.js';
import type { MatchDecision, SightingRef } from './decision.js';

export interface ClassMatchingOptions {
  /** Minimum cosine similarity to the identity's prototype. */
  threshold: number;
  /** Minimum lead of the best candidate over the runner-up. */
  minMargin: number;
}

export interface MatcherOptions {
  gallery: Gallery;
  classes: Record<ObjectClass, ClassMatchingOptions>;
  /** How far back (s) another camera's sighting may have ended. */
  windowS: number;
  sameCamera: { enabled: boolean; minGapS: number };
  /** Tracks whose best crop is below this quality are not decided. */
  minTrackQuality: number;
  /** m in c ← m·c + (1−m)·f. */
  momentum: number;
  /** τ of the confidence softmax (default 0.05). */
  temperature?: number;
  /** Decisions whose normalised entropy is at most this are high-confidence (default 0.5). */
  highConfidenceEntropy?: number;
  topology?: readonly TopologyLink[];
  /** Wall clock, ms since epoch (default Date.now). */
  now?: () => number;
  /** Event ids (default random UUIDs). */
  newEventId?: () => string;
}

/** What the matcher needs of a track (an EndedTrack from the camera pipeline fits). */
export interface MatchableTrack {
  cameraId: string;
  trackId: number;
  objectClass: ObjectClass;
  firstSeenAt: number;
  lastSeenAt: number;
  /** Unit-length track embedding; no decision without it. */
  embedding?: Float32Array;
  /** Quality of the best crop. */
  quality: number;
  bestCrop?: { pts: number; box: Box };
}

export interface DecideOptions {
  /**
   * Called inside the decision's transaction, so that what it writes to the same LMDB
   * environment (e.g. the outbox message announcing the decision) commits with it or not at all.
   */
  inTransaction?: (decision: MatchDecision) => void;
}

export interface EnrolOptions {
  objectClass: ObjectClass;
  embedding: Float32Array;
  label: string;
}

interface ScoredCandidate {
  identity: IdentitySummary;
  qualification: Qualification;
  similarity: number;
}

interface CandidateScores {
  /** Similarity of every candidate. */
  scores: number[];
  best?: ScoredCandidate;
  /** Second-best candidate similarity. */
  runnerUp?: number;
}

/** Float32 vectors: similarities within this of a bound count as on it. */
const TOLERANCE = 1e-6;

export class Matcher {
  private readonly gallery: Gallery;
  private readonly filter: CandidateFilter;
  private readonly temperature: number;
  private readonly highConfidenceEntropy: number;
  private readonly now: () => number;
  private readonly newEventId: () => string;

  constructor(private readonly options: MatcherOptions) {
    this.gallery = options.gallery;
    this.filter = new CandidateFilter({ windowS: options.windowS, sameCamera: options.sameCamera, topology: options.topology ?? [] });
    this.temperature = options.temperature ?? 0.05;
    this.highConfidenceEntropy = options.highConfidenceEntropy ?? 0.5;
    this.now = options.now ?? Date.now;
    this.newEventId = options.newEventId ?? randomUUID;
  }

  /**
   * Decides a track and records it: a new sighting attached to a matched identity or to a
   * new one. Called again for the same track (an early decision on a live track, then its
   * end), it keeps the first decision's identity and updates the stored sighting and the
   * identity (see MatchDecision.updateOf). Undefined when the track is not matchable
   * (no embedding or best crop, or quality below minTrackQuality): nothing is stored.
   */
  decide(track: MatchableTrack, options: DecideOptions = {}): MatchDecision | undefined {
    const { embedding, bestCrop } = track;
    if (embedding === undefined || bestCrop === undefined || track.quality < this.options.minTrackQuality) return undefined;
    this.gallery.refresh();
    const feature = normalised(embedding);
    const sighting: SightingRef = {
      cameraId: track.cameraId,
      trackId: track.trackId,
      objectClass: track.objectClass,
      firstSeenAt: track.firstSeenAt,
      lastSeenAt: track.lastSeenAt,
      pts: bestCrop.pts,
      box: { ...bestCrop.box },
      quality: track.quality,
    };
    const earlier = this.gallery.sightingOfTrack(sighting);
    if (earlier !== undefined) return this.update(earlier, sighting, feature, options);
    return this.decideNew(sighting, feature, options);
  }

  /** Adds a watch-list identity (never expires; a candidate for every track of its class). */
  enrol(options: EnrolOptions): IdentitySummary {
    this.gallery.refresh();
    const createdAt = this.now();
    const id = this.gallery.write((tx) => {
      const record: IdentityRecord = {
        id: tx.nextIdentityId(options.objectClass),
        objectClass: options.objectClass,
        prototype: normalised(options.embedding),
        exemplars: [{ embedding: normalised(options.embedding), quality: 1, at: createdAt }],
        count: 0,
        createdAt,
        cameras: {},
        label: options.label,
        watchlist: true,
      };
      tx.putIdentity(record);
      return record.id;
    });
    return this.gallery.identity(id)!;
  }

  /** c_i of an identity: its highest cosine similarity to another identity of its class. */
  difficulty(identityId: string): number {
    return this.gallery.difficulty(identityId);
  }

  /**
   * Scores the track against its class in one pass over the prototypes, then keeps the
   * identities the rules admit: their similarities (for the confidence) and the two best.
   */
  private candidates(sighting: SightingRef, feature: Float32Array): CandidateScores {
    const { ids, similarities } = this.gallery.similarities(sighting.objectClass, feature);
    const scores: number[] = [];
    let best: ScoredCandidate | undefined;
    let runnerUp: number | undefined;
    for (let i = 0; i < ids.length; i++) {
      const identity = this.gallery.identity(ids[i]!)!;
      const qualification = this.filter.qualify(identity, sighting);
      if (qualification === undefined) continue;
      const similarity = similarities[i]!;
      scores.push(similarity);
      if (best === undefined || similarity > best.similarity) {
        if (best !== undefined) runnerUp = best.similarity;
        best = { identity, qualification, similarity };
      } else if (runnerUp === undefined || similarity > runnerUp) {
        runnerUp = similarity;
      }
    }
    return { scores, ...(best ? { best } : {}), ...(runnerUp !== undefined ? { runnerUp } : {}) };
  }

  private decideNew(sighting: SightingRef, feature: Float32Array, options: DecideOptions): MatchDecision {
    const { threshold, minMargin } = this.classOptions(sighting.objectClass);
    const { scores, best, runnerUp } = this.candidates(sighting, feature);
    // The runner-up is the second-best identity or "none of them" at the threshold, whichever is
    // higher (as in the confidence): a lone candidate barely over the threshold is no match.
    const margin = best === undefined ? undefined : best.similarity - Math.max(runnerUp ?? threshold, threshold);
    // Easily confused identities (high c_i) need a larger lead before a match is published.
    const requiredMargin = best === undefined ? 0 : minMargin + Math.max(0, this.gallery.difficulty(best.identity.id) - threshold);
    const chosen =
      best !== undefined && best.similarity >= threshold - TOLERANCE && margin! >= requiredMargin - TOLERANCE ? best : undefined;
    const { normalisedEntropy, confidence } = entropyConfidence(scores, threshold, this.temperature);
    const highConfidence = normalisedEntropy <= this.highConfidenceEntropy;
    const decidedAt = this.now();
    const eventId = this.newEventId();
    const exemplar = { embedding: feature, quality: sighting.quality, at: sighting.lastSeenAt };

    return this.gallery.write((tx) => {
      let identity: IdentityRecord;
      if (chosen === undefined) {
        identity = {
          id: tx.nextIdentityId(sighting.objectClass),
          objectClass: sighting.objectClass,
          prototype: feature,
          exemplars: [exemplar],
          count: 1,
          createdAt: decidedAt,
          firstSeenAt: sighting.firstSeenAt,
          lastSeenAt: sighting.lastSeenAt,
          cameras: { [sighting.cameraId]: sighting },
          watchlist: false,
        };
      } else {
        const current = tx.readIdentity(chosen.identity.id);
        if (current === undefined) throw new Error(`identity ${chosen.identity.id} is in the index but not in the gallery`);
        identity = withSighting(current, sighting);
        identity.count += 1;
        if (highConfidence) {
          identity.prototype = momentumUpdate(current.prototype, feature, this.options.momentum);
          identity.exemplars = withExemplar(current.exemplars, exemplar, this.gallery.exemplarsPerIdentity);
        }
      }
      const decision: MatchDecision = {
        eventId,
        identityId: identity.id,
        objectClass: sighting.objectClass,
        outcome: chosen === undefined ? 'new-identity' : chosen.qualification.sameCamera ? 'reappeared' : 'matched',
        sighting,
        ...(chosen?.qualification.via ? { matched: chosen.qualification.via } : {}),
        ...(identity.watchlist ? { watchlistLabel: identity.label ?? identity.id } : {}),
        ...(chosen ? { similarity: chosen.similarity, margin } : {}),
        candidates: scores.length,
        confidence,
        highConfidence,
        decidedAt,
      };
      tx.putIdentity(identity);
      const { sighting: _sighting, identityId: _identityId, objectClass: _objectClass, ...stored } = decision;
      tx.putSighting({ ...sighting, identityId: identity.id, embedding: feature, decision: stored });
      options.inTransaction?.(decision);
      return decision;
    });
  }

  /**
   * A later call for an already decided track: same identity and outcome, sighting and
   * identity brought up to date. The prototype moves at most once per track (at its first
   * decision), except for an identity this track alone created, which follows the track's
   * latest embedding.
   */
  private update(earlier: SightingRecord, sighting: SightingRef, feature: Float32Array, options: DecideOptions): MatchDecision {
    const decidedAt = this.now();
    const eventId = this.newEventId();
    return this.gallery.write((tx) => {
      const current = tx.readIdentity(earlier.identityId);
      if (current === undefined) throw new Error(`sighting of track ${sighting.trackId} refers to missing identity ${earlier.identityId}`);
      const identity = withSighting(current, sighting);
      if (earlier.decision.outcome === 'new-identity' && current.count === 1) {
        identity.prototype = feature;
        identity.exemplars = [{ embedding: feature, quality: sighting.quality, at: sighting.lastSeenAt }];
      }
      const { eventId: updateOf, ...first } = earlier.decision;
      const decision: MatchDecision = {
        ...first,
        eventId,
        updateOf,
        identityId: identity.id,
        objectClass: sighting.objectClass,
        sighting,
        ...(first.outcome === 'new-identity' ? {} : { similarity: dot(feature, identity.prototype) }),
        decidedAt,
      };
      tx.putIdentity(identity);
      tx.putSighting({ ...sighting, identityId: identity.id, embedding: feature, decision: earlier.decision }, earlier);
      options.inTransaction?.(decision);
      return decision;
    });
  }

  private classOptions(objectClass: ObjectClass): ClassMatchingOptions {
    const options = this.options.classes[objectClass];
    if (options === undefined) throw new Error(`no matching settings for class ${objectClass}`);
    return options;
  }
}

/** The identity with `sighting` as its latest on that camera (if it is), and its time span widened. */
function withSighting(identity: IdentityRecord, sighting: SightingRef): IdentityRecord {
  const previous = identity.cameras[sighting.cameraId];
  const latestThere = previous === undefined || sameTrack(previous, sighting) || previous.lastSeenAt <= sighting.lastSeenAt;
  return {
    ...identity,
    cameras: latestThere ? { ...identity.cameras, [sighting.cameraId]: sighting } : identity.cameras,
    firstSeenAt: Math.min(identity.firstSeenAt ?? sighting.firstSeenAt, sighting.firstSeenAt),
    lastSeenAt: Math.max(identity.lastSeenAt ?? sighting.lastSeenAt, sighting.lastSeenAt),
  };
}
