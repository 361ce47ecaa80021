/**
 * From a validated config to running vision models: the one place that maps config
 * sections onto stage options, shared by `run`, `process` and the evaluations.
 */
import { environmentIssues } from '../config/environment.js';
import { ConfigError, formatConfigIssues } from '../config/issues.js';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig, parseConfig } from '../config/load.js';
import type { CameraConfig, CrosscamConfig, RuntimeConfig, TrackConfig } from '../config/schema.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import { OperatorError } from '../core/operator-error.js';
import { openDetector, type Detector } from '../detect/detector.js';
import type { ColourNormaliser } from '../colour/camera-colour.js';
import { Embedder } from '../embed/embedder.js';
import type { DetectorModelEntry, ModelEntry, ReidModelEntry } from '../models/catalog-schema.js';
import { loadModelCatalog, resolveModelsDir, type ModelCatalog } from '../models/catalog.js';
import { loadCatalogModel } from '../runtime/catalog-model.js';
import type { ExecutionProviderName, ExecutionProviderRequest, ModelInferenceObserver } from '../runtime/inference-session.js';
import type { ByteTrackerOptions } from '../track/tracker.js';
import type { CameraPipelineOptions } from './camera-pipeline.js';
import type { ObjectClass } from '../core/types.js';
import os from 'node:os';
import { InferencePool } from '../scheduler/inference-pool.js';

export interface LoadedConfig {
  config: CrosscamConfig;
  catalog: ModelCatalog;
}

/**
 * Reads and validates a config file and the model catalog it names; throws ConfigError listing
 * every problem. `text`: the config's content when the caller composed it (`file` then only names it).
 */
export async function loadConfigWithCatalog(file: string, text?: string): Promise<LoadedConfig> {
  let catalog: ModelCatalog | undefined;
  const config = await loadConfig(file, {
    ...(text !== undefined ? { text } : {}),
    loadKnownModels: async (models) => {
      catalog = await loadModelCatalog(models.catalog === undefined ? {} : { extraCatalogPath: models.catalog });
      return catalog.models;
    },
  });
  return { config, catalog: catalog ?? (await loadModelCatalog()) };
}

/** As loadConfigWithCatalog, with the problems as one operator error (exit 78). */
export async function readConfigFile(file: string, text?: string): Promise<LoadedConfig> {
  try {
    return await loadConfigWithCatalog(file, text);
  } catch (error) {
    if (error instanceof ConfigError) throw new OperatorError(`invalid config file ${file}:\n${formatConfigIssues(error.issues)}`, ExitCode.CONFIG);
    throw error;
  }
}

/** What `run` needs of this machine (environmentIssues), as one operator error (exit 78) naming each key. */
export function assertStartupEnvironment(file: string, config: CrosscamConfig): void {
  const issues = environmentIssues(config);
  if (issues.length > 0) throw new OperatorError(`config file ${file} cannot run on this machine:\n${formatConfigIssues(issues)}`, ExitCode.CONFIG);
}

/**
 * The config file when one is given; otherwise the built-in defaults with the video as
 * the only camera (offline commands work without writing a config first).
 */
export async function readConfigOrDefaults(file: string | undefined, video: string): Promise<LoadedConfig> {
  if (file !== undefined) return readConfigFile(file);
  const catalog = await loadModelCatalog();
  const result = parseConfig(stringifyYaml({ cameras: [{ id: 'video', url: video }] }), { knownModels: catalog.models });
  if (!result.ok) throw new OperatorError(`cannot use ${video} as a camera:\n${formatConfigIssues(result.issues)}`, ExitCode.USAGE);
  return { config: result.config, catalog };
}

/** The camera an offline command works on: the named one, else the first enabled one. */
export function selectCamera(config: CrosscamConfig, id: string | undefined): CameraConfig {
  const camera = id === undefined ? config.cameras.find((c) => c.enabled) : config.cameras.find((c) => c.id === id);
  if (!camera) {
    throw new OperatorError(
      id === undefined ? 'the config has no enabled camera' : `no camera '${id}' in the config (cameras: ${config.cameras.map((c) => c.id).join(', ')})`,
      ExitCode.USAGE,
    );
  }
  return camera;
}

export function providerRequests(runtime: RuntimeConfig): ExecutionProviderRequest[] {
  return runtime.providers.map((provider): ExecutionProviderRequest => {
    switch (provider.name) {
      case 'tensorrt':
        return { name: 'tensorrt', deviceId: provider.device_id, fp16: provider.fp16, engineCacheDir: provider.engine_cache_dir };
      case 'cuda':
        return { name: 'cuda', deviceId: provider.device_id };
      case 'cpu':
        return { name: 'cpu' };
    }
  });
}

export function trackerOptions(track: TrackConfig): Partial<ByteTrackerOptions> {
  return {
    highScore: track.high_score,
    lowScore: track.low_score,
    newTrackScore: track.new_track_score,
    matchIou: track.match_iou,
    confirmHits: track.confirm_hits,
    maxLostSeconds: track.max_lost_s,
  };
}

function catalogEntry<T extends ModelEntry['task']>(catalog: ModelCatalog, id: string, task: T): Extract<ModelEntry, { task: T }> {
  const entry = catalog.models.get(id);
  if (entry?.task !== task) throw new OperatorError(`model ${id} is not a ${task} model of the catalog`, ExitCode.CONFIG);
  return entry as Extract<ModelEntry, { task: T }>;
}

/** What a camera pipeline runs (VisionModels, or stand-ins in tests). */
export type PipelineModels = Pick<CameraPipelineOptions, 'detector' | 'embedders'>;

/** Stage options of one camera's pipeline, from its config section and the shared sections. */
export function cameraPipelineOptions(
  config: CrosscamConfig,
  camera: CameraConfig,
  models: PipelineModels,
  shared: { colour?: ColourNormaliser | undefined } = {},
): CameraPipelineOptions {
  return {
    ...(shared.colour ? { colour: shared.colour } : {}),
    cameraId: camera.id,
    ...(camera.camera_index !== undefined ? { cameraIndex: camera.camera_index } : {}),
    detector: models.detector,
    embedders: models.embedders,
    filter: {
      classes: camera.detect.classes,
      minScore: camera.detect.min_score,
      minBoxHeight: camera.detect.min_box_height,
      masks: camera.masks,
    },
    tracker: trackerOptions(config.track),
    bestCrops: config.embed.best_crops,
    minCropQuality: config.embed.min_quality,
    minCropIntervalS: config.embed.min_interval_s,
  };
}

export interface VisionModels {
  detector: Pick<Detector, 'detect' | 'setOutputFilter'>;
  /** Re-ID embedder of each class that has a model; other classes are tracked but not re-identified. */
  embedders: Partial<Record<ObjectClass, Pick<Embedder, 'embed'>>>;
  /** Provider each network runs on, for status reporting. */
  providers: Record<string, ExecutionProviderName>;
  release(): Promise<void>;
}

/** The models opened in the calling thread. */
export interface InProcessVisionModels extends VisionModels {
  detector: Detector;
  embedders: Partial<Record<ObjectClass, Embedder>>;
}

export interface OpenVisionModelsOptions extends LoadedConfig {
  logger: Logger;
  /** Overrides config models.dir (CLI flag). */
  modelsDir?: string;
  /** Told each network run's duration with the model's id and provider (metrics). */
  onInference?: ModelInferenceObserver;
}

/**
 * What the shared detector keeps of its output: per-camera tuning is applied after
 * detection, so the network keeps the union of the cameras' classes from the lowest score.
 */
export function detectorOutputFilter(cameras: readonly CameraConfig[]): { classes: ObjectClass[]; minScore: number } {
  return {
    classes: [...new Set(cameras.flatMap((camera) => camera.detect.classes))],
    minScore: Math.min(...cameras.map((camera) => camera.detect.min_score)),
  };
}

/** runtime.inference_workers as a count: 'auto' is one per core, at most 4. */
export function inferenceWorkerCount(runtime: RuntimeConfig): number {
  return runtime.inference_workers === 'auto' ? Math.min(os.availableParallelism(), 4) : runtime.inference_workers;
}

/** A configured re-ID model and the classes it serves. */
export interface ConfiguredReidModel {
  role: 'person' | 'vehicle';
  entry: ReidModelEntry;
  classes: ObjectClass[];
}

/**
 * The configured re-ID models and the classes each serves: its catalog entry says which classes
 * it serves, and the person model keeps people if both claim them.
 */
export function reidModels(config: Pick<CrosscamConfig, 'models'>, catalog: ModelCatalog): ConfiguredReidModel[] {
  const served = new Set<ObjectClass>();
  const models: ConfiguredReidModel[] = [];
  for (const [role, id] of [['person', config.models.reid.person], ['vehicle', config.models.reid.vehicle]] as const) {
    if (id === undefined) continue;
    const entry: ReidModelEntry = catalogEntry(catalog, id, 'reid');
    const classes = entry.reid.objectClasses.filter((objectClass) => !served.has(objectClass));
    classes.forEach((objectClass) => served.add(objectClass));
    models.push({ role, entry, classes });
  }
  return models;
}

/**
 * Loads the detector and the re-ID models the config names, each on its best available
 * provider: in runtime.inference_workers worker threads (the shared inference scheduler),
 * or in this thread when that is 0.
 */
export async function openVisionModels(options: OpenVisionModelsOptions & { workers?: number }): Promise<VisionModels> {
  const workers = options.workers ?? inferenceWorkerCount(options.config.runtime);
  if (workers === 0) return openInProcessVisionModels(options);
  const pool = await InferencePool.open({ ...options, workers, batchSize: options.config.embed.batch_size, logLevel: options.logger.level });
  return pool.visionModels();
}

/** Loads the models in this thread (an inference worker, or runtime.inference_workers 0). */
export async function openInProcessVisionModels(options: OpenVisionModelsOptions): Promise<InProcessVisionModels> {
  const { config, catalog, logger } = options;
  const modelsDir = resolveModelsDir(options.modelsDir ?? config.models.dir);
  const providers = providerRequests(config.runtime);
  const threads = { intraOpThreads: config.runtime.intra_op_threads, interOpThreads: config.runtime.inter_op_threads };
  const detectorEntry: DetectorModelEntry = catalogEntry(catalog, config.models.detector, 'detector');
  const { classes, minScore } = detectorOutputFilter(config.cameras);
  const detector = await openDetector({
    entry: detectorEntry,
    modelsDir,
    providers,
    classes,
    logger,
    intraOpThreads: threads.intraOpThreads,
    minScore,
    nmsIou: config.detect.nms_iou,
    minBoxHeight: 0,
    ...(options.onInference ? { onInference: options.onInference } : {}),
  });
  const used: Record<string, ExecutionProviderName> = { [detectorEntry.id]: detector.provider };
  const embedders: Partial<Record<ObjectClass, Embedder>> = {};
  const opened: Embedder[] = [];
  try {
    for (const { role, entry, classes: served } of reidModels(config, catalog)) {
      const loaded = await loadCatalogModel({ entry, modelsDir, providers, logger, ...threads });
      const { onInference } = options;
      const embedder = await Embedder.create({
        entry,
        session: loaded.session,
        batchSize: config.embed.batch_size,
        colourTables: config.features.colour_normalisation.enabled,
        ...(onInference ? { onInference: (seconds: number, items: number) => onInference(entry.id, loaded.provider, seconds, items) } : {}),
      });
      opened.push(embedder);
      used[entry.id] = loaded.provider;
      for (const objectClass of served) embedders[objectClass] = embedder;
      logger.debug({ model: entry.id, role, classes: served }, 're-ID model loaded');
    }
  } catch (error) {
    await detector.release();
    await Promise.all(opened.map((embedder) => embedder.release()));
    throw error;
  }
  const unmatched = classes.filter((objectClass) => embedders[objectClass] === undefined);
  if (unmatched.length > 0) {
    logger.info(
      { classes: unmatched },
      `${unmatched.join(', ')}: detected, tracked and reported on sightings, not re-identified nor matched across cameras (no re-ID model for them; set models.reid.vehicle for vehicles)`,
    );
  }
  return {
    detector,
    embedders,
    providers: used,
    async release() {
      await detector.release();
      await Promise.all(opened.map((embedder) => embedder.release()));
    },
  };
}
