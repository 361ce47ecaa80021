import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import path from 'node:path';
import { freeDiskBytes } from '../core/state-store.js';
import { ffmpegInput, sourceKind } from '../ingest/ffmpeg-command.js';
import type { ConfigIssue } from './issues.js';
import type { CrosscamConfig } from './schema.js';

/**
 * What `run` needs from this machine before it starts, checked by `run` and `check-config`
 * alike so that a config that passes the check does not then fail at start: files that must
 * exist and be readable (TLS material, file cameras, ffmpeg.path), state directories that
 * must be writable, and a gallery map size the filesystem can hold.
 */
export function environmentIssues(config: CrosscamConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const tls = config.mqtt.tls;
  if (tls?.ca !== undefined) pushIssue(issues, 'mqtt.tls.ca', pemIssue(tls.ca, 'certificate'));
  if (tls?.cert !== undefined) pushIssue(issues, 'mqtt.tls.cert', pemIssue(tls.cert, 'certificate'));
  if (tls?.key !== undefined) pushIssue(issues, 'mqtt.tls.key', pemIssue(tls.key, 'key'));
  if (config.ffmpeg.path !== undefined) pushIssue(issues, 'ffmpeg.path', accessIssue(config.ffmpeg.path, constants.X_OK, 'is not an executable file'));
  config.cameras.forEach((camera, index) => {
    if (!camera.enabled || sourceKind(camera.url) !== 'file') return;
    pushIssue(issues, `cameras.${index}.url`, accessIssue(ffmpegInput(camera.url), constants.R_OK, 'video file not found or not readable (for the demo, set CROSSCAM_DEMO_VIDEO to the PETS09-S2L1 clip)'));
  });
  pushIssue(issues, 'gallery.path', directoryIssue(config.gallery.path));
  if (config.snapshots.enabled) pushIssue(issues, 'snapshots.path', directoryIssue(config.snapshots.path));
  pushIssue(issues, 'gallery.map_size_mb', mapSizeIssue(config.gallery.path, config.gallery.map_size_mb));
  return issues;
}

function pushIssue(issues: ConfigIssue[], key: string, message: string | undefined): void {
  if (message !== undefined) issues.push({ path: key, message });
}

function accessIssue(file: string, mode: number, what: string): string | undefined {
  try {
    accessSync(file, mode);
    return statSync(file).isFile() ? undefined : `${file} ${what} (not a regular file)`;
  } catch (error) {
    return `${file} ${what} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

function pemIssue(file: string, kind: 'certificate' | 'key'): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  try {
    if (kind === 'certificate') new X509Certificate(text);
    else createPrivateKey(text);
    return undefined;
  } catch (error) {
    return `${file} is not a PEM ${kind === 'key' ? 'private key (an encrypted key is not supported)' : 'certificate'}: ${(error as Error).message}`;
  }
}

/** The directory itself when it exists, else its nearest existing ancestor (where it will be created). */
function nearestExisting(dir: string): string {
  let current = path.resolve(dir);
  for (;;) {
    try {
      statSync(current);
      return current;
    } catch {
      const parent = path.dirname(current);
      if (parent === current) return current;
      current = parent;
    }
  }
}

function directoryIssue(dir: string): string | undefined {
  const existing = nearestExisting(dir);
  try {
    if (!statSync(existing).isDirectory()) return `${existing} is not a directory`;
    accessSync(existing, constants.W_OK);
    return undefined;
  } catch (error) {
    return `${existing === path.resolve(dir) ? dir : `${existing} (to create ${dir})`} is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
}

function mapSizeIssue(galleryPath: string, mapSizeMb: number): string | undefined {
  const existing = nearestExisting(galleryPath);
  let currentBytes = 0;
  try {
    currentBytes = statSync(path.join(galleryPath, 'data.mdb')).size;
  } catch {
    // a new gallery
  }
  let freeBytes: number;
  try {
    freeBytes = freeDiskBytes(existing);
  } catch {
    return undefined; // reported as a directory problem
  }
  const roomMb = Math.floor((freeBytes + currentBytes) / 2 ** 20);
  if (mapSizeMb <= roomMb) return undefined;
  return `${mapSizeMb} MB does not fit: ${existing} has ${Math.floor(freeBytes / 2 ** 20)} MB free (the gallery holds ${Math.ceil(currentBytes / 2 ** 20)} MB); lower it to at most ${roomMb} or free disk space`;
}
