import { z } from 'zod';
import { OBJECT_CLASSES, type ObjectClass } from '../core/types.js';
import { DEFAULT_MODELS_DIR } from '../models/catalog.js';
import {
  cronExpression,
  filePath,
  identifier,
  mqttTopicLevel,
  seconds,
  text,
  timeZone,
  unit,
  uniqueBy,
  urlWithScheme,
} from './fields.js';
import { adaptSchema } from './adapt-schema.js';
import { httpSchema, snapshotsSchema } from './http-schema.js';
import { mqttSchema } from './mqtt-schema.js';
import { modelReferenceIssues, type KnownModels } from './references.js';
import { DEFAULT_BYTE_TRACKER_OPTIONS as TRACKER_DEFAULTS } from '../track/tracker.js';

/*
 * The whole config file as one zod schema: the contract between the operator's YAML and the
 * daemon. Keys are snake_case, every object is strict (unknown keys are errors), and the
 * output is fully defaulted. Relative paths are kept as written (resolved against the working
 * directory where they are used). Camera-id cross-references (duplicates, topology) are
 * checked beside the schema, by cameraReferenceIssues in parseConfig.
 */

/** What defaults depend on; injected rather than read from globals so parsing is reproducible. */
export interface SchemaContext {
  /** Default node_id. */
  hostname: string;
  /** Source of environment-derived defaults (CROSSCAM_MODELS_DIR). */
  env: Readonly<Record<string, string | undefined>>;
  /** When given, models.* ids must name catalog models of the right task. */
  knownModels?: KnownModels;
}

const DEFAULT_DETECT_CLASSES: readonly ObjectClass[] = ['person', 'car', 'bus', 'truck', 'motorcycle'];
const DEFAULT_CLASS_THRESHOLD: Record<ObjectClass, number> = {
  // Camera-centred cosine similarity, measured with the reference OSNet x0.25 on PETS09
  // (docs/accuracy.md); vehicles have no data here.
  person: 0.4,
  car: 0.7,
  bus: 0.7,
  truck: 0.7,
  motorcycle: 0.7,
  bicycle: 0.7,
};
const DEFAULT_MIN_MARGIN = 0.05;
const CAMERA_URL_SCHEMES = ['rtsp', 'rtsps', 'http', 'https', 'file'];
const modelId = text;

// ---- decoding and the service

const ffmpegSchema = z
  .strictObject({
    path: filePath.optional(),
    // ffmpeg always runs with -loglevel level+info (crosscam reads the stream header it logs at
    // info); this is only the lowest level of ffmpeg's messages forwarded to crosscam's log.
    loglevel: z.enum(['error', 'warning', 'info']).default('error'),
    rtsp_timeout_s: seconds.default(10),
    // Decoder threads per camera (-threads before -i). One: a 720p25 H.264 stream decodes at
    // 30× real time on one core here, and 2 threads cost 16 % more CPU for nothing. 0: ffmpeg's choice.
    threads: z.int().min(0).max(64).default(1),
    stall_timeout_s: seconds.default(20),
    // Restart backoff: the delay doubles after each consecutive failure, up to the maximum; a
    // session that delivered a frame resets it.
    restart_delay_s: seconds.default(10),
    restart_delay_max_s: seconds.default(120),
  })
  .superRefine((ffmpeg, ctx) => {
    if (ffmpeg.restart_delay_max_s < ffmpeg.restart_delay_s) {
      ctx.addIssue({
        code: 'custom',
        path: ['restart_delay_max_s'],
        message: `must be at least restart_delay_s (${ffmpeg.restart_delay_s})`,
      });
    }
  });

const serviceSchema = z.strictObject({
  shutdown_timeout_s: seconds.default(15),
  status_interval_s: seconds.default(10),
});

// ---- detection

const frameSide = z.int().min(16).max(8192);
const detectClasses = uniqueBy(z.array(z.enum(OBJECT_CLASSES)).min(1, 'list at least one class'), (name) => name, 'class');

function sizeTogether(settings: { width?: number; height?: number }, ctx: z.RefinementCtx): void {
  if ((settings.width === undefined) !== (settings.height === undefined)) {
    const missing = settings.width === undefined ? 'width' : 'height';
    ctx.addIssue({ code: 'custom', path: [missing], message: 'set width and height together (or neither, for the source size)' });
  }
}

const detectSchema = z
  .strictObject({
    fps: z.number().gt(0).max(30).default(5),
    width: frameSide.optional(),
    height: frameSide.optional(),
    // Without width/height, ffmpeg shrinks larger frames to fit max_side × max_side (aspect
    // kept): 2× the detector's 416 input leaves re-ID crops twice the detector's resolution,
    // and Node never handles a full 720p/4K frame. 0: the source size.
    max_side: z.union([z.literal(0), frameSide]).default(832),
    min_score: unit.default(0.3),
    nms_iou: unit.default(0.45),
    classes: detectClasses.default([...DEFAULT_DETECT_CLASSES]),
    min_box_height: z.int().min(0).default(0),
  })
  .superRefine(sizeTogether);

const cameraDetectSchema = z
  .strictObject({
    fps: z.number().gt(0).max(30).optional(),
    width: frameSide.optional(),
    height: frameSide.optional(),
    max_side: z.union([z.literal(0), frameSide]).optional(),
    min_score: unit.optional(),
    classes: detectClasses.optional(),
    min_box_height: z.int().min(0).optional(),
  })
  .superRefine(sizeTogether);

// ---- cameras

/** Point [x, y] as fractions of the frame width and height, so polygons survive a resize. */
const point = z.tuple([unit, unit]);
const polygon = z.array(point).min(3, 'a polygon needs at least 3 points');

const cameraSchema = z.strictObject({
  id: identifier,
  name: text.optional(),
  url: urlWithScheme(CAMERA_URL_SCHEMES, true),
  enabled: z.boolean().default(true),
  camera_index: z.int().min(0).optional(),
  detect: cameraDetectSchema.optional(),
  zones: uniqueBy(z.array(z.strictObject({ name: identifier, polygon })), (zone) => zone.name, 'zone name', 'name').default([]),
  masks: z.array(polygon).default([]),
  ffmpeg: z
    .strictObject({
      input_args: z.array(z.string()).default([]),
      filter: text.optional(),
      hwaccel: text.optional(),
    })
    .prefault({}),
  file: z
    .strictObject({
      realtime: z.boolean().default(true),
      loop: z.boolean().default(false),
    })
    .prefault({}),
});

// ---- inference runtime

const executionProvider = z.discriminatedUnion('name', [
  z.strictObject({
    name: z.literal('tensorrt'),
    device_id: z.int().min(0).default(0),
    fp16: z.boolean().default(true),
    engine_cache_dir: filePath.default('/var/lib/crosscam/tensorrt-cache'),
  }),
  z.strictObject({ name: z.literal('cuda'), device_id: z.int().min(0).default(0) }),
  z.strictObject({ name: z.literal('cpu') }),
]);

const runtimeSchema = z.strictObject({
  // A bare name is shorthand for the provider with default settings.
  providers: uniqueBy(
    z
      .array(z.preprocess((entry) => (typeof entry === 'string' ? { name: entry } : entry), executionProvider))
      .min(1, 'list at least one execution provider'),
    (provider) => provider.name,
    'provider',
  ).prefault(['cpu']),
  // Per session. One thread: YOLOX-Nano runs 10.3 ms per frame on one thread and 10.6 ms on
  // two here (with spinning off), so the cores are better spent on parallel workers.
  intra_op_threads: z.int().min(1).default(1),
  inter_op_threads: z.int().min(1).default(1),
  // onnxruntime-node runs a model synchronously on the calling thread: inference in worker
  // threads runs in parallel and leaves the main thread to ingest, track and publish.
  // 'auto': one per core, at most 4; 0: in the main thread.
  inference_workers: z.union([z.literal('auto'), z.int().min(0).max(32)]).default('auto'),
});

// ---- tracking, embedding, matching

const trackSchema = z
  .strictObject({
    high_score: unit.default(TRACKER_DEFAULTS.highScore),
    low_score: unit.default(TRACKER_DEFAULTS.lowScore),
    new_track_score: unit.default(TRACKER_DEFAULTS.newTrackScore),
    match_iou: unit.default(TRACKER_DEFAULTS.matchIou),
    confirm_hits: z.int().min(1).default(TRACKER_DEFAULTS.confirmHits),
    max_lost_s: seconds.default(TRACKER_DEFAULTS.maxLostSeconds),
    update_interval_s: seconds.default(5),
  })
  .superRefine((track, ctx) => {
    if (track.low_score > track.high_score) {
      ctx.addIssue({ code: 'custom', path: ['low_score'], message: `must not exceed high_score (${track.high_score})` });
    }
  });

const embedSchema = z.strictObject({
  batch_size: z.int().min(1).max(64).default(16),
  best_crops: z.int().min(1).max(100).default(5),
  min_quality: unit.default(0.2),
  // 1 s: consecutive frames show one view. On 8 × 720p cameras (2 cores) it took the worst
  // camera from 3.6 to 4.8 fps; on PETS09 left | right F1 0.61 → 0.82, top / bottom 0.42 → 0.39
  // (docs/performance.md, docs/accuracy.md).
  min_interval_s: z.number().min(0).max(60).default(1),
});

const classMatchingSchema = z.strictObject({
  threshold: z.number().min(-1).max(1).optional(),
  min_margin: unit.optional(),
});

export const matchingSchema = z.strictObject({
  window_s: seconds.default(600),
  // Identities enrolled by the `enrol` request: never expire, so their number is capped (per
  // class) and enrolments are rate-limited.
  watchlist: z
    .strictObject({
      max: z.int().min(0).default(1000),
      per_minute: z.int().min(1).default(10),
    })
    .prefault({}),
  same_camera: z
    .strictObject({
      enabled: z.boolean().default(true),
      min_gap_s: z.number().min(0).default(0),
    })
    .prefault({}),
  min_track_quality: unit.default(0.3),
  // Written per class as needed; the output has every class, unset values taken from the defaults.
  classes: z
    .partialRecord(z.enum(OBJECT_CLASSES), classMatchingSchema)
    .prefault({})
    .transform(
      (written) =>
        Object.fromEntries(
          OBJECT_CLASSES.map((objectClass) => [
            objectClass,
            {
              threshold: written[objectClass]?.threshold ?? DEFAULT_CLASS_THRESHOLD[objectClass],
              min_margin: written[objectClass]?.min_margin ?? DEFAULT_MIN_MARGIN,
            },
          ]),
        ) as Record<ObjectClass, { threshold: number; min_margin: number }>,
    ),
  momentum: unit.default(0.9),
  // An identity's score: weight·(best view) + (1 − weight)·(prototype), views rescored for the
  // `shortlist` best prototypes.
  views: z
    .strictObject({
      weight: unit.default(0),
      shortlist: z.int().min(1).max(1000).default(20),
    })
    .prefault({}),
  // Candidates likely to be the best one's own fragment (prototypes ≥ merge_threshold, never seen
  // side by side) are not its runner-up.
  runner_up: z.strictObject({ skip_likely_same: z.boolean().default(true) }).prefault({}),
  // A decision that scores the best identity and its likely fragments over the threshold merges
  // them, and a track's own early identity joins the earlier one its final embedding matches.
  online_merge: z.boolean().default(true),
  // Decision confidence: softmax with temperature τ over the candidates' similarities; a decision
  // whose normalised entropy H/log(n) is at most high_confidence_entropy moves the prototype.
  temperature: z.number().gt(0).default(0.05),
  high_confidence_entropy: unit.default(0.5),
  decide_early: z.boolean().default(false),
  merge_threshold: z.number().min(-1).max(1).default(0.6),
});

const topologyLinkSchema = z
  .strictObject({
    from: identifier,
    to: identifier,
    // Negative when the views overlap: the object appears on "to" before it leaves "from".
    min_s: z.number().default(0),
    max_s: z.number().min(0),
    bidirectional: z.boolean().default(true),
  })
  .superRefine((link, ctx) => {
    if (link.max_s <= link.min_s) {
      ctx.addIssue({ code: 'custom', path: ['max_s'], message: `must be greater than min_s (${link.min_s})` });
    }
    if (link.from === link.to) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: 'must differ from "from" (same-camera returns are set in matching.same_camera)' });
    }
  });

// Camera-aware features: each camera's running mean embedding is subtracted before matching.
export const featuresSchema = z.strictObject({
  camera_centring: z
    .strictObject({
      enabled: z.boolean().default(true),
      warmup_tracks: z.int().min(1).default(10),
      site_warmup_tracks: z.int().min(0).default(10),
      window_tracks: z.int().min(10).default(500),
      clip: z.number().gt(0).default(2.5),
    })
    .prefault({}),
  // Each camera's colours (inside person crops) are mapped onto the site's before re-ID
  // (src/colour/). Off by default: on PETS09 it helped one scene and hurt the other (docs/accuracy.md).
  colour_normalisation: z
    .strictObject({
      enabled: z.boolean().default(false),
      method: z.enum(['histogram', 'affine']).default('histogram'),
      warmup_crops: z.int().min(1).default(100),
      window_crops: z.int().min(10).default(5000),
    })
    .prefault({}),
  // Similarities are compared as (s − m)/(1 − m), m = the camera pair's median between different people.
  pair_calibration: z
    .strictObject({
      enabled: z.boolean().default(true),
      window: z.int().min(10).max(100_000).default(400),
      min_samples: z.int().min(1).default(20),
    })
    .prefault({}),
});

// ---- operator requests (MQTT request/<command>, HTTP POST /api/request/<command>)

export const requestsSchema = z.strictObject({
  // Larger requests are refused unread (an enrolment image in base64 is the largest legitimate one).
  max_request_kb: z.int().min(1).max(262_144).default(10_240),
  // A result larger than this is answered with `response_too_large` (ask for fewer items).
  max_response_kb: z.int().min(1).max(262_144).default(1024),
  // Error messages are cut to this length (a request with 60,000 bad keys got a 709 KB answer).
  max_message_chars: z.int().min(100).default(2000),
});

// ---- storage and schedules (the mqtt section is in mqtt-schema.ts)

export const gallerySchema = z.strictObject({
  path: filePath.default('/var/lib/crosscam/gallery'),
  // The gallery's size limit (enforced by crosscam: lmdb-js grows its map by itself). Above 1 TiB
  // LMDB's reservation of address space can crash the process outright.
  map_size_mb: z.int().min(16).max(1_048_576).default(2048),
  retention: z
    .strictObject({
      sightings_days: seconds.default(30),
      identities_days: seconds.default(90),
    })
    .prefault({}),
  exemplars_per_identity: z.int().min(1).max(1000).default(10),
  search: z
    .strictObject({
      // From this many identities of one class an HNSW graph (built in the background at start
      // and when the class grows past it) answers the matcher's shortlist; null: the int8 scan always.
      ann_from: z.int().min(1000).nullable().default(100_000),
      // The graph holds the prototypes projected on their leading principal directions (the exact
      // rescore stays at full dimension); the build's log line says how much energy they keep.
      // null: the full dimension.
      graph_dimensions: z.int().min(16).nullable().default(48),
    })
    .prefault({}),
});

const schedulesSchema = z.strictObject({
  timezone: timeZone.optional(),
  retention: cronExpression.default('0 3 * * *'),
  recluster: cronExpression.nullable().default('30 3 * * *'),
  // On-site adaptation (the adapt section); null: only on request (crosscam adapt run).
  adapt: cronExpression.nullable().default('0 2 * * *'),
});

// ---- the file

export function createConfigSchema(context: SchemaContext) {
  const modelsSchema = z
    .strictObject({
      dir: filePath.default(() => context.env.CROSSCAM_MODELS_DIR || DEFAULT_MODELS_DIR),
      catalog: filePath.optional(),
      // Ids of the built-in catalog (models/catalog.yaml).
      detector: modelId.default('yolox-nano'),
      reid: z
        .strictObject({
          person: modelId.default('osnet-x0_25-msmt17'),
          vehicle: modelId.optional(),
        })
        .prefault({}),
    })
    .superRefine((models, ctx) => {
      if (context.knownModels === undefined) return;
      for (const issue of modelReferenceIssues(models, context.knownModels)) {
        ctx.addIssue({ code: 'custom', path: issue.keyPath, message: issue.message });
      }
    });

  return z
    .strictObject({
      node_id: mqttTopicLevel.prefault(context.hostname),
      log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info') }).prefault({}),
      service: serviceSchema.prefault({}),
      ffmpeg: ffmpegSchema.prefault({}),
      models: modelsSchema.prefault({}),
      runtime: runtimeSchema.prefault({}),
      detect: detectSchema.prefault({}),
      track: trackSchema.prefault({}),
      embed: embedSchema.prefault({}),
      features: featuresSchema.prefault({}),
      adapt: adaptSchema.prefault({}),
      cameras: z.array(cameraSchema).min(1, 'list at least one camera'),
      mqtt: mqttSchema.prefault({}),
      gallery: gallerySchema.prefault({}),
      snapshots: snapshotsSchema.prefault({}),
      http: httpSchema.prefault({}),
      matching: matchingSchema.prefault({}),
      requests: requestsSchema.prefault({}),
      topology: z.array(topologyLinkSchema).default([]),
      schedules: schedulesSchema.prefault({}),
    })
    .transform((config) => ({
      ...config,
      // Each camera carries its effective detect settings: the global ones with its overrides.
      cameras: config.cameras.map(({ detect, ...camera }) => ({
        ...camera,
        detect: { ...config.detect, ...withoutUndefined(detect ?? {}) },
      })),
    }))
    .superRefine(stallTimeoutAboveFrameInterval);
}

/**
 * The watchdog restarts ffmpeg when no frame came for stall_timeout_s, so a slow camera must
 * deliver frames well within it: more than two frame intervals leaves room for jitter.
 */
function stallTimeoutAboveFrameInterval(
  config: { ffmpeg: { stall_timeout_s: number }; cameras: Array<{ id: string; detect: { fps: number } }> },
  ctx: z.RefinementCtx,
): void {
  const slowest = config.cameras.reduce((slow, camera) => (camera.detect.fps < slow.detect.fps ? camera : slow));
  const twoIntervals = 2 / slowest.detect.fps;
  if (config.ffmpeg.stall_timeout_s <= twoIntervals) {
    ctx.addIssue({
      code: 'custom',
      path: ['ffmpeg', 'stall_timeout_s'],
      message: `must exceed two frame intervals of camera "${slowest.id}" (2 / detect.fps = ${Number(twoIntervals.toFixed(2))} s)`,
    });
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}

export type ConfigSchema = ReturnType<typeof createConfigSchema>;
/** The validated, fully defaulted config. */
export type CrosscamConfig = z.output<ConfigSchema>;
/** What the YAML may contain (before defaults). */
export type CrosscamConfigInput = z.input<ConfigSchema>;
export type LogConfig = CrosscamConfig['log'];
export type ServiceConfig = CrosscamConfig['service'];
export type FfmpegConfig = CrosscamConfig['ffmpeg'];
export type ModelsConfig = CrosscamConfig['models'];
export type RuntimeConfig = CrosscamConfig['runtime'];
export type ExecutionProviderConfig = RuntimeConfig['providers'][number];
export type DetectConfig = CrosscamConfig['detect'];
export type TrackConfig = CrosscamConfig['track'];
export type EmbedConfig = CrosscamConfig['embed'];
export type FeaturesConfig = CrosscamConfig['features'];
export type CameraConfig = CrosscamConfig['cameras'][number];
export type ZoneConfig = CameraConfig['zones'][number];
/** Points [x, y] as fractions (0..1) of the frame width and height. */
export type Polygon = ZoneConfig['polygon'];
export type MqttConfig = CrosscamConfig['mqtt'];
export type GalleryConfig = CrosscamConfig['gallery'];
export type MatchingConfig = CrosscamConfig['matching'];
export type ClassMatchingConfig = MatchingConfig['classes'][ObjectClass];
export type TopologyLinkConfig = CrosscamConfig['topology'][number];
export type SchedulesConfig = CrosscamConfig['schedules'];
