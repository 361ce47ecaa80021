import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { openStateStore, type RootDatabase } from '../../src/core/state-store.js';
import { OBJECT_CLASSES, type ObjectClass } from '../../src/core/types.js';
import { RAW_SPACE } from '../../src/features/feature-space.js';
import { Gallery } from '../../src/gallery/gallery.js';
import { Matcher, type ClassMatchingOptions } from '../../src/match/matcher.js';

/** Threshold 0.6, margin 0.05 for every class. */
export const TEST_CLASSES = Object.fromEntries(OBJECT_CLASSES.map((name) => [name, { threshold: 0.6, minMargin: 0.05 }])) as Record<ObjectClass, ClassMatchingOptions>;

/** A gallery on a fresh LMDB environment in a temp dir and a matcher over it, closed and removed after the test. */
export async function openTestMatching(t: TestContext, prefix: string): Promise<{ store: RootDatabase; gallery: Gallery; matcher: Matcher }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const store = openStateStore({ path: dir, mapSizeMb: 64 });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const gallery = new Gallery({ store, space: RAW_SPACE, momentum: 0.9, exemplarsPerIdentity: 3, retention: { sightingsDays: 30, identitiesDays: 90 } });
  const matcher = new Matcher({ gallery, classes: TEST_CLASSES, windowS: 600, sameCamera: { enabled: true, minGapS: 10 }, minTrackQuality: 0.1 });
  return { store, gallery, matcher };
}
