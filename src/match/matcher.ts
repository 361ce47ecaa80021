/**
 * The matcher: decides which identity a track is, against the gallery, and records the
 * decision in it (one transaction). Cosine retrieval in the matching space (camera-centred
 * features, seeds 000/001) over identities that are a momentum prototype plus diverse views,
 * with a per-class threshold and a margin over the runner-up that grows for easily confused
 * identities (seed 002); the entropy of the softmax over the candidates is the decision's
 * confidence, and only confident decisions move prototypes (seed 003).
 *
 * Split identities of one person are not each other's rivals: a candidate whose prototype is
 * within the merge threshold of the best one, and that was never seen beside it, does not
 * count as the runner-up; when the track scores both over the threshold, the decision merges
 * them (online re-clustering, seed 000). A track whose early decision made it an identity of
 * its own is decided again with its final embedding, and joins an earlier identity if one
 * qualifies (a late match).
 */
import { randomUUID } from 'node:crypto';
import type { ObjectClass } from '../core/types.js';
import { dot, normalised } from '../core/vectors.js';
import type { MatchingSpace } from '../features/feature-space.js';
import { layoutOf, partAdjustedScore, partSimilarity, type PartEmbedding } from '../embed/part-embedding.js';
import { survivorOf, type Gallery, type GalleryTransaction } from '../gallery/gallery.js';
import type { IdentityMerge, IdentitySummary, SightingDecision, SightingRecord } from '../gallery/records.js';
import { CandidateFilter, type LiveTest, type Qualification, type TopologyLink } from './candidates.js';
import { entropyConfidence } from './confidence.js';
import type { MatchDecision, SightingRef } from './decision.js';
import type { Box } from '../core/geometry.js';

export interface ClassMatchingOptions {
  /** Minimum score (matching-space cosine similarity) of the chosen identity. */
  threshold: number;
  /** Minimum lead of the best candidate over the runner-up. */
  minMargin: number;
}

/** Per camera pair calibration of similarities (features/score-calibration.ts). */
export interface PairCalibration {
  calibrate(similarity: number, cameraA: string, cameraB: string): number;
  observe(cameraA: string, cameraB: string, similarities: readonly number[]): void;
}

export interface MatcherOptions {
  /** The gallery; its matching space is where the matcher compares. */
  gallery: Gallery;
  /** Scores are calibrated per camera pair (default: compared as they are). */
  calibration?: PairCalibration;
  classes: Record<ObjectClass, ClassMatchingOptions>;
  /** How far back (s) another camera's sighting may have ended. */
  windowS: number;
  sameCamera: { enabled: boolean; minGapS: number };
  /** Tracks whose best crop is below this quality are not decided. */
  minTrackQuality: number;
  /** τ of the confidence softmax (default 0.05). */
  temperature?: number;
  /** Decisions whose normalised entropy is at most this are high-confidence (default 0.5). */
  highConfidenceEntropy?: number;
  topology?: readonly TopologyLink[];
  /**
   * Score of an identity: viewWeight·(best view's similarity) + (1 − viewWeight)·(prototype
   * similarity); 0 scores the prototype alone (default).
   */
  viewWeight?: number;
  /** Candidates rescored with their views (and parts), best prototypes first (default 20). */
  viewShortlist?: number;
  /**
   * Per class whose re-ID model declares parts, the weight w of the part comparison:
   * score + w·coverage·(part similarity − raw global similarity) (see partAdjustedScore).
   */
  partWeights?: Partial<Record<ObjectClass, number>>;
  /**
   * Prototype similarity at or above which two identities never seen side by side are taken
   * for one person: not each other's runner-up, merged when a track scores both over the
   * threshold. Undefined: every candidate is a rival and nothing is merged online.
   */
  likelySameSimilarity?: number;
  /**
   * Merge online (default true): likely fragments the track scores over the threshold are merged
   * with the chosen identity, and a track's identity of its own joins the earlier identity its
   * final embedding matches. Off: fragments only stop being runner-ups.
   */
  onlineMerge?: boolean;
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
  /** Unit-length raw track embedding; no decision without it. */
  embedding?: Float32Array;
  /** The track's parts, from a part model: compared with an identity's over the parts both show. */
  parts?: PartEmbedding;
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
  /** Whether a stored sighting's track is still being followed (its stored end is its early decision's). */
  isLive?: LiveTest;
}

export interface EnrolOptions {
  objectClass: ObjectClass;
  embedding: Float32Array;
  label: string;
}

/** A track as the matcher compares it: raw embedding, its projection into the matching space, and its parts. */
interface Query {
  raw: Float32Array;
  feature: Float32Array;
  parts?: PartEmbedding;
}

interface ScoredCandidate {
  identity: IdentitySummary;
  qualification: Qualification;
  /** Prototype similarity. */
  prototype: number;
  /** The identity's score (prototype and views, calibrated for the camera pair). */
  score: number;
}

/** Similarities of a track to identities that are certainly or almost all other people, per camera it was compared through. */
type PairSamples = Map<string, number[]>;

/** The outcome of comparing a track with its candidates. */
interface Choice {
  candidates: ScoredCandidate[];
  /** For the calibration: similarities to identities seen beside the track (own camera) and to other cameras' candidates. */
  samples: PairSamples;
  chosen?: ScoredCandidate;
  /** Best candidate's lead over max(runner-up, threshold). */
  margin?: number;
  /** Candidates taken for the same person as the chosen one and scored over the threshold: merged. */
  sameAsChosen: ScoredCandidate[];
  confidence: number;
  highConfidence: boolean;
}

/** Float32 vectors: similarities within this of a bound count as on it. */
const TOLERANCE = 1e-6;
/** Classes up to this size are compared in full (one pass over the prototypes, ~4 ms at 512-d). */
export const FULL_PASS_MAX = 8192;
/** Identities a window may admit that are each scored; beyond, the search shortlists. */
export const POOL_SCORED_MAX = 8192;
/** Most similar identities taken from the search, and the size of the calibration's subsample. */
export const SHORTLIST = 256;

export class Matcher {
  private readonly gallery: Gallery;
  private readonly space: MatchingSpace;
  private readonly filter: CandidateFilter;
  private readonly temperature: number;
  private readonly highConfidenceEntropy: number;
  private readonly viewWeight: number;
  private readonly viewShortlist: number;
  private readonly onlineMerge: boolean;
  private readonly now: () => number;
  private readonly newEventId: () => string;

  constructor(private readonly options: MatcherOptions) {
    this.gallery = options.gallery;
    this.space = options.gallery.space;
    this.filter = new CandidateFilter({ windowS: options.windowS, sameCamera: options.sameCamera, topology: options.topology ?? [] });
    this.temperature = options.temperature ?? 0.05;
    this.highConfidenceEntropy = options.highConfidenceEntropy ?? 0.5;
    this.viewWeight = options.viewWeight ?? 0;
    this.viewShortlist = options.viewShortlist ?? 20;
    this.onlineMerge = options.onlineMerge ?? true;
    this.now = options.now ?? Date.now;
    this.newEventId = options.newEventId ?? randomUUID;
  }

  /**
   * Decides a track and records it: a new sighting attached to a matched identity or to a
   * new one. Called again for the same track (an early decision on a live track, then its
   * end), it keeps the first decision's identity and updates the stored sighting and the
   * identity (see MatchDecision.updateOf), unless the track had made an identity of its own
   * that it now finds to be an earlier one (MatchDecision.lateMatch). Undefined when the track
   * is not matchable (no embedding or best crop, or quality below minTrackQuality): nothing is stored.
   */
  decide(track: MatchableTrack, options: DecideOptions = {}): MatchDecision | undefined {
    const { embedding, bestCrop } = track;
    if (embedding === undefined || bestCrop === undefined || track.quality < this.options.minTrackQuality) return undefined;
    this.gallery.refresh();
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
    const raw = Float32Array.from(embedding);
    const query: Query = { raw, feature: this.space.project(sighting.cameraId, raw), ...(track.parts ? { parts: track.parts } : {}) };
    const earlier = this.gallery.sightingOfTrack(sighting);
    if (earlier !== undefined) return this.update(earlier, sighting, query, options);
    return this.decideNew(sighting, query, options);
  }

  /** Adds a watch-list identity (never expires; a candidate for every track of its class). */
  enrol(options: EnrolOptions): IdentitySummary {
    const at = this.now();
    const id = this.gallery.write((tx) => tx.enrolIdentity({ objectClass: options.objectClass, embedding: Float32Array.from(options.embedding), label: options.label, at }).id);
    return this.gallery.identity(id)!;
  }

  /**
   * Identities closest to an embedding that came from no camera (an uploaded picture): it is
   * projected with the site's mean, as enrolments are; best first, matching-space similarity.
   */
  search(objectClass: ObjectClass, embedding: Float32Array, k: number): { identityId: string; similarity: number }[] {
    const feature = this.space.project('', embedding);
    return this.gallery.search(objectClass, feature, k).map((hit) => ({ identityId: hit.id, similarity: hit.similarity }));
  }

  /** c_i of an identity: its highest prototype similarity to another identity of its class. */
  difficulty(identityId: string): number {
    return this.gallery.difficulty(identityId);
  }

  /**
   * The similarity the matcher sees between two tracks of a class: cosine of their projections
   * into the matching space, adjusted by their parts when both have them (before calibration).
   */
  trackSimilarity(
    objectClass: ObjectClass,
    a: { cameraId: string; embedding: Float32Array; parts?: PartEmbedding },
    b: { cameraId: string; embedding: Float32Array; parts?: PartEmbedding },
  ): number {
    const similarity = dot(this.space.project(a.cameraId, a.embedding), this.space.project(b.cameraId, b.embedding));
    return this.withParts(objectClass, similarity, a, b);
  }

  /** A score adjusted by two part sets (track and track, or track and identity); as it was when either has none. */
  private withParts(
    objectClass: ObjectClass,
    score: number,
    a: { embedding: Float32Array; parts?: PartEmbedding },
    b: { embedding: Float32Array; parts?: PartEmbedding },
  ): number {
    const weight = this.options.partWeights?.[objectClass];
    if (weight === undefined || a.parts === undefined || b.parts === undefined) return score;
    return partAdjustedScore(score, dot(a.embedding, b.embedding), partSimilarity(a.parts, b.parts, layoutOf(a.parts)), weight);
  }

  /**
   * Scores the track against its class in one pass over the prototypes, keeps the identities
   * the rules admit, rescores the best of them with their views, and chooses.
   */
  private choose(sighting: SightingRef, query: Query, isLive: LiveTest | undefined, exclude?: string): Choice {
    const { feature } = query;
    const { threshold, minMargin } = this.classOptions(sighting.objectClass);
    const candidates: ScoredCandidate[] = [];
    const samples: PairSamples = new Map();
    const sample = (cameraId: string, similarity: number) => {
      const list = samples.get(cameraId);
      if (list) list.push(similarity);
      else samples.set(cameraId, [similarity]);
    };
    if (this.space.ready) {
      for (const { id, similarity, representative } of this.compared(sighting, feature)) {
        if (id === exclude) continue;
        const identity = this.gallery.identity(id)!;
        const qualification = this.filter.qualify(identity, sighting, isLive);
        if (qualification === undefined) {
          if (representative && !identity.watchlist && this.filter.seenBeside(identity, sighting, isLive)) sample(sighting.cameraId, similarity);
          continue;
        }
        if (representative && qualification.via && !qualification.sameCamera) sample(qualification.via.cameraId, similarity);
        candidates.push({ identity, qualification, prototype: similarity, score: similarity });
      }
    }
    candidates.sort((a, b) => b.prototype - a.prototype);
    if (this.viewWeight > 0) {
      for (const candidate of candidates.slice(0, this.viewShortlist)) {
        const views = this.gallery.exemplarViews(candidate.identity.id);
        const bestView = views.reduce((best, view) => Math.max(best, dot(feature, view)), -Infinity);
        if (views.length > 0) candidate.score = this.viewWeight * bestView + (1 - this.viewWeight) * candidate.prototype;
      }
    }
    if (query.parts && this.options.partWeights?.[sighting.objectClass] !== undefined) {
      for (const candidate of candidates.slice(0, this.viewShortlist)) {
        const record = this.gallery.readIdentity(candidate.identity.id);
        if (record?.parts) candidate.score = this.withParts(sighting.objectClass, candidate.score, { embedding: query.raw, parts: query.parts }, { embedding: record.appearance.sum, parts: record.parts });
      }
    }
    const calibrate = (similarity: number, via: SightingRef | undefined) =>
      this.options.calibration ? this.options.calibration.calibrate(similarity, sighting.cameraId, via?.cameraId ?? sighting.cameraId) : similarity;
    for (const candidate of candidates) candidate.score = calibrate(candidate.score, candidate.qualification.via);
    candidates.sort((a, b) => b.score - a.score);
    const [best, ...others] = candidates;
    const likelySame = best ? this.likelySameAs(best, others) : new Set<ScoredCandidate>();
    const rivals = others.filter((candidate) => !likelySame.has(candidate));
    const scores = [best, ...rivals].filter((c) => c !== undefined).map((c) => c.score);
    const { normalisedEntropy, confidence } = entropyConfidence(scores, threshold, this.temperature);
    const highConfidence = normalisedEntropy <= this.highConfidenceEntropy;
    if (best === undefined) return { candidates, samples, sameAsChosen: [], confidence, highConfidence };
    // The runner-up is the best rival or "none of them" at the threshold, whichever is higher
    // (as in the confidence): a lone candidate barely over the threshold is no match.
    const margin = best.score - Math.max(rivals[0]?.score ?? threshold, threshold);
    // Easily confused identities (high c_i) need a larger lead; its own duplicates do not count.
    const excluded = new Set([...likelySame].map((c) => c.identity.id));
    const difficulty = calibrate(
      excluded.size > 0 ? this.gallery.difficultyExcluding(best.identity.id, excluded) : this.gallery.difficulty(best.identity.id),
      best.qualification.via,
    );
    const requiredMargin = minMargin + Math.max(0, difficulty - threshold);
    const chosen = best.score >= threshold - TOLERANCE && margin >= requiredMargin - TOLERANCE ? best : undefined;
    const sameAsChosen = chosen && this.onlineMerge ? [...likelySame].filter((c) => c.score >= threshold - TOLERANCE) : [];
    return { candidates, samples, ...(chosen ? { chosen, margin } : {}), sameAsChosen, confidence, highConfidence };
  }

  /**
   * The identities a track is compared with, and their prototype similarities. A class of up
   * to FULL_PASS_MAX identities: all, in one pass over the prototype matrix. A larger one: only
   * those its time window can admit — seen since two windows before the track (a track still
   * followed counts as seen until now, so one window of slack) and the watch list — each
   * scored. When even those exceed POOL_SCORED_MAX, the gallery's search (int8 scan or HNSW
   * graph) shortlists the SHORTLIST most similar, and a strided subsample of the pool keeps
   * giving the calibration its strangers: the shortlist is not `representative` of them
   * (it is the most similar ones), the subsample is.
   */
  private *compared(sighting: SightingRef, feature: Float32Array): Generator<{ id: string; similarity: number; representative: boolean }> {
    const { objectClass } = sighting;
    if (this.gallery.classSize(objectClass) <= FULL_PASS_MAX) {
      const { ids, similarities } = this.gallery.similarities(objectClass, feature);
      for (let i = 0; i < ids.length; i++) yield { id: ids[i]!, similarity: similarities[i]!, representative: true };
      return;
    }
    const pool = [...this.gallery.recentIdentities(objectClass, sighting.firstSeenAt - 2 * this.options.windowS * 1000)];
    if (pool.length <= POOL_SCORED_MAX) {
      for (const id of pool) yield { id, similarity: this.gallery.similarity(id, feature), representative: true };
      return;
    }
    const shortlisted = new Set<string>();
    for (const hit of this.gallery.search(objectClass, feature, SHORTLIST)) {
      shortlisted.add(hit.id);
      yield { id: hit.id, similarity: hit.similarity, representative: false };
    }
    const stride = Math.ceil(pool.length / SHORTLIST);
    for (let i = 0; i < pool.length; i += stride) {
      const id = pool[i]!;
      if (!shortlisted.has(id)) yield { id, similarity: this.gallery.similarity(id, feature), representative: true };
    }
  }

  /** Candidates whose prototype is within likelySameSimilarity of the best's and never seen beside it. */
  private likelySameAs(best: ScoredCandidate, others: readonly ScoredCandidate[]): Set<ScoredCandidate> {
    const limit = this.options.likelySameSimilarity;
    const same = new Set<ScoredCandidate>();
    if (limit === undefined) return same;
    const prototype = this.gallery.prototype(best.identity.id)!;
    for (const other of others) {
      if (other.identity.watchlist && best.identity.watchlist) continue;
      if (this.gallery.similarity(other.identity.id, prototype) < limit) continue;
      if (!this.gallery.coOccur(best.identity.id, other.identity.id)) same.add(other);
    }
    return same;
  }

  /**
   * A track's first decision: besides the gallery writes, its embedding teaches its camera's
   * mean and its similarities the pair calibration (each track once, in the same transaction).
   */
  private decideNew(sighting: SightingRef, query: Query, options: DecideOptions): MatchDecision {
    const { raw } = query;
    const choice = this.choose(sighting, query, options.isLive);
    const track = { sighting, embedding: raw, ...(query.parts ? { parts: query.parts } : {}) };
    const { chosen } = choice;
    const decidedAt = this.now();
    const eventId = this.newEventId();
    const stored: SightingDecision = {
      eventId,
      outcome: chosen === undefined ? 'new-identity' : chosen.qualification.sameCamera ? 'reappeared' : 'matched',
      ...(chosen?.qualification.via ? { matched: chosen.qualification.via } : {}),
      ...(chosen?.identity.watchlist ? { watchlistLabel: chosen.identity.label ?? chosen.identity.id } : {}),
      ...(chosen ? { similarity: chosen.score, margin: choice.margin! } : {}),
      candidates: choice.candidates.length,
      confidence: choice.confidence,
      highConfidence: choice.highConfidence,
      decidedAt,
    };
    return this.gallery.write((tx) => {
      let identityId =
        chosen === undefined
          ? tx.createIdentity({ ...track, decision: stored }).id
          : tx.attachSighting(chosen.identity.id, { ...track, decision: stored }, { learn: choice.highConfidence }).id;
      const merges = this.mergeLikelySame(tx, identityId, choice, decidedAt);
      if (merges.length > 0) identityId = merges[0]!.kept;
      this.space.observe(sighting.cameraId, raw);
      for (const [cameraId, values] of choice.samples) this.options.calibration?.observe(sighting.cameraId, cameraId, values);
      const decision: MatchDecision = {
        ...stored,
        identityId,
        objectClass: sighting.objectClass,
        sighting,
        ...(merges.length > 0 ? { merges } : {}),
      };
      options.inTransaction?.(decision);
      return decision;
    });
  }

  /** Merges the chosen identity with the candidates the track showed to be the same person. */
  private mergeLikelySame(tx: GalleryTransaction, identityId: string, choice: Choice, at: number): IdentityMerge[] {
    if (choice.sameAsChosen.length === 0) return [];
    const group = [tx.readIdentity(identityId)!, ...choice.sameAsChosen.map((c) => tx.readIdentity(c.identity.id)!)];
    const kept = survivorOf(group);
    const others = group.filter((record) => record !== kept).map((record) => record.id);
    // The evidence: the weakest of the track's scores that joined the group.
    const similarity = Math.min(choice.chosen!.score, ...choice.sameAsChosen.map((c) => c.score));
    return [tx.mergeIdentities(kept.id, others, { similarity, reason: 'online', at })];
  }

  /**
   * A later call for an already decided track: same identity and outcome, sighting and
   * identity brought up to date. The prototype moves at most once per track (at its first
   * decision), except for an identity this track alone created, which follows the track's
   * latest embedding — and which, when an earlier identity now qualifies, is merged into it.
   */
  private update(
    earlier: SightingRecord,
    sighting: SightingRef,
    query: Query,
    options: DecideOptions,
  ): MatchDecision {
    const { raw, feature } = query;
    const decidedAt = this.now();
    const eventId = this.newEventId();
    const alone = this.onlineMerge && earlier.decision.outcome === 'new-identity' && this.gallery.identity(earlier.identityId)?.count === 1;
    const late = alone ? this.choose(sighting, query, options.isLive, earlier.identityId) : undefined;
    return this.gallery.write((tx) => {
      let identity = tx.updateSighting(earlier, { sighting, embedding: raw, ...(query.parts ? { parts: query.parts } : {}) });
      const { eventId: updateOf, ...first } = earlier.decision;
      let decision: MatchDecision;
      if (late?.chosen !== undefined) {
        // The track's identity of its own is one the gallery already had: fold it in, as news.
        const { chosen } = late;
        const group = [tx.readIdentity(chosen.identity.id)!, identity, ...late.sameAsChosen.map((c) => tx.readIdentity(c.identity.id)!)];
        const kept = survivorOf(group);
        const merge = tx.mergeIdentities(kept.id, group.filter((r) => r !== kept).map((r) => r.id), { similarity: chosen.score, reason: 'online', at: decidedAt });
        identity = tx.readIdentity(kept.id)!;
        decision = {
          eventId,
          updateOf,
          lateMatch: true,
          outcome: chosen.qualification.sameCamera ? 'reappeared' : 'matched',
          identityId: identity.id,
          objectClass: sighting.objectClass,
          sighting,
          ...(chosen.qualification.via ? { matched: chosen.qualification.via } : {}),
          ...(identity.watchlist ? { watchlistLabel: identity.label ?? identity.id } : {}),
          similarity: chosen.score,
          margin: late.margin!,
          candidates: late.candidates.length,
          confidence: late.confidence,
          highConfidence: late.highConfidence,
          decidedAt,
          merges: [merge],
        };
      } else {
        decision = {
          ...first,
          eventId,
          updateOf,
          identityId: identity.id,
          objectClass: sighting.objectClass,
          sighting,
          ...(first.outcome === 'new-identity' ? {} : { similarity: dot(feature, normalised(this.space.projectAppearance(identity.appearance))) }),
          decidedAt,
        };
      }
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
