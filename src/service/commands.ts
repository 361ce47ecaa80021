/**
 * Operator commands on `request/<command>`: look an identity up, list recent ones, forget
 * one, enrol a watch-list identity from an image. Inputs are validated by their zod
 * schemas before a handler runs; expected failures are CommandErrors.
 */
import sharp from 'sharp';
import { z } from 'zod';
import { OBJECT_CLASSES } from '../core/types.js';
import type { Gallery } from '../gallery/gallery.js';
import { identityJson, sightingJson } from '../gallery/json-views.js';
import type { IdentitySummary } from '../gallery/records.js';
import type { Matcher } from '../match/matcher.js';
import type { ClassEmbedders } from '../pipeline/camera-pipeline.js';
import { CommandError, defineCommand, type CommandRegistry } from '../publish/requests.js';

export interface CommandDependencies {
  gallery: Pick<Gallery, 'identity' | 'identitiesOf' | 'sightingsOf' | 'forget' | 'refresh'>;
  matcher: Pick<Matcher, 'enrol'>;
  embedders: ClassEmbedders;
}

/** Enrolment images above this many pixels are refused (decoding cost and memory). */
const MAX_IMAGE_PIXELS = 4096 * 4096;

const identityId = z.string().min(1).max(100);

export function operatorCommands(deps: CommandDependencies): CommandRegistry {
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
      const removed = deps.gallery.forget(input.identity);
      if (!removed) throw new CommandError('not_found', `no identity "${input.identity}" in the gallery`);
      return { identity: input.identity, sightings_removed: removed.sightings };
    }),
    enrol: defineCommand(
      z.strictObject({
        /** The whole image is the crop: send a picture of the person or vehicle alone. */
        image: z.base64().min(16),
        class: z.enum(OBJECT_CLASSES).default('person'),
        label: z.string().min(1).max(200),
      }),
      async (input) => {
        const embedder = deps.embedders[input.class];
        if (!embedder) throw new CommandError('unsupported', `no re-ID model is configured for ${input.class}`);
        const decoded = await sharp(Buffer.from(input.image, 'base64'), { limitInputPixels: MAX_IMAGE_PIXELS })
          .toColourspace('srgb')
          .removeAlpha()
          .raw()
          .toBuffer({ resolveWithObject: true })
          .catch((error: Error) => {
            throw new CommandError('invalid_image', `image could not be decoded: ${error.message}`);
          });
        const { width, height } = decoded.info;
        const frame = { cameraId: 'enrol', index: 0, pts: 0, receivedAt: Date.now(), width, height, data: decoded.data };
        const [embedding] = await embedder.embed(frame, [{ x1: 0, y1: 0, x2: width, y2: height }]);
        const identity = deps.matcher.enrol({ objectClass: input.class, embedding, label: input.label });
        return identityJson(identity);
      },
    ),
  };
}
