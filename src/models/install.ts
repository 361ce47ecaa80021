/**
 * Installs model files into the models directory. A file only ever appears under
 * its final name complete and verified: bytes go to a temp file in the same
 * directory, are hashed as they are written, fsynced, and renamed atomically
 * only when size and sha256 match the catalog. Failures leave nothing behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ModelEntry } from './catalog-schema.js';
import { modelFilePath, verifyModelFile } from './model-file.js';

export type InstallOutcome = { status: 'installed' | 'already-installed'; path: string };

/** Thrown when the offered file is not the catalog's file; the message names expected vs actual. */
export class ModelInstallError extends Error {
  override name = 'ModelInstallError';
}

export interface InstallFromStreamOptions {
  entry: ModelEntry;
  modelsDir: string;
  source: AsyncIterable<Uint8Array>;
  /** Where the bytes come from, for messages (a path or URL). */
  sourceLabel: string;
  onProgress?: (bytesWritten: number) => void;
}

function rejectMessage(entry: ModelEntry, sourceLabel: string, problem: string): string {
  return `${entry.id}: ${sourceLabel} ${problem}; not installed`;
}

async function removeQuietly(file: string): Promise<void> {
  await unlink(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** Makes the rename durable: a directory fsync persists the new directory entry. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export async function installModelFromStream(options: InstallFromStreamOptions): Promise<string> {
  const { entry, modelsDir, source, sourceLabel } = options;
  await mkdir(modelsDir, { recursive: true });
  const target = modelFilePath(entry, modelsDir);
  const temp = path.join(modelsDir, `.${entry.file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
  const hash = createHash('sha256');
  let written = 0;
  const handle = await open(temp, 'wx', 0o644);
  try {
    try {
      for await (const chunk of source) {
        written += chunk.byteLength;
        // Stop early rather than fill the disk with a wrong file.
        if (written > entry.sizeBytes) {
          throw new ModelInstallError(rejectMessage(entry, sourceLabel, `is larger than the expected ${entry.sizeBytes} bytes (wrong file)`));
        }
        hash.update(chunk);
        await handle.write(chunk);
        options.onProgress?.(written);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (written !== entry.sizeBytes) {
      throw new ModelInstallError(
        rejectMessage(entry, sourceLabel, `has ${written} bytes, expected ${entry.sizeBytes} (truncated or wrong file)`),
      );
    }
    const actual = hash.digest('hex');
    if (actual !== entry.sha256) {
      throw new ModelInstallError(rejectMessage(entry, sourceLabel, `has sha256 ${actual}, expected ${entry.sha256} (corrupt or wrong file)`));
    }
    await rename(temp, target);
  } catch (error) {
    await removeQuietly(temp);
    throw error;
  }
  await syncDirectory(modelsDir);
  return target;
}

export interface InstallFromDirectoryOptions {
  entry: ModelEntry;
  modelsDir: string;
  fromDir: string;
}

/** Copies `<fromDir>/<entry.file>` into the models directory unless a verified copy is already there. */
export async function installModelFromDirectory(options: InstallFromDirectoryOptions): Promise<InstallOutcome> {
  const { entry, modelsDir } = options;
  const existing = await verifyModelFile(entry, modelsDir);
  if (existing.status === 'ok') return { status: 'already-installed', path: existing.path };
  const source = path.join(path.resolve(options.fromDir), entry.file);
  let size: number;
  try {
    size = (await stat(source)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ModelInstallError(`${entry.id}: ${source} not found; not installed`);
    throw error;
  }
  // A size mismatch is decided without copying anything.
  if (size !== entry.sizeBytes) {
    throw new ModelInstallError(rejectMessage(entry, source, `has ${size} bytes, expected ${entry.sizeBytes} (truncated or wrong file)`));
  }
  const installed = await installModelFromStream({
    entry,
    modelsDir,
    source: createReadStream(source, { highWaterMark: 1 << 20 }),
    sourceLabel: source,
  });
  return { status: 'installed', path: installed };
}

export interface InstallFromUrlOptions {
  entry: ModelEntry;
  modelsDir: string;
  url: string;
  /** Called once the response headers arrive, with the announced size if any. */
  onStart?: (totalBytes: number | undefined) => void;
  onProgress?: (bytesWritten: number) => void;
  /** Abort when no data arrives for this long; default 60 s. */
  idleTimeoutMs?: number;
}

/** Downloads with fetch, streaming into the same verified temp-file-and-rename path. */
export async function installModelFromUrl(options: InstallFromUrlOptions): Promise<InstallOutcome> {
  const { entry, modelsDir, url } = options;
  const existing = await verifyModelFile(entry, modelsDir);
  if (existing.status === 'ok') return { status: 'already-installed', path: existing.path };

  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const controller = new AbortController();
  let idleTimer = setTimeout(() => controller.abort(), idleTimeoutMs);
  const touch = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => controller.abort(), idleTimeoutMs);
  };
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal });
    } catch (error) {
      throw new ModelInstallError(`${entry.id}: download from ${url} failed: ${describeFetchError(error, controller, idleTimeoutMs)}; not installed`);
    }
    if (!response.ok || !response.body) {
      throw new ModelInstallError(`${entry.id}: download from ${url} failed: HTTP ${response.status} ${response.statusText}; not installed`);
    }
    const announced = Number(response.headers.get('content-length') ?? Number.NaN);
    if (Number.isFinite(announced) && announced !== entry.sizeBytes) {
      await response.body.cancel();
      throw new ModelInstallError(rejectMessage(entry, url, `announces ${announced} bytes, expected ${entry.sizeBytes} (truncated or wrong file)`));
    }
    options.onStart?.(Number.isFinite(announced) ? announced : undefined);
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    try {
      const installed = await installModelFromStream({
        entry,
        modelsDir,
        source: body,
        sourceLabel: url,
        onProgress: (bytes) => {
          touch();
          options.onProgress?.(bytes);
        },
      });
      return { status: 'installed', path: installed };
    } catch (error) {
      if (error instanceof ModelInstallError) throw error;
      throw new ModelInstallError(`${entry.id}: download from ${url} failed: ${describeFetchError(error, controller, idleTimeoutMs)}; not installed`);
    } finally {
      body.destroy();
    }
  } finally {
    clearTimeout(idleTimer);
  }
}

function describeFetchError(error: unknown, controller: AbortController, idleTimeoutMs: number): string {
  if (controller.signal.aborted) return `no data for ${idleTimeoutMs / 1000} s`;
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return `${(error as Error).message}${detail}`;
}
