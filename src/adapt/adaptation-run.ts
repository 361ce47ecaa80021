/**
 * One adaptation run: hold a slice of the site's tracks out, train a candidate adapter on the
 * rest, score candidate and active adapter on the held-out slice, and decide. The caller
 * activates (or not) and keeps the version; nothing here touches the gallery.
 */
import type { AdaptConfig } from '../config/adapt-schema.js';
import { adaptedProjection, beatsActive, holdOut, scoreProjection, type AdapterScore } from './adapter-check.js';
import { adapterDocument, type AdapterDocument } from './adapter-file.js';
import type { ResidualAdapter } from './residual-adapter.js';
import { trainAdapter, trainingOptionsFrom, type AdaptationTrack, type EpochReport } from './trainer.js';

export interface AdaptationOutcome {
  adapter: ResidualAdapter;
  document: AdapterDocument;
  candidate: AdapterScore;
  active: AdapterScore;
  /** Whether the candidate beat the active adapter (none: the plain centred space) by the margin. */
  activate: boolean;
  epochs: EpochReport[];
}

export function runAdaptation(options: {
  tracks: readonly AdaptationTrack[];
  /** The matching space's camera offsets (centring), applied before the adapter when it is judged. */
  offsetOf: (cameraId: string) => Float32Array | undefined;
  /** The adapter in use, if any: the candidate must beat it. */
  active: ResidualAdapter | undefined;
  config: AdaptConfig;
  now: Date;
  onEpoch?: (report: EpochReport) => void;
}): AdaptationOutcome {
  const { training, heldOut } = holdOut(options.tracks, options.config.held_out_every);
  // Trained on the training tracks centred by their own camera means: the matching space's
  // means start shrunk towards the site's (camera_centring.warmup_tracks), and an adapter
  // trained on that residual learns it instead of what centring cannot remove (PETS09 left |
  // right shifted: AUC 0.904 trained on the space's means, 0.916 on the tracks' own).
  const means = cameraMeans(training);
  const { adapter, epochs } = trainAdapter(training, (cameraId) => means.get(cameraId), trainingOptionsFrom(options.config), options.onEpoch);
  const activeProjection = adaptedProjection(options.offsetOf, options.active);
  const pairSimilarity = options.config.clustering.similarity;
  const candidate = scoreProjection(heldOut, adaptedProjection(options.offsetOf, adapter), activeProjection, pairSimilarity);
  const active = scoreProjection(heldOut, activeProjection, activeProjection, pairSimilarity);
  const activate = beatsActive(candidate, active, { margin: options.config.activation.margin, tolerance: options.config.activation.tolerance });
  const document = adapterDocument(adapter, {
    trainedAt: options.now.toISOString(),
    tracks: { training: training.length, heldOut: heldOut.length },
    score: candidate,
    activeScore: active,
  });
  return { adapter, document, candidate, active, activate, epochs };
}

/** Mean raw embedding of each camera's tracks. */
export function cameraMeans(tracks: readonly AdaptationTrack[]): Map<string, Float32Array> {
  const sums = new Map<string, { sum: Float64Array; count: number }>();
  for (const track of tracks) {
    let entry = sums.get(track.cameraId);
    if (!entry) sums.set(track.cameraId, (entry = { sum: new Float64Array(track.embedding.length), count: 0 }));
    entry.count += 1;
    for (let i = 0; i < track.embedding.length; i++) entry.sum[i]! += track.embedding[i]!;
  }
  return new Map([...sums].map(([cameraId, { sum, count }]) => [cameraId, Float32Array.from(sum, (value) => value / count)]));
}
