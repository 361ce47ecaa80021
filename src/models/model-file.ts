import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { ModelEntry } from './catalog-schema.js';

export type ModelFileStatus =
  | { status: 'ok'; path: string }
  | { status: 'missing'; path: string }
  | { status: 'wrong-size'; path: string; expected: number; actual: number }
  | { status: 'wrong-hash'; path: string; expected: string; actual: string };

export function modelFilePath(entry: ModelEntry, modelsDir: string): string {
  return path.join(modelsDir, entry.file);
}

/** Streams the file through sha256, so model files of any size use constant memory. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks the installed file against the catalog: presence, then size (cheap), then sha256. */
export async function verifyModelFile(entry: ModelEntry, modelsDir: string): Promise<ModelFileStatus> {
  const file = modelFilePath(entry, modelsDir);
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) return { status: 'missing', path: file };
    size = info.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'missing', path: file };
    throw error;
  }
  if (size !== entry.sizeBytes) return { status: 'wrong-size', path: file, expected: entry.sizeBytes, actual: size };
  const actual = await sha256File(file);
  if (actual !== entry.sha256) return { status: 'wrong-hash', path: file, expected: entry.sha256, actual };
  return { status: 'ok', path: file };
}

/** One operator-readable phrase for a status, e.g. for `crosscam models verify`. */
export function describeModelFileStatus(status: ModelFileStatus): string {
  switch (status.status) {
    case 'ok':
      return `verified (${status.path})`;
    case 'missing':
      return `missing: ${status.path}`;
    case 'wrong-size':
      return `wrong size: ${status.path} has ${status.actual} bytes, expected ${status.expected}`;
    case 'wrong-hash':
      return `wrong sha256: ${status.path} has ${status.actual}, expected ${status.expected}`;
  }
}
