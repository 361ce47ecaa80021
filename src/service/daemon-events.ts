import type { AdapterChange } from '../adapt/adaptation.js';
import type { PartEmbedding } from '../embed/part-embedding.js';
import type { CameraStatus } from '../ingest/camera-status.js';
import type { IdentityMerge } from '../gallery/records.js';
import type { MatchDecision } from '../match/decision.js';
import type { TrackSighting } from '../pipeline/camera-pipeline.js';
import type { SightingEvent } from '../publish/builders.js';

/** A camera worker's news about one of its tracks. */
export interface TrackEvent {
  type: 'new' | 'update' | 'end';
  sighting: TrackSighting;
  /** Names of the camera zones holding the track's foot point. */
  zones: string[];
  /** Wall-clock time of the event (ms since epoch). */
  at: number;
  /** On `end`: the track's final embedding, when it has one. */
  embedding?: Float32Array;
  /** On `end`, from a part model: the track's parts. */
  parts?: PartEmbedding;
  /** On `end`: embeddings of the earlier and later half of its crops (two crops or more). */
  halves?: [Float32Array, Float32Array];
}

/** A live track has gathered its best crops: its identity can be decided before it ends. */
export interface TrackReadyEvent {
  sighting: TrackSighting;
  embedding: Float32Array;
  parts?: PartEmbedding;
}

/** What the daemon's stages tell each other (see EventBus). */
export interface DaemonEvents {
  cameraStatus: CameraStatus;
  track: TrackEvent;
  trackReady: TrackReadyEvent;
  /** A track event with its identity, ready to publish. */
  sighting: SightingEvent;
  decision: MatchDecision;
  /** Identities found to be one (online by a decision, or by scheduled re-clustering). */
  identitiesMerged: IdentityMerge;
  /** An adaptation run's outcome, or a rollback. */
  adapterChanged: AdapterChange;
}
