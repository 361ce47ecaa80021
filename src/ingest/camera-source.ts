import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';
import type { Logger } from '../core/logger.js';
import type { Frame } from '../core/types.js';
import type { CameraState, CameraStatus } from './camera-status.js';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { buildFfmpegCommand, OutputStreamHeader, type FfmpegSourceSpec, type RawStreamInfo } from './ffmpeg-command.js';
import { redactCredentials } from '../core/redaction.js';
import { ffmpegCommand } from './ffmpeg-frames.js';
import { FfmpegLogSummary, isFfmpegError, parseFfmpegLogLine, type FfmpegLogLevel } from './ffmpeg-log.js';
import { FrameRateMeter } from './frame-rate-meter.js';
import { LatestFrameSlots } from './latest-frame-slots.js';

/** A frame from a live camera. Its `data` stays intact until the consumer asks for the next frame. */
export interface LiveFrame extends Frame {
  /** Which ffmpeg run produced it (1 for the first); `index` and `pts` restart at 0 with each run. */
  session: number;
}

export interface CameraSourceOptions {
  cameraId: string;
  source: FfmpegSourceSpec;
  /** Override of the bundled ffmpeg. fluent-ffmpeg keeps one path per process, so all cameras share it. */
  ffmpegPath?: string;
  /** No frame for this long → ffmpeg is killed and restarted. */
  stallTimeoutS?: number;
  /** Delay before a restart; doubles with each consecutive failure up to `restartDelayMaxS`. */
  restartDelayS?: number;
  restartDelayMaxS?: number;
  /** Consecutive failures after which the camera is reported offline (it keeps retrying). */
  offlineAfterFailures?: number;
  /** Lowest ffmpeg stderr level forwarded to the log. */
  ffmpegLogLevel?: FfmpegLogLevel;
  /** Already bound to the camera (the daemon passes a child logger with `camera`). */
  logger: Logger;
  clock?: Clock;
}

export interface CameraSourceEvents {
  /** The state or the reason for it changed. */
  status: [CameraStatus];
}

interface FrameMeta {
  index: number;
  pts: number;
  receivedAt: number;
  session: number;
  width: number;
  height: number;
}

/** One ffmpeg process and what it has delivered so far. */
interface Run {
  session: number;
  process?: ChildProcess;
  stopping: boolean;
  ended: boolean;
  exited: Promise<void>;
  markExited: () => void;
  info?: RawStreamInfo;
  header: OutputStreamHeader;
  /** stdout chunks that came before the stream header was parsed from stderr (the pipes race). */
  early: Buffer[];
  frames: number;
  firstFrameAt: number | null;
  lastFrameAt: number | null;
  lastProgressAt: number;
  /** Why we killed it, when we did. */
  failure: string | null;
  lastErrorLine: string | null;
  watchdog?: TimerHandle;
}

const MAX_EARLY_CHUNKS = 64;

/**
 * A live camera: one ffmpeg process decoding to raw RGB, restarted by a watchdog with backoff
 * when it stalls or exits. stdout is consumed continuously so a slow consumer never stalls
 * ffmpeg or the camera's socket; the consumer always gets the newest complete frame and the
 * frames it never saw are counted in `skippedFrames`.
 *
 * States: starting → online (first frame) → reconnecting (after a failure) → offline (after
 * `offlineAfterFailures` consecutive failures, still retrying in the background with backoff,
 * or after stop()) → online again on the next frame. A source is started once; stop() is final.
 */
export class CameraSource extends EventEmitter<CameraSourceEvents> {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly logSummary: FfmpegLogSummary;
  private readonly meter = new FrameRateMeter();
  private readonly stallMs: number;
  private state: CameraState = 'starting';
  private since: number;
  private lastError: string | null = null;
  private lastFrameAt: number | null = null;
  private reconnects = 0;
  private skippedFrames = 0;
  private failures = 0;
  private sessionCount = 0;
  private run: Run | undefined;
  private slots: LatestFrameSlots<FrameMeta> | undefined;
  private waiter: ((frame: LiveFrame | null) => void) | undefined;
  private restartTimer: TimerHandle | undefined;
  private started = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: CameraSourceOptions) {
    super();
    this.clock = options.clock ?? systemClock;
    this.log = options.logger;
    this.logSummary = new FfmpegLogSummary({ logger: this.log, clock: this.clock, level: options.ffmpegLogLevel ?? 'error' });
    this.stallMs = (options.stallTimeoutS ?? 20) * 1000;
    this.since = this.clock.now();
  }

  get cameraId(): string {
    return this.options.cameraId;
  }

  /** The current ffmpeg run (1 for the first, 0 before start). */
  get session(): number {
    return this.sessionCount;
  }

  status(): CameraStatus {
    const now = this.clock.now();
    return {
      cameraId: this.options.cameraId,
      state: this.state,
      fps: this.state === 'online' ? Math.round(this.meter.rate(now) * 100) / 100 : 0,
      lastFrameAt: this.lastFrameAt,
      reconnects: this.reconnects,
      skippedFrames: this.skippedFrames,
      lastError: this.lastError,
      since: this.since,
    };
  }

  /** Frames waiting to be taken (0 or 1: the newest wins). */
  pendingFrames(): number {
    return this.slots?.hasPending ? 1 : 0;
  }

  start(): void {
    if (this.started || this.stopped) throw new Error(`camera ${this.options.cameraId} was already started`);
    this.started = true;
    this.launch();
  }

  /** Kills ffmpeg and resolves once it has exited; pending and later `nextFrame` calls get null. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  /**
   * The newest frame not yet handed out, waiting for one if needed; null once stopped.
   * Calling it again releases the previous frame's buffer. One call at a time.
   */
  async nextFrame(signal?: AbortSignal): Promise<LiveFrame | null> {
    if (this.waiter) throw new Error('nextFrame is already waiting');
    this.slots?.release();
    if (this.stopped) return null;
    signal?.throwIfAborted();
    const ready = this.takeFrame();
    if (ready) return ready;
    return new Promise<LiveFrame | null>((resolve, reject) => {
      const onAbort = () => {
        this.waiter = undefined;
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = (frame) => {
        signal?.removeEventListener('abort', onAbort);
        this.waiter = undefined;
        resolve(frame);
      };
    });
  }

  /** The frames as they come (newest wins), until stop(). */
  async *frames(signal?: AbortSignal): AsyncGenerator<LiveFrame> {
    for (;;) {
      const frame = await this.nextFrame(signal);
      if (!frame) return;
      yield frame;
    }
  }

  private launch(): void {
    const session = ++this.sessionCount;
    if (session > 1) this.reconnects += 1;
    const spec = buildFfmpegCommand(this.options.source);
    const command = ffmpegCommand(spec, this.options.ffmpegPath);
    let markExited = () => {};
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const run: Run = {
      session, stopping: false, ended: false, exited, markExited, header: new OutputStreamHeader(), early: [],
      frames: 0, firstFrameAt: null, lastFrameAt: null, lastProgressAt: this.clock.now(), failure: null, lastErrorLine: null,
    };
    this.run = run;
    this.meter.reset();
    this.slots?.discardPartial();

    command.on('start', () => {
      // fluent-ffmpeg sets ffmpegProc just before 'start'; its exit is the end of the run.
      const child = (command as unknown as { ffmpegProc: ChildProcess }).ffmpegProc;
      run.process = child;
      let spawnError: string | undefined;
      child.on('error', (error) => (spawnError = error.message));
      child.once('close', (code, signal) => this.onRunEnd(run, spawnError ?? describeExit(code, signal)));
      if (run.stopping || run.failure) child.kill('SIGKILL');
    });
    command.on('stderr', (line: string) => this.onStderr(run, line));
    // Once spawned, the process's own 'close' ends the run; before that, fluent-ffmpeg reports setup failures here.
    command.on('error', (error: Error) => {
      if (!run.process) this.onRunEnd(run, firstLine(error.message));
    });
    command.pipe(new Writable({ write: (chunk: Buffer, _encoding, done) => (this.onData(run, chunk), done()) }), { end: true });
    this.armWatchdog(run, this.stallMs);
  }

  private onStderr(run: Run, line: string): void {
    if (!run.info) {
      const info = run.header.read(line);
      if (info) return this.onStreamInfo(run, info);
    }
    const parsed = parseFfmpegLogLine(line);
    if (isFfmpegError(parsed)) run.lastErrorLine = parsed.message;
    this.logSummary.add(parsed);
  }

  private onStreamInfo(run: Run, info: RawStreamInfo): void {
    run.info = info;
    const frameBytes = info.width * info.height * 3;
    if (this.slots?.frameBytes !== frameBytes) {
      if (this.slots?.hasPending) this.skippedFrames += 1;
      this.slots = new LatestFrameSlots(frameBytes);
    }
    this.log.info({ session: run.session, width: info.width, height: info.height, fps: info.fps }, `stream opened: ${info.width}x${info.height} at ${info.fps} fps`);
    for (const chunk of run.early.splice(0)) this.onData(run, chunk);
  }

  private onData(run: Run, chunk: Buffer): void {
    if (run.ended || run.failure) return;
    if (!run.info) {
      run.early.push(chunk);
      if (run.early.length > MAX_EARLY_CHUNKS) this.fail(run, 'ffmpeg wrote frames but no output stream header');
      return;
    }
    const slots = this.slots!;
    let offset = 0;
    while (offset < chunk.length) {
      offset = slots.append(chunk, offset);
      if (slots.frameComplete) this.onFrame(run, slots, run.info);
    }
  }

  private onFrame(run: Run, slots: LatestFrameSlots<FrameMeta>, info: RawStreamInfo): void {
    const now = this.clock.now();
    const index = run.frames++;
    const fps = this.options.source.fps ?? info.fps;
    const meta = { index, pts: index / fps, receivedAt: now, session: run.session, width: info.width, height: info.height };
    if (slots.commit(meta)) this.skippedFrames += 1;
    run.firstFrameAt ??= now;
    run.lastFrameAt = now;
    run.lastProgressAt = now;
    this.lastFrameAt = now;
    this.meter.record(now);
    if (this.state !== 'online') this.setState('online', null);
    if (this.waiter) this.waiter(this.takeFrame() ?? null);
  }

  private takeFrame(): LiveFrame | undefined {
    const taken = this.slots?.take();
    if (!taken) return undefined;
    const { meta, data } = taken;
    return { cameraId: this.options.cameraId, session: meta.session, index: meta.index, pts: meta.pts, receivedAt: meta.receivedAt, width: meta.width, height: meta.height, data };
  }

  private armWatchdog(run: Run, delayMs: number): void {
    run.watchdog = this.clock.setTimeout(() => {
      run.watchdog = undefined;
      if (run.ended || run.stopping) return;
      // Re-armed lazily rather than on every frame: fire, then check how long it has really been.
      const idle = this.clock.now() - run.lastProgressAt;
      if (idle < this.stallMs) this.armWatchdog(run, this.stallMs - idle);
      else this.fail(run, `no frame for ${this.stallMs / 1000} s`);
    }, delayMs);
  }

  private fail(run: Run, reason: string): void {
    if (run.failure) return;
    run.failure = reason;
    run.process?.kill('SIGKILL'); // not spawned yet: killed on 'start'
  }

  private onRunEnd(run: Run, exitReason: string): void {
    if (run.ended) return;
    run.ended = true;
    run.markExited();
    if (run.watchdog !== undefined) this.clock.clearTimeout(run.watchdog);
    this.logSummary.flush();
    if (run.stopping) return;

    const reason = redactCredentials(run.failure ?? run.lastErrorLine ?? exitReason);
    // A session that went online proves the camera reachable: a camera that drops every few
    // seconds reconnects after restart_delay_s each time instead of climbing to the maximum.
    if (run.firstFrameAt !== null) this.failures = 0;
    this.failures += 1;
    const baseMs = (this.options.restartDelayS ?? 10) * 1000;
    const delayMs = Math.min(baseMs * 2 ** (this.failures - 1), (this.options.restartDelayMaxS ?? 120) * 1000);
    this.setState(this.failures >= (this.options.offlineAfterFailures ?? 3) ? 'offline' : 'reconnecting', reason);
    this.log.warn(
      { session: run.session, frames: run.frames, failures: this.failures, restartInS: delayMs / 1000 },
      `stream lost: ${reason}; restarting ffmpeg in ${delayMs / 1000} s`,
    );
    this.restartTimer = this.clock.setTimeout(() => {
      this.restartTimer = undefined;
      this.launch();
    }, delayMs);
  }

  private async shutdown(): Promise<void> {
    if (this.restartTimer !== undefined) this.clock.clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const run = this.run;
    if (run && !run.ended) {
      run.stopping = true; // its end (onRunEnd) clears the watchdog and schedules nothing
      run.process?.kill('SIGKILL');
      await run.exited;
    }
    this.setState('offline', 'stopped');
    this.waiter?.(null);
  }

  private setState(state: CameraState, lastError: string | null): void {
    if (state === this.state && lastError === this.lastError) return;
    if (state !== this.state) this.since = this.clock.now();
    this.state = state;
    this.lastError = lastError;
    this.emit('status', this.status());
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `ffmpeg was killed by ${signal}`;
  return code === 0 ? 'ffmpeg ended (end of stream)' : `ffmpeg exited with code ${code}`;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0].trim();
}
