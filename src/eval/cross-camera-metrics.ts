/**
 * Figures of the cross-camera evaluation (`crosscam eval crosscam`), each a pure function:
 * tracks mapped to ground-truth people by IoU over their frames, person-level precision and
 * recall of published matches, the ROC AUC of a pair score, and identity purity and
 * fragmentation of the gallery.
 */
import type { Box } from '../core/geometry.js';
import { matchBoxesByIou } from './mot-matching.js';

/** Where a track was in one frame (camera pixels), by MOT frame number. */
export interface TrackObservation {
  frame: number;
  box: Box;
}

export interface TrackTruth {
  /** Ground-truth person the track follows, null when no person holds `minShare` of its frames. */
  person: number | null;
  /** Share of the track's frames matched to that person (or to its most frequent one). */
  share: number;
  frames: number;
}

export interface TrackAssignmentOptions {
  /** Default 0.5. */
  minIou?: number;
  /** Default 0.5. */
  minShare?: number;
}

/**
 * Maps each track of one camera to the ground-truth person it follows: in every frame, tracks
 * and ground-truth boxes are paired one to one (optimal IoU matching, IoU ≥ minIou); a track
 * belongs to the person it was paired with most, if that covers at least minShare of its frames.
 */
export function assignTracks<K>(
  tracks: ReadonlyMap<K, readonly TrackObservation[]>,
  truth: ReadonlyMap<number, readonly { id: number; box: Box }[]>,
  options: TrackAssignmentOptions = {},
): Map<K, TrackTruth> {
  const { minIou = 0.5, minShare = 0.5 } = options;
  const byFrame = new Map<number, { key: K; box: Box }[]>();
  for (const [key, observations] of tracks) {
    for (const { frame, box } of observations) {
      let list = byFrame.get(frame);
      if (!list) byFrame.set(frame, (list = []));
      list.push({ key, box });
    }
  }
  const votes = new Map<K, Map<number, number>>();
  for (const [frame, observed] of byFrame) {
    const people = truth.get(frame) ?? [];
    if (people.length === 0) continue;
    for (const pair of matchBoxesByIou(observed.map((o) => o.box), people.map((p) => p.box), minIou)) {
      const key = observed[pair.a]!.key;
      const person = people[pair.b]!.id;
      let counts = votes.get(key);
      if (!counts) votes.set(key, (counts = new Map()));
      counts.set(person, (counts.get(person) ?? 0) + 1);
    }
  }
  const result = new Map<K, TrackTruth>();
  for (const [key, observations] of tracks) {
    let best: [number, number] | undefined;
    for (const entry of votes.get(key) ?? []) if (!best || entry[1] > best[1] || (entry[1] === best[1] && entry[0] < best[0])) best = entry;
    const frames = observations.length;
    const share = best && frames > 0 ? best[1] / frames : 0;
    result.set(key, { person: best && share >= minShare ? best[0] : null, share, frames });
  }
  return result;
}

export interface LinkScores {
  /** Published cross-camera matches. */
  matches: number;
  /** Matches whose two sides follow the same ground-truth person. */
  correct: number;
  /** correct / matches (1 when nothing was published: no wrong claim). */
  precision: number;
  /** Ground-truth people seen on both cameras that a correct match joined. */
  links: number;
  /** Ground-truth people seen on both cameras. */
  gtLinks: number;
  /** links / gtLinks. */
  recall: number;
  f1: number;
}

/**
 * Person-level scores of published matches: a match is correct when both sides map to one
 * ground-truth person (a side mapped to nobody makes it wrong); a person seen on both
 * cameras is linked when a correct match joins two of their tracks.
 */
export function linkScores(matches: readonly { sighting: number | null; matched: number | null }[], seenOnBoth: ReadonlySet<number>): LinkScores {
  const linked = new Set<number>();
  let correct = 0;
  for (const { sighting, matched } of matches) {
    if (sighting === null || sighting !== matched) continue;
    correct += 1;
    if (seenOnBoth.has(sighting)) linked.add(sighting);
  }
  const precision = matches.length === 0 ? 1 : correct / matches.length;
  const recall = seenOnBoth.size === 0 ? 0 : linked.size / seenOnBoth.size;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { matches: matches.length, correct, precision, links: linked.size, gtLinks: seenOnBoth.size, recall, f1 };
}

/**
 * Area under the ROC curve of a score that should rank positives (same person) above
 * negatives: the probability that a random positive outscores a random negative, ties
 * counting one half (Mann–Whitney U / (|P|·|N|)). NaN when either side is empty.
 */
export function rocAuc(positives: readonly number[], negatives: readonly number[]): number {
  if (positives.length === 0 || negatives.length === 0) return NaN;
  const all = [...positives.map((score) => ({ score, positive: true })), ...negatives.map((score) => ({ score, positive: false }))].sort(
    (a, b) => a.score - b.score,
  );
  // Sum of the positives' ranks (1-based, ties take their average rank).
  let rankSum = 0;
  for (let start = 0; start < all.length; ) {
    let end = start;
    while (end + 1 < all.length && all[end + 1]!.score === all[start]!.score) end += 1;
    const averageRank = (start + end) / 2 + 1;
    for (let i = start; i <= end; i++) if (all[i]!.positive) rankSum += averageRank;
    start = end + 1;
  }
  const p = positives.length;
  return (rankSum - (p * (p + 1)) / 2) / (p * negatives.length);
}

export interface IdentityScores {
  /** Σ over identities of their majority person's sightings / all sightings mapped to a person. */
  purity: number;
  /** Mean over ground-truth people of the identities their sightings went to. */
  fragmentation: number;
  /** Identities holding at least one sighting mapped to a person. */
  identities: number;
  /** Ground-truth people with at least one sighting. */
  gtIdentities: number;
}

/** Purity and fragmentation of identity assignments, one entry per sighting mapped to a person. */
export function identityScores(sightings: readonly { identity: string; person: number }[]): IdentityScores {
  const byIdentity = new Map<string, Map<number, number>>();
  const byPerson = new Map<number, Set<string>>();
  for (const { identity, person } of sightings) {
    let counts = byIdentity.get(identity);
    if (!counts) byIdentity.set(identity, (counts = new Map()));
    counts.set(person, (counts.get(person) ?? 0) + 1);
    let identities = byPerson.get(person);
    if (!identities) byPerson.set(person, (identities = new Set()));
    identities.add(identity);
  }
  let majority = 0;
  for (const counts of byIdentity.values()) majority += Math.max(...counts.values());
  let spread = 0;
  for (const identities of byPerson.values()) spread += identities.size;
  return {
    purity: sightings.length === 0 ? 1 : majority / sightings.length,
    fragmentation: byPerson.size === 0 ? 0 : spread / byPerson.size,
    identities: byIdentity.size,
    gtIdentities: byPerson.size,
  };
}

/** An ended track as the reference sees it: its final raw embedding, time span and ground-truth person. */
export interface ReferenceTrack {
  cameraId: string;
  person: number | null;
  embedding: Float32Array;
  firstSeenAt: number;
  lastSeenAt: number;
}

export interface NearestTrackReference {
  /** The best F1 with precision ≥ 0.9 over the grid, with its threshold, margin and scores (undefined: none reaches 0.9). */
  best?: { threshold: number; margin: number; precision: number; recall: number; f1: number };
  /** Cross-camera AUC of the centred final embeddings. */
  auc: number;
}

/**
 * A reference for what the features give, independent of the identity logic: every track is linked to the most
 * similar track of the other camera that ended before it (within the transit window when one
 * is given), when that similarity clears a threshold and leads the second best by a margin,
 * with camera means taken over the whole run (an oracle) and final embeddings. Scanned over a
 * grid of thresholds and margins, reported at the best F1 with precision ≥ 0.9.
 */
export function nearestTrackReference(tracks: readonly ReferenceTrack[], seenOnBoth: ReadonlySet<number>, transit?: { minS: number; maxS: number }): NearestTrackReference {
  const cameras = [...new Set(tracks.map((t) => t.cameraId))];
  const means = new Map(
    cameras.map((camera) => {
      const own = tracks.filter((t) => t.cameraId === camera);
      const mean = new Float32Array(own[0]!.embedding.length);
      for (const t of own) for (let i = 0; i < mean.length; i++) mean[i]! += t.embedding[i]! / own.length;
      return [camera, mean];
    }),
  );
  const features = tracks.map((t) => {
    const mean = means.get(t.cameraId)!;
    const f = t.embedding.map((v, i) => v - mean[i]!);
    const norm = Math.hypot(...f);
    return f.map((v) => v / norm);
  });
  const similarity = (i: number, j: number) => features[i]!.reduce((sum, v, k) => sum + v * features[j]![k]!, 0);
  const candidates = tracks.map((t, i) =>
    tracks
      .map((u, j) => ({ u, j }))
      .filter(({ u }) => u.cameraId !== t.cameraId && u.lastSeenAt <= t.lastSeenAt && u.firstSeenAt < t.firstSeenAt)
      .filter(({ u }) => !transit || (t.firstSeenAt - u.lastSeenAt >= transit.minS * 1000 && t.firstSeenAt - u.lastSeenAt <= transit.maxS * 1000))
      .map(({ j }) => ({ j, s: similarity(i, j) }))
      .sort((a, b) => b.s - a.s),
  );
  let best: NearestTrackReference['best'];
  for (let threshold = 0.1; threshold < 0.951; threshold += 0.05) {
    for (const margin of [0, 0.05, 0.1, 0.15, 0.2]) {
      const links = candidates.flatMap((list, i) => {
        const [first, second] = list;
        if (!first || first.s < threshold || first.s - Math.max(second?.s ?? threshold, threshold) < margin) return [];
        return [{ sighting: tracks[i]!.person, matched: tracks[first.j]!.person }];
      });
      const scores = linkScores(links, seenOnBoth);
      if (scores.precision >= 0.9 && scores.matches > 0 && (!best || scores.f1 > best.f1)) best = { threshold: Number(threshold.toFixed(2)), margin, precision: scores.precision, recall: scores.recall, f1: scores.f1 };
    }
  }
  const positives: number[] = [];
  const negatives: number[] = [];
  tracks.forEach((a, i) =>
    tracks.forEach((b, j) => {
      if (a.cameraId !== cameras[0] || b.cameraId !== cameras[1] || a.person === null || b.person === null) return;
      (a.person === b.person ? positives : negatives).push(similarity(i, j));
    }),
  );
  return { ...(best ? { best } : {}), auc: rocAuc(positives, negatives) };
}
