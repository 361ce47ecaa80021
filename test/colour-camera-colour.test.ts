import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CameraColour, colourTable, matchHistogram, matchMoments } from '../src/colour/camera-colour.js';
import { openStateStore } from '../src/core/state-store.js';

/** Shares of one channel: uniform over levels lo..hi. */
function uniform(lo: number, hi: number): Float64Array {
  const shares = new Float64Array(256);
  for (let v = lo; v <= hi; v++) shares[v] = 1 / (hi - lo + 1);
  return shares;
}

/** A frame of one colour, and a box covering it. */
function solidFrame(rgb: [number, number, number], width = 20, height = 60) {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = rgb[i % 3]!;
  return { frame: { width, height, data }, box: { x1: 0, y1: 0, x2: width, y2: height } };
}

test('histogram matching maps a distribution onto another (uniform ranges: a shift, a stretch)', () => {
  const shifted = matchHistogram(uniform(0, 127), uniform(128, 255));
  for (const v of [0, 10, 64, 127]) assert.ok(Math.abs(shifted[v]! - (v + 128)) < 1e-9, `level ${v} → ${shifted[v]}`);
  const stretched = matchHistogram(uniform(100, 149), uniform(0, 199));
  // Level 100 + k (k of 50) sits at quantile (k + 0.5)/50; that quantile of 0..199 is level 4k + 1.5.
  for (const k of [0, 10, 25, 49]) assert.ok(Math.abs(stretched[100 + k]! - (4 * k + 1.5)) < 1e-9, `level ${100 + k} → ${stretched[100 + k]}`);
  // Levels outside the camera's range keep the order.
  assert.ok(stretched[99]! <= stretched[100]! && stretched[150]! >= stretched[149]!);
});

test('moment matching: mean and deviation of one channel onto another', () => {
  // uniform(0, 100): mean 50; uniform(100, 200): mean 150, same deviation → a shift by 100.
  const mapping = matchMoments(uniform(0, 100), uniform(100, 200));
  assert.ok(Math.abs(mapping[0]! - 100) < 1e-9 && Math.abs(mapping[50]! - 150) < 1e-9);
  assert.equal(mapping[200], 255); // clamped
  // About half the spread: levels scale around the common mean 100 by σ_to/σ_from, the
  // deviations of uniform levels being √((n² − 1)/12) for n levels.
  const narrow = matchMoments(uniform(0, 200), uniform(50, 150));
  const gain = Math.sqrt((101 ** 2 - 1) / (201 ** 2 - 1));
  for (const v of [0, 100, 170]) assert.ok(Math.abs(narrow[v]! - (100 + (v - 100) * gain)) < 1e-9, `level ${v} → ${narrow[v]}`);
});

test('a table blends the mapping with the identity by its weight', () => {
  const camera = new Float64Array(768);
  const site = new Float64Array(768);
  for (let c = 0; c < 3; c++) {
    camera.set(uniform(0, 127), c * 256);
    site.set(uniform(128, 255), c * 256);
  }
  const half = colourTable(camera, site, 'histogram', 0.5);
  assert.ok(Math.abs(half[64]! - 128) < 1e-4 && Math.abs(half[256 + 64]! - 128) < 1e-4); // 64 + 0.5·128
  const none = colourTable(camera, site, 'histogram', 0);
  for (const v of [0, 64, 200]) assert.equal(none[512 + v], v);
});

test('camera tables: identity until two cameras are past their warm-up, then each moves onto the site; kept across a restart', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-colour-'));
  try {
    const store = openStateStore({ path: dir, mapSizeMb: 64 });
    const colour = new CameraColour({ store, method: 'affine', warmupCrops: 20, windowCrops: 1000 });
    const dark = solidFrame([40, 60, 80]);
    const bright = solidFrame([120, 140, 160]);
    for (let i = 0; i < 40; i++) colour.observe('dark', dark.frame, [dark.box]);
    assert.equal(colour.table('dark'), undefined, 'one camera alone keeps its colours');
    for (let i = 0; i < 40; i++) colour.observe('bright', bright.frame, [bright.box]);
    assert.equal(colour.crops('dark'), 40);
    const darkTable = colour.table('dark')!;
    const brightTable = colour.table('bright')!;
    // The site mean of channel R is 80; each camera weighs its mapping 40/(40 + 20).
    const weight = 40 / 60;
    assert.ok(Math.abs(darkTable[40]! - (40 + weight * 40)) < 1e-3, `dark R 40 → ${darkTable[40]}`);
    assert.ok(Math.abs(brightTable[120]! - (120 - weight * 40)) < 1e-3, `bright R 120 → ${brightTable[120]}`);
    assert.ok(Math.abs(darkTable[512 + 80]! - (80 + weight * 40)) < 1e-3);
    // A box too small to show a person's colours teaches nothing.
    colour.observe('dark', dark.frame, [{ x1: 0, y1: 0, x2: 5, y2: 10 }]);
    assert.equal(colour.crops('dark'), 40);
    const saved = colour.snapshot();
    await store.flushed;
    await store.close();

    const reopened = openStateStore({ path: dir, mapSizeMb: 64 });
    const again = new CameraColour({ store: reopened, method: 'affine', warmupCrops: 20, windowCrops: 1000 });
    assert.deepEqual(again.table('dark'), darkTable);
    await reopened.close();

    // Another site starts from this one's distributions.
    const other = openStateStore({ path: mkdtempSync(path.join(dir, 'other-')), mapSizeMb: 64 });
    const restored = new CameraColour({ store: other, method: 'affine', warmupCrops: 20, windowCrops: 1000 });
    restored.restore(saved);
    assert.deepEqual(restored.table('bright'), brightTable);
    await other.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
