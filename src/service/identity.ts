/**
 * The identity stage as the daemon runs it, from its config sections: the matching space
 * (camera centring), the gallery in the state store, the matcher and the stage that feeds it
 * track events. The one place these config sections are read: the offline cross-camera
 * evaluation and the gallery commands build them with the same functions, so they see the
 * daemon's own decisions and space.
 */
import type { CrosscamConfig, FeaturesConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { RootDatabase } from '../core/state-store.js';
import { OBJECT_CLASSES, type ObjectClass } from '../core/types.js';
import { CameraCentring } from '../features/camera-centring.js';
import { FeatureSpace } from '../features/feature-space.js';
import { ScoreCalibration } from '../features/score-calibration.js';
import { Gallery } from '../gallery/gallery.js';
import { DEFAULT_ANN_SETTINGS } from '../search/ann-index.js';
import { Matcher, type MatcherOptions } from '../match/matcher.js';
import type { DaemonEvents } from './daemon-events.js';
import type { EventBus } from './event-bus.js';
import type { MatchDecision } from '../match/decision.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';
import { StorageGuard } from '../storage/storage-guard.js';
import { MatchStage } from './match-stage.js';
import { reidModels, type LoadedConfig } from '../pipeline/setup.js';

/** A camera's mean moves this far (L2, unit embeddings) before the gallery is re-projected. */
const REPUBLISH_DISTANCE = 0.02;

export interface IdentityStageDeps {
  store: RootDatabase;
  bus: EventBus<DaemonEvents>;
  logger: Logger;
  /** Wall clock of decisions, ms since epoch (default Date.now; the evaluation runs on media time). */
  now?: () => number;
  /** Writes the message announcing a decision inside its transaction (the publish stage). */
  announce?: (decision: MatchDecision) => void;
  /** Enforce the gallery's size limit and survive a full disk (the daemon; config gallery.path and map_size_mb). */
  storage?: { snapshots?: Pick<SnapshotStore, 'remove'> };
}

export interface IdentityStage {
  space: FeatureSpace;
  /** Undefined when features.pair_calibration is off. */
  calibration: ScoreCalibration | undefined;
  gallery: Gallery;
  matcher: Matcher;
  matchStage: MatchStage;
  storage: StorageGuard | undefined;
}

/**
 * The matching space and the gallery in it, from the config (the camera statistics are read
 * from the store). With a logger (a long-running process) large classes get their HNSW graph,
 * built in the background and logged; without (a CLI command) the int8 scan serves, as a
 * background build would only keep the command alive.
 */
export function openGallery(
  config: Pick<CrosscamConfig, 'features' | 'gallery' | 'matching'>,
  store: RootDatabase,
  logger?: Logger,
): { space: FeatureSpace; gallery: Gallery } {
  const space = new FeatureSpace({ centring: openCameraCentring(config.features, store), republishDistance: REPUBLISH_DISTANCE });
  const gallery = new Gallery({
    store,
    space,
    exemplarsPerIdentity: config.gallery.exemplars_per_identity,
    momentum: config.matching.momentum,
    retention: { sightingsDays: config.gallery.retention.sightings_days, identitiesDays: config.gallery.retention.identities_days },
    ...(logger && config.gallery.search.ann_from !== null
      ? {
          search: {
            annFrom: config.gallery.search.ann_from,
            ann: { ...DEFAULT_ANN_SETTINGS, subspaceDimension: config.gallery.search.graph_dimensions ?? Number.POSITIVE_INFINITY },
            onAnnBuilt: (objectClass, { vectors, seconds, subspace }) =>
              logger.info(
                { objectClass, vectors, seconds, subspace },
                `gallery search: ${objectClass} graph built over ${vectors} identities in ${seconds.toFixed(1)} s` +
                  (subspace ? ` in their ${subspace.dimension} principal dimensions (${(subspace.varianceKept * 100).toFixed(1)} % of the energy)` : ''),
              ),
            onAnnFailed: (objectClass, error) =>
              logger.error({ objectClass, err: error }, `gallery search: ${objectClass} graph could not be built, the int8 scan keeps serving: ${error.message}`),
          },
        }
      : {}),
  });
  return { space, gallery };
}

/** The camera statistics in `store`, with the config's camera_centring settings. */
export function openCameraCentring(features: FeaturesConfig, store: RootDatabase): CameraCentring {
  const centring = features.camera_centring;
  return new CameraCentring({
    store,
    enabled: centring.enabled,
    warmupTracks: centring.warmup_tracks,
    siteWarmupTracks: centring.site_warmup_tracks,
    windowTracks: centring.window_tracks,
    clip: centring.clip,
  });
}

/** The camera-pair score calibration in `store`, undefined when the config turns it off. */
function openScoreCalibration(features: FeaturesConfig, store: RootDatabase): ScoreCalibration | undefined {
  const calibration = features.pair_calibration;
  return calibration.enabled ? new ScoreCalibration({ store, enabled: true, window: calibration.window, minSamples: calibration.min_samples }) : undefined;
}

function matcherOptions(config: Pick<CrosscamConfig, 'matching' | 'topology'>, gallery: Gallery, calibration: ScoreCalibration | undefined): MatcherOptions {
  const { matching } = config;
  return {
    gallery,
    ...(calibration ? { calibration } : {}),
    classes: Object.fromEntries(
      OBJECT_CLASSES.map((objectClass) => [objectClass, { threshold: matching.classes[objectClass].threshold, minMargin: matching.classes[objectClass].min_margin }]),
    ) as MatcherOptions['classes'],
    windowS: matching.window_s,
    sameCamera: { enabled: matching.same_camera.enabled, minGapS: matching.same_camera.min_gap_s },
    minTrackQuality: matching.min_track_quality,
    temperature: matching.temperature,
    highConfidenceEntropy: matching.high_confidence_entropy,
    viewWeight: matching.views.weight,
    viewShortlist: matching.views.shortlist,
    ...(matching.runner_up.skip_likely_same ? { likelySameSimilarity: matching.merge_threshold } : {}),
    onlineMerge: matching.online_merge,
    topology: config.topology.map((link) => ({ from: link.from, to: link.to, minS: link.min_s, maxS: link.max_s, bidirectional: link.bidirectional })),
  };
}

/** The part weight of each class whose re-ID model declares parts (its catalog entry). */
function partWeights(loaded: LoadedConfig): Partial<Record<ObjectClass, number>> {
  const weights: Partial<Record<ObjectClass, number>> = {};
  for (const { entry, classes } of reidModels(loaded.config, loaded.catalog)) {
    const parts = entry.reid.parts;
    if (parts) for (const objectClass of classes) weights[objectClass] = parts.weight;
  }
  return weights;
}

export function createIdentityStage(loaded: LoadedConfig, deps: IdentityStageDeps): IdentityStage {
  const { config } = loaded;
  const { space, gallery } = openGallery(config, deps.store, deps.logger);
  const calibration = openScoreCalibration(config.features, deps.store);
  const matcher = new Matcher({ ...matcherOptions(config, gallery, calibration), partWeights: partWeights(loaded), ...(deps.now ? { now: deps.now } : {}) });
  const storage = deps.storage
    ? new StorageGuard({
        store: deps.store,
        dir: config.gallery.path,
        limitBytes: config.gallery.map_size_mb * 2 ** 20,
        gallery,
        logger: deps.logger,
        ...(deps.storage.snapshots ? { snapshots: deps.storage.snapshots } : {}),
      })
    : undefined;
  const matchStage = new MatchStage({
    bus: deps.bus,
    matcher,
    logger: deps.logger,
    ...(deps.announce ? { announce: deps.announce } : {}),
    ...(storage ? { storage } : {}),
  });
  return { space, calibration, gallery, matcher, matchStage, storage };
}
