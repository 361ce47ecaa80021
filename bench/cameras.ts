/**
 * Many cameras on one box: serves N RTSP cameras with GStreamer (PETS09-S2L1 scaled to
 * 1280x720, H.264 at 25 fps), runs the real daemon against a real Mosquitto with
 * `detect.fps` 5 and person re-ID, and steps N up until a camera falls behind. Each step
 * reports per-camera processed fps, skipped frames, pipeline time, frame → MQTT `new`
 * sighting latency, CPU and RSS. Used by `npm run bench` (bench/run.ts) and runnable alone:
 *   node dist/bench/cameras.js --cameras 4,8 --seconds 40
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SightingMessage, StatsMessage } from '../src/publish/messages.js';
import { startDaemon } from '../test/support/daemon-process.js';
import { startMosquitto } from '../test/support/mosquitto.js';
import { collectMqtt } from '../test/support/mqtt-collector.js';
import { freePort } from '../test/support/ports.js';
import { groupProcesses } from '../test/support/process-group.js';
import { makeH264Clip, startRtspServer } from '../test/support/rtsp-server.js';
import { PETS_VIDEO } from '../test/support/shared-data.js';

export interface CameraStepOptions {
  cameras: number;
  /** Measured seconds after the warm-up. */
  seconds: number;
  warmUpS: number;
  /** Extra daemon config merged over the bench's (e.g. { runtime: {...} }). */
  config?: Record<string, unknown>;
  /** Added to the daemon's environment. */
  env?: NodeJS.ProcessEnv;
  /** Node.js and V8 flags for the daemon (e.g. --cpu-prof to profile it, --trace-gc). */
  nodeArgs?: string[];
  /** Told every stats message, warm-up included, with its time since the daemon started (s), for soaks. */
  onStats?: (stats: StatsMessage, atS: number) => void;
  /** Told the daemon's memory every 30 s while it runs, warm-up included (time since start, s), for soaks. */
  onMemory?: (memory: DaemonMemory, atS: number) => void;
}

/** From /proc/<pid>/smaps_rollup: heap and native allocations apart from mapped file pages (LMDB's map). */
export interface DaemonMemory {
  anonymousMb: number;
  fileMb: number;
}

/** One model's network runs over a window: how many, the frames or crops they ran, and their seconds. */
export interface InferenceFigures {
  runs: number;
  items: number;
  seconds: number;
}

/** Running totals read off the daemon's /metrics: every model's network runs, and the main isolate's full (mark-compact) collections. */
async function metricTotals(metricsUrl: string): Promise<{ inference: Record<string, InferenceFigures>; majorGcs: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const totals: Record<string, InferenceFigures> = {};
  const series = /^crosscam_inference_(items_total|seconds_count|seconds_sum)\{model="([^"]+)",provider="[^"]+"\} ([\d.e+-]+)$/gm;
  for (const [, name, model, value] of text.matchAll(series)) {
    const figures = (totals[model!] ??= { runs: 0, items: 0, seconds: 0 });
    figures[name === 'items_total' ? 'items' : name === 'seconds_count' ? 'runs' : 'seconds'] += Number(value);
  }
  const majorGcs = Number(/^nodejs_gc_duration_seconds_count\{kind="major"\} ([\d.e+-]+)$/m.exec(text)?.[1] ?? NaN);
  return { inference: totals, majorGcs };
}

export interface CameraFigures {
  camera: string;
  fps: number;
  /** Frames dropped (newest frame wins) during the measured window. */
  skipped: number;
  /** skipped / (processed + skipped) over the window. */
  skippedFraction: number;
  pipelineMs: number;
  latencyMs: number;
}

export interface CameraStepResult {
  cameras: number;
  seconds: number;
  perCamera: CameraFigures[];
  minFps: number;
  maxSkippedFraction: number;
  /** Frame → MQTT `new` sighting (subscriber arrival − the sighting's last_seen), ms. */
  sightingLatencyMs: { count: number; p50: number; p95: number; p99: number };
  /** Busy share of all cores of the machine (100 % = one core). */
  machineCpuPercent: number;
  /** The daemon and its ffmpeg children. */
  daemonCpuPercent: number;
  /** Its ffmpeg children alone (decoding, scaling, pixel format). */
  ffmpegCpuPercent: number;
  rssMb: number;
  /** Network runs over the window, by model, from the daemon's Prometheus metrics. */
  inference: Record<string, InferenceFigures>;
  /** Full (mark-compact) collections of the daemon's main isolate per second over the window. */
  majorGcPerS: number;
  /** ≥ 4.9 fps on every camera, < 1 % skipped, p99 ≤ 500 ms. */
  holds: boolean;
}

const CLIP_CACHE = path.join(os.tmpdir(), 'crosscam-bench-clips');

/** The 720p25 camera clip, made once per length and kept in the temp dir between runs. */
export async function cameraClip(durationS: number): Promise<string> {
  await mkdir(CLIP_CACHE, { recursive: true });
  const file = path.join(CLIP_CACHE, `pets09-720p25-${durationS}s.mp4`);
  if (existsSync(file)) return file;
  const loopS = 79.5;
  await makeH264Clip({
    input: PETS_VIDEO,
    output: `${file}.partial.mp4`,
    repeats: Math.ceil(durationS / loopS),
    filter: 'scale=1280:720',
    fps: 25,
    durationS,
    gop: 25,
  });
  await rename(`${file}.partial.mp4`, file);
  return file;
}

/** Busy and total jiffies of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3]! + fields[4]!;
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

function daemonMemory(pid: number): DaemonMemory | null {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN);
    return { anonymousMb: kb('Anonymous') / 1024, fileMb: (kb('Rss') - kb('Anonymous')) / 1024 };
  } catch {
    return null; // the daemon has exited
  }
}

/** CPU ticks of the daemon's process group: all, and its ffmpeg children alone. */
function groupTicks(pgid: number): { all: number; ffmpeg: number } {
  const processes = groupProcesses(pgid);
  const sum = (list: typeof processes) => list.reduce((total, p) => total + p.cpuTicks, 0);
  return { all: sum(processes), ffmpeg: sum(processes.filter((p) => p.comm === 'ffmpeg')) };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);

/** One step: N cameras for warm-up + seconds. Every process it starts is ended before it returns. */
export async function runCameraStep(options: CameraStepOptions): Promise<CameraStepResult> {
  const clip = await cameraClip(Math.max(120, Math.ceil(options.warmUpS + options.seconds + 30)));
  const ids = Array.from({ length: options.cameras }, (_, i) => `cam${String(i + 1).padStart(2, '0')}`);
  const rtsp = await startRtspServer({ mounts: Object.fromEntries(ids.map((id) => [id, clip])) });
  const broker = await startMosquitto();
  const galleryDir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-bench-cameras-'));
  const collector = await collectMqtt({ url: broker.url, topics: ['crosscam/bench/#'] });
  let daemon: ReturnType<typeof startDaemon> | undefined;
  try {
    const httpPort = await freePort();
    const metricsUrl = `http://127.0.0.1:${httpPort}/metrics`;
    daemon = startDaemon({
      config: {
        node_id: 'bench',
        detect: { fps: 5, classes: ['person'] },
        cameras: ids.map((id) => ({ id, url: rtsp.url(id) })),
        mqtt: { url: broker.url, stats_interval_s: 5 },
        gallery: { path: galleryDir },
        log: { level: 'warn' },
        http: { port: httpPort },
        ...options.config,
      },
      ...(options.env ? { env: options.env } : {}),
      ...(options.nodeArgs ? { nodeArgs: options.nodeArgs } : {}),
    });
    const started = Date.now();
    const daemonPid = daemon.pid;
    const memoryTimer = options.onMemory
      ? setInterval(() => {
          const memory = daemonMemory(daemonPid);
          if (memory) options.onMemory!(memory, (Date.now() - started) / 1000);
        }, 30_000)
      : undefined;
    await new Promise((resolve) => setTimeout(resolve, options.warmUpS * 1000));
    const measureStart = Date.now();
    const cpuStart = { machine: machineTicks(), daemon: groupTicks(daemon.pid) };
    const metricsStart = await metricTotals(metricsUrl);
    const firstIndex = collector.messages.length;
    await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
    const cpuEnd = { machine: machineTicks(), daemon: groupTicks(daemon.pid) };
    const metricsEnd = await metricTotals(metricsUrl);
    const inference = Object.fromEntries(
      Object.entries(metricsEnd.inference).map(([model, end]) => {
        const start = metricsStart.inference[model] ?? { runs: 0, items: 0, seconds: 0 };
        return [model, { runs: end.runs - start.runs, items: end.items - start.items, seconds: end.seconds - start.seconds }];
      }),
    );
    clearInterval(memoryTimer);
    const elapsedS = (Date.now() - measureStart) / 1000;

    for (const m of collector.messages) if (m.topic === 'crosscam/bench/stats') options.onStats?.(m.payload as StatsMessage, (m.receivedAt - started) / 1000);
    const window = collector.messages.slice(firstIndex);
    const stats = window.filter((m) => m.topic === 'crosscam/bench/stats').map((m) => ({ at: m.receivedAt, stats: m.payload as StatsMessage }));
    const before = collector.messages.slice(0, firstIndex).filter((m) => m.topic === 'crosscam/bench/stats').at(-1)?.payload as StatsMessage | undefined;
    const last = stats.at(-1)?.stats;
    const perCamera = ids.map((id): CameraFigures => {
      const entries = stats.flatMap((s) => s.stats.cameras.filter((c) => c.camera === id));
      const at = (s: StatsMessage | undefined) => s?.cameras.find((c) => c.camera === id);
      const skipped = (at(last)?.skipped ?? 0) - (at(before)?.skipped ?? 0);
      const processed = (at(last)?.processed ?? 0) - (at(before)?.processed ?? 0);
      return {
        camera: id,
        fps: mean(entries.map((c) => c.fps)),
        skipped,
        skippedFraction: skipped / Math.max(processed + skipped, 1),
        pipelineMs: mean(entries.flatMap((c) => (c.pipeline_ms === null ? [] : [c.pipeline_ms]))),
        latencyMs: mean(entries.flatMap((c) => (c.latency_ms === null ? [] : [c.latency_ms]))),
      };
    });
    const latencies = window
      .filter((m) => m.topic === 'crosscam/bench/sightings' && (m.payload as SightingMessage).type === 'new')
      .map((m) => m.receivedAt - Date.parse((m.payload as SightingMessage).last_seen));
    const sightingLatencyMs = { count: latencies.length, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), p99: percentile(latencies, 0.99) };
    const minFps = Math.min(...perCamera.map((c) => c.fps));
    const maxSkippedFraction = Math.max(...perCamera.map((c) => c.skippedFraction));
    return {
      cameras: options.cameras,
      seconds: elapsedS,
      perCamera,
      minFps,
      maxSkippedFraction,
      sightingLatencyMs,
      machineCpuPercent: ((cpuEnd.machine.busy - cpuStart.machine.busy) / (cpuEnd.machine.total - cpuStart.machine.total)) * 100 * os.cpus().length,
      daemonCpuPercent: ((cpuEnd.daemon.all - cpuStart.daemon.all) / 100 / elapsedS) * 100, // USER_HZ = 100
      ffmpegCpuPercent: ((cpuEnd.daemon.ffmpeg - cpuStart.daemon.ffmpeg) / 100 / elapsedS) * 100,
      rssMb: last?.process.rss_mb ?? NaN,
      inference,
      majorGcPerS: (metricsEnd.majorGcs - metricsStart.majorGcs) / elapsedS,
      holds: minFps >= 4.9 && maxSkippedFraction < 0.01 && sightingLatencyMs.p99 <= 500,
    };
  } finally {
    await daemon?.stop('SIGTERM', 30_000).catch(() => undefined);
    await daemon?.dispose();
    await collector.close();
    await broker.dispose();
    await rtsp.stop();
    await rm(galleryDir, { recursive: true, force: true });
  }
}

/** Steps through `counts` in order and stops after the first that does not hold. */
export async function stepCameras(counts: readonly number[], step: Omit<CameraStepOptions, 'cameras'>, log: (line: string) => void): Promise<CameraStepResult[]> {
  const results: CameraStepResult[] = [];
  for (const cameras of counts) {
    const result = await runCameraStep({ ...step, cameras });
    results.push(result);
    log(
      `${cameras} cameras: min fps ${result.minFps.toFixed(2)}, max skipped ${(result.maxSkippedFraction * 100).toFixed(1)} %, ` +
        `pipeline ${mean(result.perCamera.map((c) => c.pipelineMs)).toFixed(0)} ms, new-sighting p99 ${result.sightingLatencyMs.p99} ms, ` +
        `machine CPU ${result.machineCpuPercent.toFixed(0)} % (ffmpeg ${result.ffmpegCpuPercent.toFixed(0)} %), full GCs ${result.majorGcPerS.toFixed(2)}/s, RSS ${result.rssMb} MiB → ${result.holds ? 'holds' : 'falls behind'}`,
    );
    if (!result.holds) break;
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { cameras: { type: 'string', default: '4,8' }, seconds: { type: 'string', default: '40' }, 'warm-up': { type: 'string', default: '20' } } });
  const results = await stepCameras(values.cameras.split(',').map(Number), { seconds: Number(values.seconds), warmUpS: Number(values['warm-up']) }, (line) => process.stdout.write(`${line}\n`));
  process.stdout.write(`${JSON.stringify(results, null, 1)}\n`);
}
