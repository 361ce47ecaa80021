import ffmpeg from 'fluent-ffmpeg';
import ffmpegInstaller from '@ffmpeg-installer/ffmpeg';
import type { Frame } from '../core/types.js';
import { buildFfmpegCommand, OutputStreamHeader, type FfmpegCommand, type FfmpegSourceSpec, type RawStreamInfo } from './ffmpeg-command.js';
import { redactCredentials } from '../core/redaction.js';
import { RawFrameAssembler } from './raw-frame-assembler.js';

export const BUNDLED_FFMPEG_PATH: string = ffmpegInstaller.path;

export interface FfmpegFramesOptions extends FfmpegSourceSpec {
  cameraId: string;
  /** Override of the bundled ffmpeg (e.g. a build with hardware decoding). */
  ffmpegPath?: string;
  /** Every stderr line except the stream header, credentials already redacted. */
  onStderrLine?: (line: string) => void;
  /** Called once the output stream's size and rate are known. */
  onStreamInfo?: (info: RawStreamInfo) => void;
}

/** A fluent-ffmpeg command for `spec` on the bundled ffmpeg, or `ffmpegPath`. */
export function ffmpegCommand(spec: FfmpegCommand, ffmpegPath?: string): ffmpeg.FfmpegCommand {
  return ffmpeg(spec.input)
    .setFfmpegPath(ffmpegPath ?? BUNDLED_FFMPEG_PATH)
    .inputOptions(spec.inputOptions)
    .outputOptions(spec.outputOptions);
}

/**
 * Decodes a source with ffmpeg and yields its frames in order, with backpressure:
 * ffmpeg is paused while the consumer works. A yielded frame's pixels are valid
 * until the consumer asks for the next one. Leaving the loop early kills ffmpeg.
 */
export async function* readFfmpegFrames(options: FfmpegFramesOptions): AsyncGenerator<Frame> {
  const spec = buildFfmpegCommand(options);
  let info: RawStreamInfo | undefined;
  let failure: Error | undefined;
  let stoppedByUs = false;
  let announceInfo: (() => void) | undefined;
  const infoKnown = new Promise<void>((resolve) => (announceInfo = resolve));
  let announceExit: (() => void) | undefined;
  // ffmpeg's exit is reported after its stdout closes; wait for it before judging the run.
  const exited = new Promise<void>((resolve) => (announceExit = resolve));

  const command = ffmpegCommand(spec, options.ffmpegPath);
  const header = new OutputStreamHeader();
  command.on('stderr', (line: string) => {
    if (!info) {
      const parsed = header.read(line);
      if (parsed) {
        info = parsed;
        options.onStreamInfo?.(info);
        announceInfo?.();
        return;
      }
    }
    options.onStderrLine?.(redactCredentials(line));
  });
  const output = command.pipe();
  command.on('error', (error: Error) => {
    if (!stoppedByUs) failure = new Error(redactCredentials(`ffmpeg failed for ${spec.input}: ${error.message}`));
    announceInfo?.();
    announceExit?.();
    output.end();
  });
  command.on('end', () => {
    announceInfo?.();
    announceExit?.();
  });

  try {
    let assembler: RawFrameAssembler | undefined;
    let index = 0;
    for await (const chunk of output as AsyncIterable<Buffer>) {
      if (!assembler) {
        await infoKnown;
        if (!info) break;
        assembler = new RawFrameAssembler(info.width * info.height * 3);
      }
      let offset = 0;
      while (offset < chunk.length) {
        offset = assembler.append(chunk, offset);
        const data = assembler.takeFrame();
        if (data) {
          const fps = options.fps ?? info!.fps;
          yield { cameraId: options.cameraId, index, pts: index / fps, receivedAt: Date.now(), width: info!.width, height: info!.height, data };
          index += 1;
        }
      }
    }
    await exited;
    if (failure) throw failure;
  } finally {
    if (!failure) {
      stoppedByUs = true;
      command.kill('SIGKILL');
    }
  }
}
