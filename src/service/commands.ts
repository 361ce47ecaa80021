/**
 * Operator commands on `request/<command>`: look an identity up, list recent ones, forget
 * one, enrol a watch-list identity from an image. Inputs are validated by their zod
 * schemas before a handler runs; expected failures are CommandErrors.
 */
import sharp from 'sharp';
import { z } from 'zod';
import { OBJECT_CLASSES, type ObjectClass } from '../core/types.js';
import type { Gallery } from '../gallery/gallery.js';
import { identityJson, sightingJson } from '../gallery/json-views.js';
import type { IdentitySummary } from '../gallery/records.js';
import type { Matcher } from '../match/matcher.js';
import type { ClassEmbedders } from '../pipeline/camera-pipeline.js';
import { CommandError, defineCommand, type CommandRegistry } from '../publish/requests.js';
import type { SnapshotStore } from '../snapshots/snapshot-store.js';

export interface CommandDependencies {
  gallery: Pick<Gallery, 'identity' | 'identitiesOf' | 'sightingsOf' | 'forget' | 'refresh' | 'stats'>;
  matcher: Pick<Matcher, 'enrol' | 'search'>;
  embedders: ClassEmbedders;
  /** Snapshots of forgotten sightings are deleted with them. */
  snapshots?: Pick<SnapshotStore, 'remove'>;
  /** Watch-list identities never expire: at most `max` per class, `perMinute` enrolments a minute (config matching.watchlist). */
  watchlist: { max: number; perMinute: number };
  now?: () => number;
}

const MINUTE_MS = 60_000;

/** Enrolment images above this many pixels are refused (decoding cost and memory). */
const MAX_IMAGE_PIXELS = 4096 * 4096;

const identityId = z.string().min(1).max(100);

const imageInput = {
  /** The whole image is the crop: send a picture of the person or vehicle alone. */
  image: z.base64().min(16),
  class: z.enum(OBJECT_CLASSES).default('person'),
};

export function operatorCommands(deps: CommandDependencies): CommandRegistry {
  const now = deps.now ?? Date.now;
  const enrolments: number[] = [];
  /** Refuses an enrolment over the rate or the cap before any image is decoded. */
  const admitEnrolment = (objectClass: ObjectClass): void => {
    const at = now();
    while (enrolments.length > 0 && enrolments[0]! <= at - MINUTE_MS) enrolments.shift();
    if (enrolments.length >= deps.watchlist.perMinute) {
      throw new CommandError('rate_limited', `more than ${deps.watchlist.perMinute} enrolments in a minute (matching.watchlist.per_minute); retry later`);
    }
    deps.gallery.refresh();
    const enrolled = deps.gallery.stats().classes[objectClass]?.watchlist ?? 0;
    if (enrolled >= deps.watchlist.max) {
      throw new CommandError('watchlist_full', `the ${objectClass} watch list holds ${enrolled} identities, the most matching.watchlist.max allows; forget some first`);
    }
    enrolments.push(at);
  };
  /** The re-ID embedding of a picture, as a crop covering the whole image. */
  const embedImage = async (image: string, objectClass: ObjectClass): Promise<Float32Array> => {
    const embedder = deps.embedders[objectClass];
    if (!embedder) throw new CommandError('unsupported', `no re-ID model is configured for ${objectClass}`);
    const decoded = await sharp(Buffer.from(image, 'base64'), { limitInputPixels: MAX_IMAGE_PIXELS })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
      .catch((error: Error) => {
        throw new CommandError('invalid_image', `image could not be decoded: ${error.message}`);
      });
    const { width, height } = decoded.info;
    const frame = { cameraId: 'enrol', index: 0, pts: 0, receivedAt: Date.now(), width, height, data: decoded.data };
    const [crop] = await embedder.embed(frame, [{ x1: 0, y1: 0, x2: width, y2: height }]);
    return crop!.embedding;
  };
  const known = (id: string): IdentitySummary => {
    deps.gallery.refresh();
    const identity = deps.gallery.identity(id);
    if (!identity) throw new CommandError('not_found', `no identity "${id}" in the gallery`);
    return identity;
  };
  return {
    lookup: defineCommand(z.strictObject({ identity: identityId, sightings: z.int().min(0).max(500).default(20) }), async (input) => {
      const identity = known(input.identity);
      const sightings = deps.gallery.sightingsOf(identity.id).sort((a, b) => b.lastSeenAt - a.lastSeenAt);
      return { ...identityJson(identity), recent: sightings.slice(0, input.sightings).map(sightingJson) };
    }),
    identities: defineCommand(
      z.strictObject({ class: z.enum(OBJECT_CLASSES).default('person'), limit: z.int().min(1).max(1000).default(50) }),
      async (input) => {
        deps.gallery.refresh();
        const recent = [...deps.gallery.identitiesOf(input.class)].sort((a, b) => (b.lastSeenAt ?? b.createdAt) - (a.lastSeenAt ?? a.createdAt));
        return { class: input.class, total: recent.length, identities: recent.slice(0, input.limit).map(identityJson) };
      },
    ),
    forget: defineCommand(z.strictObject({ identity: identityId }), async (input) => {
      known(input.identity);
      const sightings = deps.gallery.sightingsOf(input.identity);
      const removed = deps.gallery.forget(input.identity);
      if (!removed) throw new CommandError('not_found', `no identity "${input.identity}" in the gallery`);
      const snapshotsRemoved = (await deps.snapshots?.remove(sightings)) ?? 0;
      return { identity: input.identity, sightings_removed: removed.sightings, snapshots_removed: snapshotsRemoved };
    }),
    enrol: defineCommand(z.strictObject({ ...imageInput, label: z.string().min(1).max(200) }), async (input) => {
      admitEnrolment(input.class);
      const embedding = await embedImage(input.image, input.class);
      return identityJson(deps.matcher.enrol({ objectClass: input.class, embedding, label: input.label }));
    }),
    /** Who in the gallery looks most like the picture (the control room's search by image). */
    search: defineCommand(z.strictObject({ ...imageInput, limit: z.int().min(1).max(50).default(5) }), async (input) => {
      const embedding = await embedImage(input.image, input.class);
      deps.gallery.refresh();
      const hits = deps.matcher.search(input.class, embedding, input.limit);
      return {
        class: input.class,
        hits: hits.flatMap((hit) => {
          const identity = deps.gallery.identity(hit.identityId);
          return identity ? [{ ...identityJson(identity), similarity: Number(hit.similarity.toFixed(4)) }] : [];
        }),
      };
    }),
  };
}
