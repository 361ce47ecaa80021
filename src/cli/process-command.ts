import { createWriteStream } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes.js';
import { boxArray, isoTime, round } from '../core/json-values.js';
import { createLogger } from '../core/logger.js';
import { OperatorError } from '../core/operator-error.js';
import type { ObjectClass } from '../core/types.js';
import { ffmpegInput, sourceKind } from '../ingest/ffmpeg-command.js';
import { readFfmpegFrames } from '../ingest/ffmpeg-frames.js';
import { CameraPipeline, type EndedTrack } from '../pipeline/camera-pipeline.js';
import { detectAhead } from '../pipeline/detect-ahead.js';
import { cameraPipelineOptions, inferenceWorkerCount, openVisionModels, readConfigOrDefaults, selectCamera } from '../pipeline/setup.js';
import { createProgress, PROCESS_IO, type CommandIo } from './progress.js';

interface ProcessOptions {
  out: string;
  config?: string;
  camera?: string;
  fps?: number;
  modelsDir?: string;
}

/** One JSON line per ended track; field names follow the MQTT payloads' snake_case. */
export function trackRecord(track: EndedTrack): Record<string, unknown> {
  return {
    camera: track.cameraId,
    track_id: track.trackId,
    class: track.objectClass,
    first_frame: track.firstFrameIndex,
    last_frame: track.lastFrameIndex,
    first_pts: track.firstPts,
    last_pts: track.lastPts,
    first_seen: isoTime(track.firstSeenAt),
    last_seen: isoTime(track.lastSeenAt),
    best_box: boxArray(track.bestCrop?.box ?? track.box),
    best_frame: track.bestCrop?.frameIndex ?? track.lastFrameIndex,
    best_pts: track.bestCrop?.pts ?? track.lastPts,
    quality: round(track.quality, 3),
    crops: track.crops,
    embedding: track.embedding ? Array.from(track.embedding, (v) => round(v, 6)) : null,
  };
}

function parseDurationSeconds(line: string): number | undefined {
  const match = /Duration: (\d+):(\d+):([\d.]+)/.exec(line);
  return match ? Number(match[1]) * 3600 + Number(match[2]) * 60 + Number(match[3]) : undefined;
}

async function processVideo(io: CommandIo, video: string | undefined, options: ProcessOptions): Promise<void> {
  const logger = createLogger({ level: process.env.CROSSCAM_LOG_LEVEL ?? 'warn' });
  if (video === undefined && options.config === undefined) throw new OperatorError('give a VIDEO, a --config with a camera, or both', ExitCode.USAGE);
  const loaded = await readConfigOrDefaults(options.config, video ?? '');
  const camera = selectCamera(loaded.config, options.camera);
  const url = video ?? camera.url;
  if (sourceKind(url) === 'file') {
    await access(ffmpegInput(url)).catch((error: Error) => {
      throw new OperatorError(`cannot read video: ${error.message}`, ExitCode.NO_INPUT);
    });
  }
  const workers = inferenceWorkerCount(loaded.config.runtime);
  const models = await openVisionModels({ ...loaded, logger, workers, ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}) });
  const pipeline = new CameraPipeline(cameraPipelineOptions(loaded.config, camera, models));
  await mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
  const out = createWriteStream(options.out);
  const write = async (tracks: EndedTrack[]) => {
    for (const track of tracks) if (!out.write(`${JSON.stringify(trackRecord(track))}\n`)) await once(out, 'drain');
  };

  const progress = createProgress(io, `processing ${camera.id}`);
  const byClass = new Map<ObjectClass, number>();
  let ended = 0;
  let withEmbedding = 0;
  let frames = 0;
  let durationS = 0;
  let outputFps = 0;
  let size = '';
  const started = performance.now();
  const count = (tracks: EndedTrack[]) => {
    for (const track of tracks) {
      ended += 1;
      if (track.embedding) withEmbedding += 1;
      byClass.set(track.objectClass, (byClass.get(track.objectClass) ?? 0) + 1);
    }
  };
  try {
    const source = readFfmpegFrames({
      url,
      cameraId: camera.id,
      ...(options.fps !== undefined ? { fps: options.fps } : {}),
      ...(camera.ffmpeg.filter !== undefined ? { filter: camera.ffmpeg.filter } : {}),
      ...(camera.detect.width !== undefined && camera.detect.height !== undefined ? { width: camera.detect.width, height: camera.detect.height } : { maxSide: camera.detect.max_side }),
      extraInputArgs: camera.ffmpeg.input_args,
      decodeThreads: loaded.config.ffmpeg.threads,
      ...(loaded.config.ffmpeg.path !== undefined ? { ffmpegPath: loaded.config.ffmpeg.path } : {}),
      onStreamInfo: (info) => {
        size = `${info.width}x${info.height}`;
        outputFps = info.fps;
      },
      onStderrLine: (line) => (durationS = parseDurationSeconds(line) ?? durationS),
    });
    // One frame per inference worker is detected ahead while the current one is tracked and embedded.
    for await (const { frame, detections } of detectAhead(source, models.detector, workers)) {
      const result = await pipeline.processDetected(frame, detections);
      count(result.ended);
      await write(result.ended);
      frames += 1;
      progress.update(frames, Math.max(frames, Math.round(durationS * outputFps)));
    }
    const rest = pipeline.finish();
    count(rest);
    await write(rest);
  } finally {
    progress.stop();
    out.end();
    await once(out, 'close');
    await models.release();
  }
  const seconds = (performance.now() - started) / 1000;
  const classes = [...byClass].map(([name, n]) => `${name} ${n}`).join(', ') || 'none';
  const providers = Object.entries(models.providers).map(([model, provider]) => `${model} on ${provider}`).join(', ');
  io.stdout.write(
    `processed ${frames} frames (${size}) of ${camera.id} in ${seconds.toFixed(2)} s (${(frames / seconds).toFixed(1)} fps): ` +
      `${ended} tracks (${classes}), ${withEmbedding} with an embedding from ${pipeline.embeddedCrops} crops -> ${options.out} [${providers}]\n`,
  );
}

function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new OperatorError(`expected a positive number, got '${value}'`, ExitCode.USAGE);
  return n;
}

/** `crosscam process`: the vision core offline, file in, one JSON line per track out. */
export function registerProcessCommand(program: Command, io: CommandIo = PROCESS_IO): void {
  program
    .command('process')
    .description('detect, track and embed a video file offline; writes one JSON line per ended track')
    .argument('[video]', "video file (default: the selected camera's url from --config)")
    .requiredOption('--out <file>', 'output JSON lines file')
    .option('--config <file>', 'crosscam config (models, runtime, detect, track, embed and the camera settings)')
    .option('--camera <id>', 'camera of the config whose settings (filter, classes, masks) apply (default: the first enabled)')
    .option('--fps <n>', 'process this many frames per second of video (default: every frame)', parsePositiveNumber)
    .option('--models-dir <dir>', 'models directory (default: config models.dir, $CROSSCAM_MODELS_DIR or /var/lib/crosscam/models)')
    .action((video: string | undefined, options: ProcessOptions) => processVideo(io, video, options));
}
