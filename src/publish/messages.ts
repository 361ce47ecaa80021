import { z } from 'zod';
import { OBJECT_CLASSES } from '../core/types.js';

/*
 * The MQTT message contract: one zod schema per payload. Everything else derives from here:
 * the payload types the builders return, the JSON Schema files in schemas/ (write-schemas.ts),
 * and the examples in docs/mqtt.md (checked by the tests). Published payloads are strict
 * objects (no extra keys); requests are loose (operators may add their own keys).
 */

const isoTime = z.iso.datetime().describe('UTC time, ISO 8601 (e.g. 2024-05-01T12:00:00.000Z)');
const cameraId = z.string().min(1).describe('Camera id from the config');
const trackId = z.int().min(0).describe('Track id, stable for the life of the track on its camera');
const objectClass = z.enum(OBJECT_CLASSES);
const eventId = z.string().min(1).describe('Unique id of this event; subscribers de-duplicate on it (delivery is at least once)');
const frameBox = z
  .tuple([z.number(), z.number(), z.number(), z.number()])
  .describe('[x1, y1, x2, y2] in frame pixels (top-left, bottom-right)');
const mediaTime = z.number().min(0).describe('Media time (presentation timestamp) in seconds');
const nonNegative = z.number().min(0);
const httpUrl = z.string().regex(/^https?:\/\/\S+$/);
const snapshotRef = z
  .object({
    id: z.string().min(1).describe('Snapshot id: <camera>-<track id>-<first seen, ms since epoch>'),
    crop_url: httpUrl.describe("JPEG of the best crop (full resolution), on the daemon's HTTP server"),
    frame_url: httpUrl.describe('JPEG of the frame of the best crop, every tracked box drawn'),
  })
  .nullable()
  .describe('Snapshots of the track (docs/operations.md); null when snapshots or the HTTP server are off, or before the first crop');
const count = z.int().min(0);

export const availabilityMessage = z
  .enum(['online', 'offline'])
  .meta({
    title: 'available',
    description: 'Plain string payload (not JSON-quoted), retained; "offline" is also the Last Will.',
  });

export const cameraStatusMessage = z
  .object({
    camera: cameraId,
    state: z.enum(['starting', 'online', 'reconnecting', 'offline']),
    fps: nonNegative.describe('Frames per second delivered by the camera over the last seconds'),
    last_frame_time: isoTime.nullable().describe('Time of the last frame; null before the first'),
    reconnects: count.describe('Restarts of the camera input since the daemon started it'),
    skipped_frames: count.describe('Frames skipped because inference was busy (newest frame wins)'),
    last_error: z.string().nullable().describe('Why the camera is not online; credentials redacted'),
    since: isoTime.describe('When the camera entered its current state'),
  })
  .meta({ title: 'cameras/<camera>/status', description: 'Retained camera health, latest per camera.' });

export const sightingMessage = z
  .object({
    event_id: eventId,
    type: z.enum(['new', 'update', 'end']).describe('Track started, moved on, or ended'),
    camera: cameraId,
    track_id: trackId,
    class: objectClass,
    time: isoTime.describe('When the event happened'),
    first_seen: isoTime,
    last_seen: isoTime,
    box: frameBox.describe('Box of the last detection, [x1, y1, x2, y2] in frame pixels'),
    pts: mediaTime.describe('Media time (s) of the last detection'),
    score: z.number().min(0).max(1).describe('Detector score of the last detection'),
    quality: z.number().min(0).max(1).describe('Quality of the best crop kept so far (0 before any)'),
    identity: z.string().nullable().describe('Gallery identity id once the matcher assigned one'),
    zones: z.array(z.string()).describe('Names of the configured zones the object is in'),
    snapshot: snapshotRef,
  })
  .meta({ title: 'sightings', description: 'Per-camera track event.' });

const matchSide = z.object({
  camera: cameraId,
  track_id: trackId,
  first_seen: isoTime,
  last_seen: isoTime,
  pts: mediaTime.describe('Media time (s) of the best crop'),
  box: frameBox.describe('Box of the best crop, [x1, y1, x2, y2] in frame pixels'),
  quality: z.number().min(0).max(1).describe('Quality of the best crop'),
  snapshot: snapshotRef,
});

export const matchMessage = z
  .object({
    event_id: eventId,
    identity: z.string().min(1).describe('Gallery identity both sightings belong to'),
    class: objectClass,
    time: isoTime.describe('When the decision was made'),
    sighting: matchSide.describe('The new sighting'),
    matched: matchSide.nullable().describe('The earlier sighting it matched; null on the first sighting of a watch-list identity'),
    watchlist_label: z.string().nullable().describe("Operator's label when the identity is on the watch list, else null"),
    similarity: z.number().describe("The matcher's score of the identity: cosine similarity in the camera-centred space, calibrated for the camera pair (1 = identical, 0 = a typical stranger)"),
    margin: z.number().describe('Score minus the runner-up score (or the threshold when that is higher)'),
    candidates: count.describe('Identities compared (after class, time-window and topology filters)'),
    confidence: z.number().min(0).max(1).nullable().describe('1 - normalised entropy over candidate similarities'),
    low_confidence: z.boolean().describe('Low-confidence decisions do not move the identity prototype'),
    late: z.boolean().describe("Decided at the track's end: its early decision had made it a new identity, now merged into this one"),
  })
  .meta({ title: 'matches', description: 'One cross-camera matching decision.' });

export const identitiesMergedMessage = z
  .object({
    event_id: eventId,
    class: objectClass,
    time: isoTime.describe('When the identities were merged'),
    kept: z.string().min(1).describe('The identity that remains (the watch-list one, else the oldest)'),
    merged: z.array(z.string().min(1)).min(1).describe('Identities folded into it: they no longer exist'),
    similarity: z.number().describe('The evidence: the weakest score that joined them (matching space)'),
    reason: z.enum(['online', 'scheduled']).describe('online: a decision showed them to be one; scheduled: re-clustering'),
    moved_sightings: count.describe('Sightings moved to the kept identity'),
  })
  .meta({ title: 'identities/merged', description: 'Identities found to be one person (or vehicle) and merged.' });

const adapterFigures = z
  .object({
    camera_mixing: z.number().min(0).max(1).describe("Share of held-out tracks' nearest tracks seen by another camera"),
    self_consistency: z.number().min(0).max(1).describe("Mean reciprocal rank of a held-out track's second half for its first"),
    pair_agreement: z.number().min(0).max(1).describe('Mean reciprocal rank of the partners of confident cross-camera pseudo-pairs'),
  })
  .describe('Held-out figures (docs/accuracy.md, on-site adaptation)');

export const adapterMessage = z
  .object({
    event_id: eventId,
    time: isoTime,
    action: z.enum(['activated', 'kept', 'rolled_back']).describe('activated: the candidate won and is in use; kept: stored inactive; rolled_back: back to the previous version'),
    active_version: count.describe('Adapter version in use after the change (0: none, the centred space)'),
    previous_version: count.describe('Adapter version in use before it'),
    candidate: z
      .object({ version: count.min(1), figures: adapterFigures, active_figures: adapterFigures.describe('The same figures for the space in use when it ran') })
      .nullable()
      .describe("The run's candidate; null for a rollback"),
  })
  .meta({ title: 'adapter', description: 'On-site adaptation: a run\'s outcome, or a rollback.' });

const cameraStats = z.object({
  camera: cameraId,
  fps: nonNegative.describe('Frames per second processed over the interval'),
  processed: count.describe('Frames processed since start'),
  skipped: count.describe('Frames skipped since start (inference busy)'),
  pipeline_ms: nonNegative.nullable().describe('Mean time per frame in the vision pipeline (detect, track, embed) over the interval'),
  latency_ms: nonNegative.nullable().describe('Mean time from a frame leaving ffmpeg to the end of its processing, over the interval'),
  people: count.describe('People tracked on the camera now'),
});

export const statsMessage = z
  .object({
    time: isoTime,
    uptime_s: nonNegative,
    cameras: z.array(cameraStats),
    gallery: z.object({ identities: count, sightings: count }),
    matches_last_hour: count.describe('Cross-camera matches over the last hour'),
    storage: z
      .object({
        state: z.enum(['ok', 'gallery_full', 'disk_full']).describe('gallery_full / disk_full: no room could be made; decisions wait in memory'),
        used_mb: nonNegative.describe('Data in the gallery database'),
        limit_mb: nonNegative.describe('gallery.map_size_mb'),
        disk_free_mb: z.number().describe('Free space of the gallery filesystem (-1: unknown)'),
        pruned_sightings: count.describe('Oldest sightings pruned to make room since start'),
        held_decisions: count.describe('Decisions waiting in memory for storage room'),
      })
      .describe('The gallery storage: the oldest sightings are pruned when it reaches its limit or the disk is full'),
    outbox: z.object({
      pending: count.describe('Messages waiting for a broker acknowledgement'),
      dropped: count.describe('Oldest messages dropped because the outbox was full, since start'),
    }),
    providers: z.record(z.string(), z.string()).describe('Execution provider per model (e.g. detector: cpu)'),
    process: z.object({ cpu_percent: nonNegative, rss_mb: nonNegative }),
    adapter: z
      .object({
        active_version: count.describe('Adapter version in use (0: none)'),
        training: z.object({ epoch: count, epochs: count }).nullable().describe('While an adaptation run trains: the epoch reached; null otherwise'),
        logged_tracks: count.describe('Ended tracks logged for the next adaptation run'),
      })
      .describe('On-site adaptation (see adapter)'),
  })
  .meta({ title: 'stats', description: 'Periodic pipeline figures (QoS 0, not retained).' });

export const requestEnvelope = z
  .looseObject({
    request_id: z.string().min(1).max(200).optional().describe('Echoed in the response (plain JSON fallback)'),
  })
  .meta({
    title: 'request/<command>',
    description: 'A JSON object: the command input plus an optional request_id. MQTT 5 requests may set response-topic and correlation-data.',
  });

const errorCode = z.string().regex(/^[a-z][a-z0-9_]*$/);

export const responseMessage = z
  .discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), request_id: z.string().optional(), result: z.json() }),
    z.object({
      ok: z.literal(false),
      request_id: z.string().optional(),
      error: z.object({ code: errorCode, message: z.string() }),
    }),
  ])
  .meta({ title: 'response/<command>', description: 'Answer to a request.' });

export type CameraStatusMessage = z.infer<typeof cameraStatusMessage>;
export type SightingMessage = z.infer<typeof sightingMessage>;
export type MatchSide = z.infer<typeof matchSide>;
export type MatchMessage = z.infer<typeof matchMessage>;
export type IdentitiesMergedMessage = z.infer<typeof identitiesMergedMessage>;
export type AdapterMessage = z.infer<typeof adapterMessage>;
export type CameraStatsEntry = z.infer<typeof cameraStats>;
export type StatsMessage = z.infer<typeof statsMessage>;
export type ResponseMessage = z.infer<typeof responseMessage>;

/** Message types by the name of their schema file (schemas/<name>.schema.json). */
export const MESSAGE_SCHEMAS = {
  available: availabilityMessage,
  'camera-status': cameraStatusMessage,
  sighting: sightingMessage,
  match: matchMessage,
  'identities-merged': identitiesMergedMessage,
  adapter: adapterMessage,
  stats: statsMessage,
  request: requestEnvelope,
  response: responseMessage,
} as const;

export type MessageType = keyof typeof MESSAGE_SCHEMAS;
