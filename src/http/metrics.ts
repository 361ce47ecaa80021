/**
 * The daemon's Prometheus metrics (prom-client, one registry per daemon, no global).
 * Figures that mirror running totals elsewhere are read when scraped (collect), so the
 * frame path only pays for what has no total elsewhere: inference timings and decisions.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ObjectClass } from '../core/types.js';
import type { CameraState } from '../ingest/camera-status.js';
import type { MatchDecision } from '../match/decision.js';
import type { CameraCounters } from '../service/camera-worker.js';

/** Where the scraped figures come from. */
export interface MetricsSources {
  cameras(): readonly CameraCounters[];
  gallery(): { identities: number; sightings: number };
  outbox(): { pending: number; dropped: number };
  mqttConnected(): boolean;
}

export interface DaemonMetrics {
  readonly registry: Registry;
  /** One network run: its duration and how many frames (detector) or crops (re-ID) it ran. */
  observeInference(model: string, provider: string, seconds: number, items: number): void;
  countDecision(decision: MatchDecision): void;
}

const CAMERA_STATES: readonly CameraState[] = ['starting', 'online', 'reconnecting', 'offline'];

/** A gauge with a `camera` label whose values are read from each camera when scraped. */
function cameraGauge(registry: Registry, sources: MetricsSources, name: string, help: string, read: (camera: CameraCounters) => number): void {
  new Gauge({
    name,
    help,
    labelNames: ['camera'],
    registers: [registry],
    collect() {
      this.reset();
      for (const camera of sources.cameras()) this.set({ camera: camera.cameraId }, read(camera));
    },
  });
}

/** A gauge with `camera` and `class` labels read from a per-class count of each camera. */
function cameraClassGauge(registry: Registry, sources: MetricsSources, name: string, help: string, read: (camera: CameraCounters) => Partial<Record<ObjectClass, number>>): void {
  new Gauge({
    name,
    help,
    labelNames: ['camera', 'class'],
    registers: [registry],
    collect() {
      this.reset();
      for (const camera of sources.cameras()) {
        for (const [objectClass, count] of Object.entries(read(camera))) this.set({ camera: camera.cameraId, class: objectClass }, count);
      }
    },
  });
}

function scalarGauge(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

export function createDaemonMetrics(sources: MetricsSources): DaemonMetrics {
  const registry = new Registry();
  const registers = [registry];
  // process_cpu_seconds_total, process_resident_memory_bytes, nodejs_eventloop_lag_seconds, ...
  collectDefaultMetrics({ register: registry });

  cameraGauge(registry, sources, 'crosscam_camera_fps', 'Frames per second delivered by the camera (over the last seconds)', (c) => c.status.fps);
  cameraGauge(registry, sources, 'crosscam_camera_processed_frames_total', 'Frames run through the vision pipeline since the camera started', (c) => c.processedFrames);
  cameraGauge(registry, sources, 'crosscam_camera_skipped_frames_total', 'Frames dropped because the pipeline was busy (newest frame wins)', (c) => c.status.skippedFrames);
  cameraGauge(registry, sources, 'crosscam_camera_reconnects_total', 'Restarts of the camera input since the daemon started it', (c) => c.status.reconnects);
  cameraGauge(registry, sources, 'crosscam_frame_queue_depth', 'Frames waiting for the pipeline (0 or 1: newest frame wins)', (c) => c.queuedFrames);
  new Gauge({
    name: 'crosscam_camera_state',
    help: 'Camera state: 1 for the current one, 0 for the others',
    labelNames: ['camera', 'state'],
    registers,
    collect() {
      this.reset();
      for (const camera of sources.cameras()) {
        for (const state of CAMERA_STATES) this.set({ camera: camera.cameraId, state }, camera.status.state === state ? 1 : 0);
      }
    },
  });
  cameraClassGauge(registry, sources, 'crosscam_camera_detections_total', "Detections kept by the camera's filters since it started, by class", (c) => c.detections);
  cameraClassGauge(registry, sources, 'crosscam_camera_tracks', 'Tracks being followed now, by class', (c) => c.liveTracks);

  const inference = new Histogram({
    name: 'crosscam_inference_seconds',
    help: 'Duration of one network run (a frame for the detector, a batch of crops for re-ID)',
    labelNames: ['model', 'provider'],
    registers,
    buckets: [0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.5, 1],
  });
  // With the histogram's count, the mean batch; with the frames processed, the crops per frame.
  const inferenceItems = new Counter({ name: 'crosscam_inference_items_total', help: 'Frames (detector) or crops (re-ID) run through a network', labelNames: ['model', 'provider'], registers });

  scalarGauge(registry, 'crosscam_gallery_identities', 'Identities in the gallery', () => sources.gallery().identities);
  scalarGauge(registry, 'crosscam_gallery_sightings', 'Sightings in the gallery', () => sources.gallery().sightings);
  const matches = new Counter({ name: 'crosscam_matches_total', help: 'Cross-camera matches and watch-list hits, by confidence', labelNames: ['confidence'], registers });
  const decisions = new Counter({ name: 'crosscam_decisions_total', help: 'Identity decisions, by outcome', labelNames: ['outcome'], registers });
  scalarGauge(registry, 'crosscam_outbox_pending', 'Events stored in the outbox and not yet acknowledged by the broker', () => sources.outbox().pending);
  scalarGauge(registry, 'crosscam_outbox_dropped_total', 'Events dropped because the outbox was full (oldest first)', () => sources.outbox().dropped);
  scalarGauge(registry, 'crosscam_mqtt_connected', '1 while connected to the MQTT broker', () => (sources.mqttConnected() ? 1 : 0));

  return {
    registry,
    observeInference(model, provider, seconds, items) {
      inference.observe({ model, provider }, seconds);
      inferenceItems.inc({ model, provider }, items);
    },
    countDecision(decision) {
      decisions.inc({ outcome: decision.outcome });
      if (decision.outcome === 'matched' || decision.watchlistLabel !== undefined) matches.inc({ confidence: decision.highConfidence ? 'high' : 'low' });
    },
  };
}
