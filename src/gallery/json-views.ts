/**
 * The gallery as JSON for operators (MQTT `lookup`/`identities` results and `gallery export`
 * lines): snake_case names and ISO times as in the MQTT payloads, without vectors.
 */
import { isoTimeOrNull } from '../core/json-values.js';
import type { IdentitySummary, SightingRecord } from './records.js';


export function identityJson(identity: IdentitySummary) {
  return {
    identity: identity.id,
    class: identity.objectClass,
    label: identity.label ?? null,
    watchlist: identity.watchlist,
    sightings: identity.count,
    created: isoTimeOrNull(identity.createdAt),
    first_seen: isoTimeOrNull(identity.firstSeenAt),
    last_seen: isoTimeOrNull(identity.lastSeenAt),
    cameras: Object.values(identity.cameras).map((sighting) => ({
      camera: sighting.cameraId,
      track_id: sighting.trackId,
      last_seen: isoTimeOrNull(sighting.lastSeenAt),
    })),
  };
}

export function sightingJson(sighting: SightingRecord) {
  return {
    camera: sighting.cameraId,
    track_id: sighting.trackId,
    identity: sighting.identityId,
    class: sighting.objectClass,
    first_seen: isoTimeOrNull(sighting.firstSeenAt),
    last_seen: isoTimeOrNull(sighting.lastSeenAt),
    pts: sighting.pts,
    box: [sighting.box.x1, sighting.box.y1, sighting.box.x2, sighting.box.y2],
    quality: sighting.quality,
    outcome: sighting.decision.outcome,
  };
}
