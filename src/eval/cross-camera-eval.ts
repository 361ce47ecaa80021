/**
 * `crosscam eval crosscam`: the daemon's own vision and identity stages, offline and as fast
 * as the machine allows, on two virtual cameras cut from one video with MOT ground truth.
 * Frames of both cameras go through their pipelines in lock step on a simulated clock (media
 * time), so a run is deterministic for a given input and config; the decisions are scored
 * against the ground truth (see cross-camera-metrics.ts).
 *
 * The vision stages' output (track events with their embeddings, in order, and where each
 * track was in each frame) can be saved and replayed: the identity stage then runs alone on
 * exactly the same tracks, which is how matcher settings are compared.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import type { ResidualAdapter } from '../adapt/residual-adapter.js';
import type { CrosscamConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { ExitCode } from '../core/exit-codes.js';
import { OperatorError } from '../core/operator-error.js';
import { openStateStore, type RootDatabase } from '../core/state-store.js';
import { openCameraColour, type StoredDistribution } from '../colour/camera-colour.js';
import type { Frame } from '../core/types.js';
import { readFfmpegFrames } from '../ingest/ffmpeg-frames.js';
import type { MatchDecision } from '../match/decision.js';
import { CameraPipeline } from '../pipeline/camera-pipeline.js';
import { cameraPipelineOptions, openVisionModels, readConfigFile, type LoadedConfig, type PipelineModels } from '../pipeline/setup.js';
import { CameraTracks } from '../service/camera-tracks.js';
import type { DaemonEvents, TrackEvent, TrackReadyEvent } from '../service/daemon-events.js';
import { EventBus } from '../service/event-bus.js';
import { createIdentityStage } from '../service/identity.js';
import { assignTracks, identityScores, nearestTrackReference, linkScores, rocAuc, type NearestTrackReference, type TrackObservation, type TrackTruth } from './cross-camera-metrics.js';
import { groupByFrame, type MotRecord } from './mot-ground-truth.js';
import { cameraTruth, peopleSeen, splitCameras, type SplitOptions, type VirtualCamera } from './virtual-cameras.js';

export interface CrossCameraEvalOptions {
  video: string;
  groundTruth: readonly MotRecord[];
  /** The config the evaluation starts from (parsed YAML, before validation); its cameras and gallery path are replaced. */
  baseConfig: Record<string, unknown>;
  /** Name of that config in messages. */
  configName: string;
  split: SplitOptions;
  /** Frames per second processed (default: the config's detect.fps); the video's frames are sampled evenly. */
  fps?: number;
  modelsDir?: string;
  /** The vision models (default: the config's, loaded from the models directory); tests bring stand-ins. */
  models?: PipelineModels;
  /**
   * Transit times (s) between the two cameras, as a site would configure adjacent cameras
   * (topology link, both ways); undefined keeps the base config's topology (none by default).
   */
  transit?: { minS: number; maxS: number };
  /** Also report the nearest-track reference (oracle camera means, final embeddings, best threshold). */
  reference?: boolean;
  /** Write the vision stages' output here. */
  saveTracks?: string;
  /** Skip the vision stages: replay the tracks saved by an earlier run (its video, split and fps apply). */
  fromTracks?: string;
  /** Match through this on-site adapter from the start. */
  adapter?: ResidualAdapter;
  /**
   * Start the cameras' colour normalisation from what an earlier run learnt (a recording saved
   * with `saveTracks`): the steady state of a site, not its first minutes.
   */
  colourFrom?: string;
  logger: Logger;
  onProgress?: (frame: number, lastFrame: number) => void;
}

export interface CrossCameraReport {
  precision: number;
  recall: number;
  f1: number;
  /** ROC AUC of the matcher's similarity over cross-camera pairs of tracks that follow a person. */
  auc: number;
  purity: number;
  fragmentation: number;
  links: number;
  gtLinks: number;
  identities: number;
  gtIdentities: number;
  matches: number;
  correctMatches: number;
  /** Identities merged online (decisions that showed two identities to be one). */
  merges: number;
  /** Pairs behind the AUC: same person / different people. */
  pairs: { positive: number; negative: number };
  /** With `reference`: the nearest-track reference (see nearestTrackReference). */
  reference?: NearestTrackReference;
  /** Every published match with the ground-truth person of each side (null: the track follows nobody). */
  matchList: { identity: string; sighting: string; matched: string; persons: [number | null, number | null]; similarity: number; margin: number; late: boolean; correct: boolean }[];
  /** The final gallery: each identity's tracks (camera#track) with the ground-truth person each follows (null: nobody). */
  identityList: { identity: string; tracks: { track: string; person: number | null }[] }[];
  cameras: { id: string; region: VirtualCamera['region']; filter: string; tracks: number; tracksWithPerson: number; decided: number }[];
  frames: { decoded: number; processed: number; fps: number };
  wallTimeS: number;
}

/** What the vision stages produced, in the order the identity stage saw it. */
export interface TrackRecording {
  format: 'crosscam-tracks/1';
  cameras: VirtualCamera[];
  sourceFps: number;
  step: number;
  decoded: number;
  /** MOT frame numbers processed. */
  processedFrames: number[];
  /** Per camera: where each track was in each processed frame. */
  observations: Record<string, TrackObservation[]>[];
  events: RecordedEvent[];
  /** The cameras' colour distributions at the end of the run (colour normalisation on). */
  colour?: Record<string, StoredDistribution>;
}

type RecordedEvent = { at: number; kind: 'track'; event: TrackEvent } | { at: number; kind: 'trackReady'; event: TrackReadyEvent };

/** The simulated clock's origin: decisions are stamped BASE + media time. */
const CLOCK_BASE_MS = Date.UTC(2026, 0, 1);
/** A person is seen by a camera when at least half of the box is in view for a second of processed frames. */
const SEEN = { minVisible: 0.5, minSeconds: 1 };

const trackKey = (cameraId: string, trackId: number) => `${cameraId}#${trackId}`;

/** Size and frame rate of the video, from its first decoded frame. */
async function probeVideo(video: string): Promise<{ width: number; height: number; fps: number }> {
  let fps = 0;
  for await (const frame of readFfmpegFrames({ url: video, cameraId: 'probe', onStreamInfo: (info) => (fps = info.fps) })) {
    return { width: frame.width, height: frame.height, fps };
  }
  throw new Error(`no frame could be decoded from ${video}`);
}

/** Sets `dotted.key.path` in a parsed YAML object (objects are created on the way). */
export function setConfigValue(config: Record<string, unknown>, keyPath: string, value: unknown): void {
  const keys = keyPath.split('.');
  let node = config;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

/** The evaluation's config: the base with the virtual cameras (people only, as in MOT ground truth) and a private gallery. */
async function evaluationConfig(options: CrossCameraEvalOptions, cameras: readonly VirtualCamera[], galleryDir: string): Promise<LoadedConfig> {
  const raw: Record<string, unknown> = structuredClone(options.baseConfig);
  raw.cameras = cameras.map((camera) => ({
    id: camera.id,
    url: options.video,
    detect: { classes: ['person'] },
    ffmpeg: { filter: camera.filter },
    file: { realtime: false, loop: false },
  }));
  if (options.transit) raw.topology = [{ from: cameras[0]!.id, to: cameras[1]!.id, min_s: options.transit.minS, max_s: options.transit.maxS, bidirectional: true }];
  setConfigValue(raw, 'gallery.path', galleryDir);
  setConfigValue(raw, 'mqtt.embedded_broker.enabled', false);
  return readConfigFile(options.configName, stringifyYaml(raw));
}

/**
 * Both cameras' frames through their pipelines in lock step; every track event reaches the
 * bus at once (the identity stage decides as the daemon would) and is recorded.
 */
async function runVision(
  options: CrossCameraEvalOptions,
  loaded: LoadedConfig,
  cameras: VirtualCamera[],
  source: { fps: number },
  bus: EventBus<DaemonEvents>,
  clock: { now: number },
  store: RootDatabase,
): Promise<TrackRecording> {
  const { config } = loaded;
  const colour = openCameraColour(config.features.colour_normalisation, store);
  if (options.colourFrom !== undefined) {
    if (!colour) throw new OperatorError('--colour-from needs features.colour_normalisation.enabled=true', ExitCode.USAGE);
    const earlier = await loadRecording(options.colourFrom);
    if (!earlier.colour) throw new OperatorError(`${options.colourFrom} holds no colour distributions (saved with colour normalisation off)`, ExitCode.USAGE);
    colour.restore(earlier.colour);
  }
  const step = Math.max(1, Math.round(source.fps / (options.fps ?? config.detect.fps)));
  const recording: TrackRecording = {
    format: 'crosscam-tracks/1',
    cameras,
    sourceFps: source.fps,
    step,
    decoded: 0,
    processedFrames: [],
    observations: cameras.map(() => ({})),
    events: [],
  };
  const stopRecording = [
    bus.on('track', 'eval-record', (event) => recording.events.push({ at: clock.now, kind: 'track', event })),
    bus.on('trackReady', 'eval-record', (event) => recording.events.push({ at: clock.now, kind: 'trackReady', event })),
  ];
  const opened = options.models ? undefined : await openVisionModels({ ...loaded, logger: options.logger, ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}) });
  const models = options.models ?? opened!;
  const lastGtFrame = Math.max(0, ...options.groundTruth.map((r) => r.frame));
  try {
    const runs = cameras.map((camera) => ({
      camera,
      tracks: new CameraTracks({
        pipeline: new CameraPipeline(cameraPipelineOptions(config, config.cameras.find((c) => c.id === camera.id)!, models, { colour })),
        bus,
        zones: [],
        updateIntervalS: config.track.update_interval_s,
        ...(config.matching.decide_early ? { readyAfterCrops: config.embed.best_crops } : {}),
        now: () => clock.now,
      }),
      frames: readFfmpegFrames({ url: options.video, cameraId: camera.id, filter: camera.filter, ...(config.ffmpeg.path ? { ffmpegPath: config.ffmpeg.path } : {}) }),
    }));
    try {
      for (let index = 0; ; index++) {
        const next = await Promise.all(runs.map((run) => run.frames.next()));
        if (next.some((result) => result.done)) break;
        recording.decoded += 1;
        options.onProgress?.(index + 1, Math.max(lastGtFrame, index + 1));
        if (index % step !== 0) continue;
        recording.processedFrames.push(index + 1);
        for (const [i, run] of runs.entries()) {
          const frame = next[i]!.value as Frame;
          clock.now = CLOCK_BASE_MS + frame.pts * 1000;
          // As the daemon sees a camera at detect.fps: consecutive indices (the tracker's motion
          // model steps by index), media time of the source.
          const result = await run.tracks.process({ ...frame, index: recording.processedFrames.length - 1, receivedAt: clock.now });
          const observed = recording.observations[i]!;
          for (const track of [...result.started, ...result.updated]) {
            (observed[trackKey(run.camera.id, track.trackId)] ??= []).push({ frame: index + 1, box: track.box });
          }
        }
      }
      for (const run of runs) run.tracks.finish();
      if (colour) recording.colour = colour.snapshot();
    } finally {
      await Promise.all(runs.map((run) => run.frames.return(undefined)));
    }
  } finally {
    stopRecording.forEach((off) => off());
    await opened?.release();
  }
  return recording;
}

/** Feeds recorded track events to the bus in their order, on their clock (early-decision events only if the config decides early). */
function replay(recording: TrackRecording, config: CrosscamConfig, bus: EventBus<DaemonEvents>, clock: { now: number }): void {
  for (const entry of recording.events) {
    clock.now = entry.at;
    if (entry.kind === 'track') bus.emit('track', entry.event);
    else if (config.matching.decide_early) bus.emit('trackReady', entry.event);
  }
}

export async function saveRecording(file: string, recording: TrackRecording): Promise<void> {
  await writeFile(file, JSON.stringify(recording, (_key, value: unknown) => (value instanceof Float32Array ? Array.from(value) : value)));
}

export async function loadRecording(file: string): Promise<TrackRecording> {
  const recording = JSON.parse(await readFile(file, 'utf8')) as TrackRecording;
  if (recording.format !== 'crosscam-tracks/1') throw new Error(`${file} is not a crosscam track recording`);
  const floats = (values: Float32Array) => Float32Array.from(values as unknown as number[]);
  for (const { event } of recording.events) {
    if (event.embedding) event.embedding = floats(event.embedding);
    if ('parts' in event && event.parts) event.parts = { features: floats(event.parts.features), visibility: floats(event.parts.visibility) };
    if ('halves' in event && event.halves) event.halves = event.halves.map(floats) as [Float32Array, Float32Array];
  }
  return recording;
}

export async function runCrossCameraEvaluation(options: CrossCameraEvalOptions): Promise<CrossCameraReport> {
  const started = performance.now();
  if (options.fromTracks !== undefined && options.colourFrom !== undefined) {
    throw new OperatorError('--colour-from applies to the vision stages, which --from-tracks skips', ExitCode.USAGE);
  }
  const saved = options.fromTracks !== undefined ? await loadRecording(options.fromTracks) : undefined;
  const probed = saved ? undefined : await probeVideo(options.video);
  const source = { fps: saved?.sourceFps ?? probed!.fps };
  const cameras = saved?.cameras ?? splitCameras(probed!, options.split);
  const galleryDir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-eval-'));
  try {
    const loaded = await evaluationConfig(options, cameras, galleryDir);
    const store = openStateStore({ path: galleryDir, mapSizeMb: loaded.config.gallery.map_size_mb });
    const clock = { now: CLOCK_BASE_MS };
    const bus = new EventBus<DaemonEvents>(options.logger);
    const identity = createIdentityStage(loaded, { store, bus, logger: options.logger, now: () => clock.now });
    if (options.adapter) identity.space.useAdapter(options.adapter);
    const decisions: MatchDecision[] = [];
    let merges = 0;
    bus.on('decision', 'eval', (decision) => decisions.push(decision));
    bus.on('identitiesMerged', 'eval', (merge) => (merges += merge.merged.length));
    identity.matchStage.start();
    try {
      let recording = saved;
      if (recording) replay(recording, loaded.config, bus, clock);
      else recording = await runVision(options, loaded, cameras, source, bus, clock, store);
      if (options.saveTracks !== undefined) await saveRecording(options.saveTracks, recording);
      return {
        ...score(recording, options.groundTruth, decisions, identity, loaded.config, options.reference ? (options.transit ?? null) : undefined),
        merges,
        wallTimeS: (performance.now() - started) / 1000,
      };
    } finally {
      identity.matchStage.stop();
      identity.gallery.close();
      await store.close();
    }
  } finally {
    await rm(galleryDir, { recursive: true, force: true });
  }
}

/** The report's figures from the run's tracks, decisions and final gallery. */
function score(
  recording: TrackRecording,
  groundTruth: readonly MotRecord[],
  decisions: readonly MatchDecision[],
  identity: ReturnType<typeof createIdentityStage>,
  config: CrosscamConfig,
  /** Compute the nearest-track reference, with this transit window (null: none); undefined: none. */
  referenceTransit?: { minS: number; maxS: number } | null,
): Omit<CrossCameraReport, 'merges' | 'wallTimeS'> {
  const { cameras } = recording;
  // Ground truth as each camera sees it, and the person each track follows.
  const gtByFrame = groupByFrame(groundTruth.filter((r) => r.consider));
  const truths = cameras.map((camera) => cameraTruth(gtByFrame, camera.region));
  const trackTruth = new Map<string, TrackTruth>();
  truths.forEach((truth, i) => assignTracks(new Map(Object.entries(recording.observations[i]!)), truth).forEach((value, key) => trackTruth.set(key, value)));
  const personOf = (cameraId: string, trackId: number) => trackTruth.get(trackKey(cameraId, trackId))?.person ?? null;
  const minFrames = Math.max(1, Math.round(SEEN.minSeconds * (recording.sourceFps / recording.step)));
  const seen = truths.map((truth) => peopleSeen(truth, recording.processedFrames, { minVisible: SEEN.minVisible, minFrames }));
  const seenOnBoth = new Set([...seen[0]!].filter((id) => seen[1]!.has(id)));

  const published = decisions.filter((d) => d.outcome === 'matched' && d.matched !== undefined);
  const links = linkScores(
    published.map((d) => ({ sighting: personOf(d.sighting.cameraId, d.sighting.trackId), matched: personOf(d.matched!.cameraId, d.matched!.trackId) })),
    seenOnBoth,
  );

  // Every cross-camera pair of ended tracks that follow a person, scored as the matcher sees them now.
  const endedAll = recording.events
    .filter((e): e is { at: number; kind: 'track'; event: TrackEvent } => e.kind === 'track' && e.event.type === 'end' && e.event.embedding !== undefined)
    .map(({ event }) => ({
      cameraId: event.sighting.cameraId,
      embedding: event.embedding!,
      ...(event.parts ? { parts: event.parts } : {}),
      person: personOf(event.sighting.cameraId, event.sighting.trackId),
      firstSeenAt: event.sighting.firstSeenAt,
      lastSeenAt: event.sighting.lastSeenAt,
      quality: event.sighting.quality,
    }));
  const ended = endedAll.filter((track) => track.person !== null);
  const positives: number[] = [];
  const negatives: number[] = [];
  for (const a of ended.filter((t) => t.cameraId === cameras[0]!.id)) {
    for (const b of ended.filter((t) => t.cameraId === cameras[1]!.id)) {
      (a.person === b.person ? positives : negatives).push(identity.matcher.trackSimilarity('person', a, b));
    }
  }

  const finalIdentity = new Map<string, string>();
  for (const sighting of identity.gallery.sightingRecords()) finalIdentity.set(trackKey(sighting.cameraId, sighting.trackId), sighting.identityId);
  const assigned = [...finalIdentity]
    .map(([key, id]) => ({ identity: id, person: trackTruth.get(key)?.person ?? null }))
    .filter((entry): entry is { identity: string; person: number } => entry.person !== null);
  const identities = identityScores(assigned);
  const tracksByIdentity = new Map<string, string[]>();
  for (const [key, id] of finalIdentity) tracksByIdentity.set(id, [...(tracksByIdentity.get(id) ?? []), key]);
  return {
    precision: links.precision,
    recall: links.recall,
    f1: links.f1,
    auc: rocAuc(positives, negatives),
    purity: identities.purity,
    fragmentation: identities.fragmentation,
    links: links.links,
    gtLinks: links.gtLinks,
    identities: identities.identities,
    gtIdentities: identities.gtIdentities,
    matches: links.matches,
    correctMatches: links.correct,
    pairs: { positive: positives.length, negative: negatives.length },
    ...(referenceTransit !== undefined
      ? { reference: nearestTrackReference(endedAll.filter((t) => t.quality >= config.matching.min_track_quality), seenOnBoth, referenceTransit ?? undefined) }
      : {}),
    matchList: published.map((d) => {
      const persons: [number | null, number | null] = [personOf(d.sighting.cameraId, d.sighting.trackId), personOf(d.matched!.cameraId, d.matched!.trackId)];
      return {
        identity: d.identityId,
        sighting: trackKey(d.sighting.cameraId, d.sighting.trackId),
        matched: trackKey(d.matched!.cameraId, d.matched!.trackId),
        persons,
        similarity: d.similarity ?? NaN,
        margin: d.margin ?? NaN,
        late: d.lateMatch === true,
        correct: persons[0] !== null && persons[0] === persons[1],
      };
    }),
    identityList: [...tracksByIdentity].map(([id, keys]) => ({ identity: id, tracks: keys.map((key) => ({ track: key, person: trackTruth.get(key)?.person ?? null })) })),
    cameras: cameras.map((camera, i) => {
      const keys = Object.keys(recording.observations[i]!);
      return {
        id: camera.id,
        region: camera.region,
        filter: camera.filter,
        tracks: keys.length,
        tracksWithPerson: keys.filter((key) => trackTruth.get(key)?.person != null).length,
        decided: keys.filter((key) => finalIdentity.has(key)).length,
      };
    }),
    frames: { decoded: recording.decoded, processed: recording.processedFrames.length, fps: recording.sourceFps / recording.step },
  };
}
