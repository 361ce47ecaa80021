/**
 * `crosscam doctor`: what a daemon needs from the machine it runs on, checked one by one with
 * an actionable message for each problem: ffmpeg and its hardware decoders, the execution
 * providers that load, the model files, the broker with the configured credentials, each
 * camera (credentials redacted), and the state directories (free space, permissions).
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { freeDiskBytes } from '../core/state-store.js';
import path from 'node:path';
import mqtt from 'mqtt';
import type { CrosscamConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { BUNDLED_FFMPEG_PATH } from '../ingest/ffmpeg-frames.js';
import { redactCredentials } from '../core/redaction.js';
import { ffmpegInput, sourceKind } from '../ingest/ffmpeg-command.js';
import type { ModelCatalog } from '../models/catalog.js';
import { describeModelFileStatus, modelFilePath, verifyModelFile } from '../models/model-file.js';
import { providerRequests } from '../pipeline/setup.js';
import { createInferenceSession } from '../runtime/inference-session.js';

export interface DoctorCheck {
  /** e.g. `ffmpeg`, `provider cuda`, `camera gate`. */
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about a failed check. */
  fix?: string;
}

const run = (file: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (error, stdout, stderr) => (error ? reject(Object.assign(error, { stderr })) : resolve({ stdout, stderr })));
  });

async function checkFfmpeg(config: CrosscamConfig): Promise<DoctorCheck> {
  const binary = config.ffmpeg.path ?? BUNDLED_FFMPEG_PATH;
  try {
    const version = (await run(binary, ['-hide_banner', '-version'], 10_000)).stdout.split('\n')[0] ?? '';
    const hwaccels = (await run(binary, ['-hide_banner', '-hwaccels'], 10_000)).stdout.split('\n').slice(1).map((line) => line.trim()).filter(Boolean);
    return { name: 'ffmpeg', ok: true, detail: `${binary}: ${version}; hardware decoders: ${hwaccels.join(', ') || 'none'}` };
  } catch (error) {
    return { name: 'ffmpeg', ok: false, detail: `${binary} does not run: ${(error as Error).message}`, fix: 'install ffmpeg or set ffmpeg.path to a working build (e.g. a Jetson hardware-decoding build)' };
  }
}

async function checkProviders(config: CrosscamConfig, catalog: ModelCatalog, modelsDir: string, logger: Logger): Promise<DoctorCheck[]> {
  const detector = catalog.models.get(config.models.detector);
  if (!detector) return [];
  const checks: DoctorCheck[] = [];
  for (const request of providerRequests(config.runtime)) {
    try {
      const created = await createInferenceSession({ model: modelFilePath(detector, modelsDir), label: `doctor ${request.name}`, providers: [request], logger });
      await created.session.release();
      const loaded = created.provider === request.name;
      checks.push({
        name: `provider ${request.name}`,
        ok: loaded,
        detail: loaded ? `loads ${detector.id}` : `not available here (onnxruntime fell back to ${created.provider})`,
        ...(loaded ? {} : { fix: `install the ${request.name} libraries (JetPack on Jetson), or remove it from runtime.providers` }),
      });
    } catch (error) {
      checks.push({ name: `provider ${request.name}`, ok: false, detail: (error as Error).message, fix: `remove ${request.name} from runtime.providers, or install its libraries` });
    }
  }
  return checks;
}

async function checkModels(config: CrosscamConfig, catalog: ModelCatalog, modelsDir: string): Promise<DoctorCheck[]> {
  const ids = [config.models.detector, config.models.reid.person, config.models.reid.vehicle].filter((id): id is string => id !== undefined);
  const checks: DoctorCheck[] = [];
  for (const id of ids) {
    const entry = catalog.models.get(id);
    if (!entry) continue;
    const status = await verifyModelFile(entry, modelsDir);
    checks.push({
      name: `model ${id}`,
      ok: status.status === 'ok',
      detail: describeModelFileStatus(status),
      ...(status.status === 'ok' ? {} : { fix: `crosscam models install ${id} --from DIR (or set models.dir / CROSSCAM_MODELS_DIR)` }),
    });
  }
  return checks;
}

async function checkBroker(config: CrosscamConfig): Promise<DoctorCheck> {
  const url = redactCredentials(config.mqtt.url);
  if (config.mqtt.embedded_broker.enabled) {
    return { name: 'broker', ok: true, detail: `embedded broker on ${config.mqtt.embedded_broker.host}:${config.mqtt.embedded_broker.port} (started by the daemon)` };
  }
  try {
    const client = await mqtt.connectAsync(config.mqtt.url, {
      protocolVersion: config.mqtt.protocol_version,
      connectTimeout: 5000,
      reconnectPeriod: 0,
      ...(config.mqtt.username !== undefined ? { username: config.mqtt.username } : {}),
      ...(config.mqtt.password !== undefined ? { password: config.mqtt.password } : {}),
      ...(config.mqtt.tls?.reject_unauthorized === false ? { rejectUnauthorized: false } : {}),
    });
    await client.endAsync();
    return { name: 'broker', ok: true, detail: `${url}: connected${config.mqtt.username !== undefined ? ` as ${config.mqtt.username}` : ''}` };
  } catch (error) {
    return { name: 'broker', ok: false, detail: `${url}: ${redactCredentials((error as Error).message)}`, fix: 'check mqtt.url, the broker is running and reachable, and mqtt.username / mqtt.password' };
  }
}

async function checkCamera(config: CrosscamConfig, camera: CrosscamConfig['cameras'][number]): Promise<DoctorCheck> {
  const url = redactCredentials(camera.url);
  const kind = sourceKind(camera.url);
  const input = kind === 'rtsp' ? ['-rtsp_transport', 'tcp', '-stimeout', String(config.ffmpeg.rtsp_timeout_s * 1_000_000)] : [];
  try {
    const started = performance.now();
    await run(config.ffmpeg.path ?? BUNDLED_FFMPEG_PATH, ['-v', 'error', ...input, '-i', ffmpegInput(camera.url), '-frames:v', '1', '-f', 'null', '-'], (config.ffmpeg.rtsp_timeout_s + 5) * 1000);
    return { name: `camera ${camera.id}`, ok: true, detail: `${url}: first frame decoded in ${Math.round(performance.now() - started)} ms` };
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim().split('\n').pop() || (error as Error).message;
    return { name: `camera ${camera.id}`, ok: false, detail: `${url}: ${redactCredentials(stderr)}`, fix: 'check the camera is powered and reachable, its URL, path and credentials (try the URL in VLC)' };
  }
}

async function checkDirectory(name: string, dir: string, neededMb: number): Promise<DoctorCheck> {
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
    const freeMb = freeDiskBytes(dir) / 2 ** 20;
    const ok = freeMb >= neededMb;
    return {
      name,
      ok,
      detail: `${path.resolve(dir)}: writable, ${Math.round(freeMb)} MB free`,
      ...(ok ? {} : { fix: `free disk space (at least ${neededMb} MB) or move it to a larger filesystem` }),
    };
  } catch (error) {
    return { name, ok: false, detail: `${path.resolve(dir)}: ${(error as Error).message}`, fix: 'create it and give the crosscam user write access (the unit\'s StateDirectory does this)' };
  }
}

export async function runDoctor(options: { config: CrosscamConfig; catalog: ModelCatalog; modelsDir: string; logger: Logger }): Promise<DoctorCheck[]> {
  const { config, catalog, modelsDir, logger } = options;
  const checks: DoctorCheck[] = [await checkFfmpeg(config)];
  checks.push(...(await checkModels(config, catalog, modelsDir)));
  checks.push(...(await checkProviders(config, catalog, modelsDir, logger)));
  checks.push(await checkBroker(config));
  checks.push(...(await Promise.all(config.cameras.filter((camera) => camera.enabled).map((camera) => checkCamera(config, camera)))));
  checks.push(await checkDirectory('gallery directory', config.gallery.path, Math.min(config.gallery.map_size_mb, 1024)));
  if (config.snapshots.enabled) checks.push(await checkDirectory('snapshots directory', config.snapshots.path, 100));
  return checks;
}
