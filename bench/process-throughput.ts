/**
 * `crosscam process` against its two yardsticks on PETS09-S2L1, each a separate process, in
 * turn round after round (crosscam, Python + OpenCV-DNN, naive TypeScript), so that every
 * ratio is taken within one round on the same machine state. Frames per second count the
 * frame loop only (each pipeline loads its models before its clock starts).
 * Part of `npm run bench`; models from $CROSSCAM_MODELS_DIR (else ../shared/models).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { median } from '../src/core/statistics.js';
import { BUNDLED_FFMPEG_PATH } from '../src/ingest/ffmpeg-frames.js';
import { SYSTEM_PYTHON } from '../test/support/rtsp-server.js';
import { PETS_VIDEO, SHARED_MODELS_DIR } from '../test/support/shared-data.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const NAIVE = path.join(ROOT, 'dist/bench/naive-pipeline.js');
const OPENCV = path.join(ROOT, 'bench/opencv-pipeline.py');

export type PipelineName = 'crosscam process' | 'Python + OpenCV-DNN' | 'naive TypeScript';

export interface PipelineRun {
  frames: number;
  seconds: number;
  fps: number;
  /** Crops embedded per frame: the re-ID work each pipeline chose to do. */
  cropsPerFrame: number;
  tracks: number;
}

export interface ProcessThroughputFigures {
  frames: number;
  rounds: number;
  pipelines: { name: PipelineName; command: string; runs: PipelineRun[]; medianFps: number | null; unavailable?: string }[];
  /** crosscam fps / the other's fps, per round, and their median. */
  ratios: { versus: PipelineName; perRound: number[]; median: number | null }[];
}

/** Runs a command in its own process group to its end and returns its stdout; the group is killed whatever happens. */
function runToEnd(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<string> {
  const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`${path.basename(command)} ${args.slice(0, 2).join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`))));
  }).finally(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group has already gone
    }
  });
}

/** Why the Python yardstick cannot run here, or null. */
function opencvUnavailable(): string | null {
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', 'import cv2, numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${SYSTEM_PYTHON} cannot import cv2 and numpy (Debian python3-opencv)`;
}

export async function measureProcessThroughput(options: { frames: number; rounds: number; log: (line: string) => void }): Promise<ProcessThroughputFigures> {
  const modelsDir = process.env.CROSSCAM_MODELS_DIR ?? SHARED_MODELS_DIR;
  const env = { ...process.env, CROSSCAM_MODELS_DIR: modelsDir };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-process-bench-'));
  try {
    // A clip of the first `frames` frames (stream copy: the same pixels), or the whole video.
    let video = PETS_VIDEO;
    if (options.frames > 0) {
      video = path.join(dir, 'clip.avi');
      await runToEnd(BUNDLED_FFMPEG_PATH, ['-loglevel', 'error', '-i', PETS_VIDEO, '-frames:v', String(options.frames), '-c', 'copy', video], env);
    }
    const out = path.join(dir, 'tracks.jsonl');
    const commands: { name: PipelineName; command: string; args: string[]; unavailable: string | null; parse: (stdout: string) => PipelineRun }[] = [
      {
        name: 'crosscam process',
        command: process.execPath,
        args: [CLI, 'process', video, '--out', out],
        unavailable: null,
        parse: (stdout) => {
          const match = /^processed (\d+) frames .* in ([\d.]+) s .*: (\d+) tracks .* from (\d+) crops/.exec(stdout);
          if (!match) throw new Error(`unexpected crosscam process output: ${stdout}`);
          const frames = Number(match[1]);
          return { frames, seconds: Number(match[2]), fps: frames / Number(match[2]), cropsPerFrame: Number(match[4]) / frames, tracks: Number(match[3]) };
        },
      },
      { name: 'Python + OpenCV-DNN', command: SYSTEM_PYTHON, args: [OPENCV, video, path.join(modelsDir, 'yolox_nano.onnx'), path.join(modelsDir, 'osnet_x0_25_msmt17.onnx')], unavailable: opencvUnavailable(), parse: parseJsonRun },
      { name: 'naive TypeScript', command: process.execPath, args: [NAIVE, video], unavailable: null, parse: parseJsonRun },
    ];
    const runs = new Map<PipelineName, PipelineRun[]>(commands.map((c) => [c.name, []]));
    const perRound: Map<PipelineName, number>[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const fpsThisRound = new Map<PipelineName, number>();
      for (const command of commands) {
        if (command.unavailable) continue;
        const run = command.parse(await runToEnd(command.command, command.args, env));
        runs.get(command.name)!.push(run);
        fpsThisRound.set(command.name, run.fps);
        options.log(`process throughput, round ${round + 1}/${options.rounds}: ${command.name} ${run.fps.toFixed(1)} fps (${run.frames} frames)`);
      }
      perRound.push(fpsThisRound);
    }
    // As one would type it from the checkout; the clip and the output live in a temporary directory.
    const shown = (arg: string) => (arg.startsWith(dir) ? `$TMP/${path.basename(arg)}` : arg.startsWith(ROOT) ? path.relative(ROOT, arg) : arg === PETS_VIDEO ? '../shared/data/PETS09-S2L1/vtest.avi' : arg);
    const display = (command: (typeof commands)[number]) => [command.command === process.execPath ? 'node' : command.command, ...command.args.map(shown)].join(' ');
    return {
      frames: runs.get('crosscam process')![0]?.frames ?? 0,
      rounds: options.rounds,
      pipelines: commands.map((command) => {
        const own = runs.get(command.name)!;
        return {
          name: command.name,
          command: display(command),
          runs: own,
          medianFps: own.length > 0 ? median(own.map((run) => run.fps)) : null,
          ...(command.unavailable ? { unavailable: command.unavailable } : {}),
        };
      }),
      ratios: (['Python + OpenCV-DNN', 'naive TypeScript'] as const).map((versus) => {
        const ratios = perRound.filter((round) => round.has(versus)).map((round) => round.get('crosscam process')! / round.get(versus)!);
        return { versus, perRound: ratios, median: ratios.length > 0 ? median(ratios) : null };
      }),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function parseJsonRun(stdout: string): PipelineRun {
  const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { frames: number; seconds: number; crops: number; tracks: number };
  return { frames: result.frames, seconds: result.seconds, fps: result.frames / result.seconds, cropsPerFrame: result.crops / result.frames, tracks: result.tracks };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({ options: { frames: { type: 'string', default: '0' }, rounds: { type: 'string', default: '3' } } });
  const figures = await measureProcessThroughput({ frames: Number(values.frames), rounds: Number(values.rounds), log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(`${JSON.stringify(figures, null, 1)}\n`);
}
