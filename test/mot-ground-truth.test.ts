import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  filterMotRecords,
  formatMotRecords,
  groupByFrame,
  parseMotText,
  readMotFile,
} from '../src/eval/mot-ground-truth.js';
import { HAVE_PETS, PETS_GT } from './support/shared-data.js';


test('parses MOT lines (commas or spaces, CRLF, blank lines) into corner boxes and consider flags', () => {
  const text = '1,9,499,158,31.03,75.17,1,-4.1554,-7.3591,0\r\n\n2 15 258 219 32.5 88 0 -1 -1 -1\n3,4,10,20,30,40\n';
  const records = parseMotText(text);
  assert.deepEqual(records, [
    { frame: 1, id: 9, box: { x1: 499, y1: 158, x2: 499 + 31.03, y2: 158 + 75.17 }, confidence: 1, consider: true },
    { frame: 2, id: 15, box: { x1: 258, y1: 219, x2: 290.5, y2: 307 }, confidence: 0, consider: false },
    { frame: 3, id: 4, box: { x1: 10, y1: 20, x2: 40, y2: 60 }, confidence: 1, consider: true },
  ]);
});

test('a malformed line is reported with its line number', () => {
  assert.throws(() => parseMotText('1,2,3,4,5,6\n1,2,abc,4,5,6\n', 'gt.txt'), /gt\.txt:2:/);
  assert.throws(() => parseMotText('1,2,3,4\n'), /:1:/);
  assert.throws(() => parseMotText('1.5,2,3,4,5,6\n'), /integers/);
});

test('filters by consider flag and minimum height', () => {
  const records = parseMotText('1,1,0,0,10,50,1\n1,2,0,0,10,50,0\n1,3,0,0,10,20,1\n');
  assert.deepEqual(filterMotRecords(records).map((r) => r.id), [1, 3]);
  assert.deepEqual(filterMotRecords(records, { minHeight: 25 }).map((r) => r.id), [1]);
  assert.deepEqual(filterMotRecords(records, { considerOnly: false, minHeight: 25 }).map((r) => r.id), [1, 2]);
});

test('result lines round-trip through formatMotRecords', () => {
  const records = parseMotText('2,7,10.5,20,30,40,0.875\n1,3,0,0,5,5,1\n');
  const text = formatMotRecords(records);
  assert.equal(text, '2,7,10.5,20,30,40,0.875,-1,-1,-1\n1,3,0,0,5,5,1,-1,-1,-1\n');
  assert.deepEqual(parseMotText(text), records);
});

test('groups by ascending frame and rejects an id repeated within a frame', () => {
  const grouped = groupByFrame(parseMotText('3,1,0,0,1,1\n1,1,0,0,1,1\n1,2,0,0,1,1\n'));
  assert.deepEqual([...grouped.keys()], [1, 3]);
  assert.deepEqual(grouped.get(1)!.map((r) => r.id), [1, 2]);
  assert.throws(() => groupByFrame(parseMotText('1,1,0,0,1,1\n1,1,5,5,1,1\n')), /id 1 appears twice in frame 1/);
});

test('reads the PETS09-S2L1 ground truth', { skip: !HAVE_PETS && 'PETS09 data not present' }, async () => {
  const records = await readMotFile(PETS_GT);
  assert.equal(records.length, 4650);
  assert.equal(new Set(records.map((r) => r.id)).size, 19);
  assert.equal(records.filter((r) => !r.consider).length, 174);
  const frames = groupByFrame(records);
  assert.equal(Math.min(...frames.keys()), 1);
  assert.equal(Math.max(...frames.keys()), 795);
});
