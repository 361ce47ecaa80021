import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { Box } from '../src/core/geometry.js';
import type { Frame } from '../src/core/types.js';
import { normalised } from '../src/core/vectors.js';
import { CommandError } from '../src/publish/requests.js';
import { operatorCommands } from '../src/service/commands.js';
import { openTestMatching } from './support/matching-fixture.js';

test('operator commands: enrol from an image, lookup, identities, forget, and clear errors', async (t) => {
  const { gallery, matcher } = await openTestMatching(t, 'crosscam-commands-');
  const seen: { frame: Pick<Frame, 'width' | 'height'>; boxes: Box[]; red: number }[] = [];
  // The "model" embeds the mean red level of the crop, so the test sees that real pixels arrived.
  const embedder = {
    embed: async (frame: Frame, boxes: Box[]) => {
      let red = 0;
      for (let i = 0; i < frame.data.length; i += 3) red += frame.data[i];
      seen.push({ frame, boxes, red: red / (frame.data.length / 3) });
      return [{ embedding: normalised(Float32Array.of(1, 0, 0)) }];
    },
  };
  const removedSnapshots: { cameraId: string; trackId: number }[] = [];
  const snapshots = {
    remove: async (tracks: readonly { cameraId: string; trackId: number }[]) => {
      removedSnapshots.push(...tracks.map(({ cameraId, trackId }) => ({ cameraId, trackId })));
      return tracks.length * 2;
    },
  };
  const commands = operatorCommands({ gallery, matcher, embedders: { person: embedder }, snapshots, watchlist: { max: 100, perMinute: 100 } });
  const png = await sharp({ create: { width: 32, height: 64, channels: 4, background: { r: 200, g: 10, b: 10, alpha: 1 } } }).png().toBuffer();

  const enrolled = (await commands.enrol.handle(commands.enrol.input.parse({ image: png.toString('base64'), label: 'red coat' }))) as Record<string, unknown>;
  assert.equal(enrolled.identity, 'person-000001');
  assert.equal(enrolled.watchlist, true);
  assert.equal(enrolled.label, 'red coat');
  assert.deepEqual(seen[0].boxes, [{ x1: 0, y1: 0, x2: 32, y2: 64 }], 'the whole image is the crop');
  assert.equal(Math.round(seen[0].red), 200, 'RGB pixels without alpha reached the embedder');

  // A track seen later matches the watch-list identity.
  const decision = matcher.decide({
    cameraId: 'gate', trackId: 4, objectClass: 'person', firstSeenAt: 1_000, lastSeenAt: 5_000,
    embedding: normalised(Float32Array.of(0.95, 0.1, 0)), quality: 0.7, bestCrop: { pts: 2, box: { x1: 1, y1: 2, x2: 30, y2: 90 } },
  });
  assert.equal(decision?.identityId, 'person-000001');
  assert.equal(decision?.watchlistLabel, 'red coat');

  const lookup = (await commands.lookup.handle(commands.lookup.input.parse({ identity: 'person-000001' }))) as { recent: { camera: string; track_id: number }[]; sightings: number };
  assert.equal(lookup.sightings, 1);
  assert.deepEqual(lookup.recent.map((s) => [s.camera, s.track_id]), [['gate', 4]]);
  const list = (await commands.identities.handle(commands.identities.input.parse({}))) as { total: number };
  assert.equal(list.total, 1);

  // Search by image: the picture's embedding ranks the gallery's identities (nothing is stored).
  const search = (await commands.search.handle(commands.search.input.parse({ image: png.toString('base64') }))) as { hits: { identity: string; similarity: number }[] };
  assert.deepEqual(search.hits.map((hit) => hit.identity), ['person-000001']);
  assert.ok(search.hits[0]!.similarity > 0.99, `the enrolled picture itself scores ${search.hits[0]!.similarity}`);
  assert.equal(((await commands.identities.handle(commands.identities.input.parse({}))) as { total: number }).total, 1, 'search adds no identity');

  assert.deepEqual(await commands.forget.handle(commands.forget.input.parse({ identity: 'person-000001' })), {
    identity: 'person-000001',
    sightings_removed: 1,
    snapshots_removed: 2,
  });
  assert.deepEqual(removedSnapshots, [{ cameraId: 'gate', trackId: 4 }], "the forgotten sighting's snapshots are deleted");
  await assert.rejects(commands.lookup.handle(commands.lookup.input.parse({ identity: 'person-000001' })), (error: CommandError) => error.code === 'not_found');
  await assert.rejects(
    commands.enrol.handle(commands.enrol.input.parse({ image: Buffer.from('definitely not an image').toString('base64'), label: 'x' })),
    (error: CommandError) => error.code === 'invalid_image',
  );
  await assert.rejects(
    commands.enrol.handle(commands.enrol.input.parse({ image: png.toString('base64'), label: 'x', class: 'car' })),
    (error: CommandError) => error.code === 'unsupported' && /no re-ID model is configured for car/.test(error.message),
  );
  assert.equal(commands.enrol.input.safeParse({ image: 'not base64 !!!', label: 'x' }).success, false, 'malformed input is refused before the handler');
});

test('enrolment is capped per class (matching.watchlist.max) and rate-limited (per_minute), with clear error codes', async (t) => {
  const { gallery, matcher } = await openTestMatching(t, 'crosscam-commands-');
  let embeds = 0;
  const embedder = { embed: async () => [{ embedding: normalised(Float32Array.of(1, (embeds += 1), 0)) }] };
  let clock = 1_000_000;
  const commands = operatorCommands({ gallery, matcher, embedders: { person: embedder }, watchlist: { max: 3, perMinute: 2 }, now: () => clock });
  const png = (await sharp({ create: { width: 8, height: 16, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer()).toString('base64');
  const enrol = (label: string) => commands.enrol.handle(commands.enrol.input.parse({ image: png, label }));

  await enrol('a');
  clock += 1_000;
  await enrol('b');
  await assert.rejects(enrol('c'), (error: CommandError) => error.code === 'rate_limited' && /matching\.watchlist\.per_minute/.test(error.message));
  assert.equal(embeds, 2, 'a refused enrolment decodes and embeds nothing');
  clock += 59_000; // the first enrolment leaves the one-minute window
  await enrol('c');
  clock += 120_000;
  await assert.rejects(enrol('d'), (error: CommandError) => error.code === 'watchlist_full' && /matching\.watchlist\.max/.test(error.message));
  assert.equal(gallery.stats().classes.person?.watchlist, 3);
  await commands.forget.handle(commands.forget.input.parse({ identity: 'person-000001' }));
  await enrol('d');
  assert.equal(gallery.stats().classes.person?.watchlist, 3, 'room again once one is forgotten');
});
