import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openStateStore, type RootDatabase } from '../src/core/state-store.js';
import { Outbox } from '../src/publish/outbox.js';
import { memoryLogger } from './support/mqtt-fakes.js';

function tempStore(t: { after(fn: () => unknown): void }): { open(): RootDatabase } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-outbox-'));
  const roots: RootDatabase[] = [];
  t.after(async () => {
    for (const root of roots) await root.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    open() {
      const root = openStateStore({ path: dir, mapSizeMb: 64 });
      roots.push(root);
      return root;
    },
  };
}

const message = (n: number) => ({ topic: 'crosscam/n/matches', payload: JSON.stringify({ n }), qos: 1 as const });
const numbers = (entries: { payload: string }[]) => entries.map((entry) => (JSON.parse(entry.payload) as { n: number }).n);

test('enqueue keeps call order; read returns committed entries from a seq; remove forgets them', async (t) => {
  const store = tempStore(t);
  const outbox = new Outbox(store.open(), { maxMessages: 100, logger: memoryLogger().logger });
  const seqs = await Promise.all([1, 2, 3, 4, 5].map((n) => outbox.enqueue(message(n))));
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.deepEqual(outbox.counts(), { pending: 5, dropped: 0 });
  assert.deepEqual(numbers(outbox.read(0, 10)), [1, 2, 3, 4, 5]);
  assert.deepEqual(numbers(outbox.read(3, 2)), [3, 4]);

  outbox.remove(1);
  outbox.remove(3); // acknowledged out of order
  outbox.remove(3); // idempotent
  outbox.remove(99); // never existed
  assert.deepEqual(outbox.counts(), { pending: 3, dropped: 0 });
  assert.deepEqual(numbers(outbox.read(0, 10)), [2, 4, 5]);
});

test('what was not removed survives a reopen, order and gaps included, and new seqs continue after it', async (t) => {
  const store = tempStore(t);
  const first = store.open();
  const outbox = new Outbox(first, { maxMessages: 100, logger: memoryLogger().logger });
  for (let n = 1; n <= 6; n++) await outbox.enqueue(message(n));
  outbox.remove(1);
  outbox.remove(4);
  await outbox.flushed();
  await first.close();

  const reopened = new Outbox(store.open(), { maxMessages: 100, logger: memoryLogger().logger });
  assert.deepEqual(reopened.counts(), { pending: 4, dropped: 0 });
  assert.deepEqual(numbers(reopened.read(0, 10)), [2, 3, 5, 6]);
  assert.equal(await reopened.enqueue(message(7)), 7);
  reopened.remove(2);
  reopened.remove(3); // head passes the gap left by 4
  assert.deepEqual(numbers(reopened.read(0, 10)), [5, 6, 7]);
  assert.deepEqual(reopened.counts(), { pending: 3, dropped: 0 });
});

test('when full, the oldest messages are dropped, counted and logged at most once per interval', async (t) => {
  const store = tempStore(t);
  const { logger, records } = memoryLogger();
  let now = 0;
  const outbox = new Outbox(store.open(), { maxMessages: 3, logger, dropWarnIntervalMs: 10_000, now: () => now });
  for (let n = 1; n <= 7; n++) await outbox.enqueue(message(n));
  assert.deepEqual(outbox.counts(), { pending: 3, dropped: 4 });
  assert.deepEqual(numbers(outbox.read(0, 10)), [5, 6, 7]);
  const warnings = () => records.filter((record) => record.level === 40);
  assert.equal(warnings().length, 1, 'rate-limited');
  assert.equal(warnings()[0].dropped, 1);

  now = 10_000;
  await outbox.enqueue(message(8));
  assert.equal(warnings().length, 2);
  assert.equal(warnings()[1].dropped, 4, 'the drops since the last warning are summed');
  assert.equal(warnings()[1].droppedTotal, 5);
  outbox.remove(5); // an acknowledgement of a message already dropped changes nothing
  assert.deepEqual(outbox.counts(), { pending: 3, dropped: 5 });
});
