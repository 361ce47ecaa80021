import { readFile } from 'node:fs/promises';
import { boxFromLtwh, boxHeight, type Box } from '../core/geometry.js';

/**
 * One line of a MOTChallenge text file (gt.txt or a tracker result):
 * frame, id, left, top, width, height, conf-or-consider, [x, y, z | class, visibility].
 * Frames are 1-based in the format; columns after the seventh are not used here.
 */
export interface MotRecord {
  frame: number;
  id: number;
  box: Box;
  /** Seventh column: consider flag in ground truth (0 = ignore), confidence in results. */
  confidence: number;
  /** Ground truth: the object counts in evaluation (seventh column non-zero). */
  consider: boolean;
}

export function parseMotText(text: string, source = 'MOT text'): MotRecord[] {
  const records: MotRecord[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const fields = trimmed.split(/\s*,\s*|\s+/).map(Number);
    if (fields.length < 6 || fields.slice(0, 7).some((v) => !Number.isFinite(v))) {
      throw new Error(`${source}:${i + 1}: expected frame,id,left,top,width,height[,conf,...], got "${trimmed}"`);
    }
    const [frame, id, left, top, width, height, confidence = 1] = fields as [number, number, number, number, number, number, number?];
    if (!Number.isInteger(frame) || !Number.isInteger(id)) {
      throw new Error(`${source}:${i + 1}: frame and id must be integers, got "${trimmed}"`);
    }
    records.push({ frame, id, box: boxFromLtwh(left, top, width, height), confidence, consider: confidence !== 0 });
  });
  return records;
}

export async function readMotFile(path: string): Promise<MotRecord[]> {
  return parseMotText(await readFile(path, 'utf8'), path);
}

/** MOTChallenge result lines (frame,id,left,top,width,height,conf,-1,-1,-1), in the given order. */
export function formatMotRecords(records: readonly MotRecord[]): string {
  return records
    .map((r) => {
      const { x1, y1, x2, y2 } = r.box;
      const num = (v: number) => String(Math.round(v * 1000) / 1000);
      return [r.frame, r.id, num(x1), num(y1), num(x2 - x1), num(y2 - y1), num(r.confidence), -1, -1, -1].join(',');
    })
    .map((line) => `${line}\n`)
    .join('');
}

export interface MotFilterOptions {
  /** Drop records whose consider flag is 0 (default true). */
  considerOnly?: boolean;
  /** Drop boxes shorter than this many pixels (default 0). */
  minHeight?: number;
}

export function filterMotRecords(records: readonly MotRecord[], options: MotFilterOptions = {}): MotRecord[] {
  const { considerOnly = true, minHeight = 0 } = options;
  return records.filter((r) => (!considerOnly || r.consider) && boxHeight(r.box) >= minHeight);
}

/** Records per frame, in ascending frame order; throws on an id repeated within a frame. */
export function groupByFrame(records: readonly MotRecord[]): Map<number, MotRecord[]> {
  const byFrame = new Map<number, MotRecord[]>();
  for (const r of records) {
    let list = byFrame.get(r.frame);
    if (!list) byFrame.set(r.frame, (list = []));
    if (list.some((other) => other.id === r.id)) throw new Error(`id ${r.id} appears twice in frame ${r.frame}`);
    list.push(r);
  }
  return new Map([...byFrame.entries()].sort((a, b) => a[0] - b[0]));
}
