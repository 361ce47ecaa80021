import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { EventBus } from '../src/service/event-bus.js';

interface Events {
  tick: number;
}

test('a failing listener is logged with its stage and the others still run', async () => {
  const lines: string[] = [];
  const logger = pino({ level: 'error' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  const bus = new EventBus<Events>(logger);
  const seen: number[] = [];
  bus.on('tick', 'broken', () => {
    throw new Error('boom');
  });
  bus.on('tick', 'async-broken', async () => {
    throw new Error('later');
  });
  const off = bus.on('tick', 'counter', (n) => seen.push(n));
  bus.emit('tick', 1);
  off();
  bus.emit('tick', 2);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(seen, [1], 'the counter ran once and stopped after unsubscribing');
  const logged = lines.map((line) => JSON.parse(line) as { stage: string; msg: string; err: { message: string } });
  // Both failing listeners stay subscribed: each logs once per emit (async ones after the sync ones).
  assert.deepEqual(
    logged.map((l) => `${l.stage}: ${l.err.message}`).sort(),
    ['async-broken: later', 'async-broken: later', 'broken: boom', 'broken: boom'],
  );
  assert.equal(logged[0].msg, 'broken failed handling tick');
});
