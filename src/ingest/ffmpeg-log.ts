import type { Logger } from '../core/logger.js';
import type { Clock } from './clock.js';
import { redactCredentials } from '../core/redaction.js';

/** ffmpeg's levels that crosscam may forward, most severe first (it runs ffmpeg at `-loglevel level+info`). */
export type FfmpegLogLevel = 'error' | 'warning' | 'info';

const SEVERITY: Record<string, number> = { panic: 0, fatal: 1, error: 2, warning: 3, info: 4, verbose: 5, debug: 6, trace: 7 };

export interface FfmpegLogLine {
  /** ffmpeg's level name (`error`, `warning`, `info`...); `info` when the line carries none. */
  level: string;
  /** The message with its `[component @ 0x...]` context kept as `[component]`, credentials redacted. */
  message: string;
}

/** Splits `[tcp @ 0x55d1] [error] Connection ... failed` into level and message. */
export function parseFfmpegLogLine(line: string): FfmpegLogLine {
  const match = /^(?:\[([^\]@]+?) @ 0x[0-9a-f]+\] )?\[(panic|fatal|error|warning|info|verbose|debug|trace)\] ?(.*)$/.exec(line);
  if (!match) return { level: 'info', message: redactCredentials(line.trim()) };
  const context = match[1] ? `[${match[1]}] ` : '';
  return { level: match[2], message: redactCredentials(context + match[3].trim()) };
}

/** True for lines at `error` or worse: the ones that explain why ffmpeg failed. */
export function isFfmpegError(line: FfmpegLogLine): boolean {
  return (SEVERITY[line.level] ?? SEVERITY.info) <= SEVERITY.error;
}

export interface FfmpegLogSummaryOptions {
  logger: Logger;
  clock: Clock;
  /** Lowest ffmpeg level forwarded. */
  level: FfmpegLogLevel;
  /** At most this many distinct lines per window; the rest are counted and reported. */
  maxLinesPerWindow?: number;
  windowMs?: number;
}

/**
 * Forwards ffmpeg's stderr to the log without flooding it: only lines at the configured
 * level or above, a message repeated back to back is logged once with its count, and at
 * most `maxLinesPerWindow` lines per window (the rest are counted in a summary line).
 */
export class FfmpegLogSummary {
  private readonly threshold: number;
  private readonly maxLines: number;
  private readonly windowMs: number;
  private windowStart = -Infinity;
  private linesInWindow = 0;
  private suppressed = 0;
  private last: FfmpegLogLine | undefined;
  private lastLogged = false;
  private repeats = 0;

  constructor(private readonly options: FfmpegLogSummaryOptions) {
    this.threshold = SEVERITY[options.level];
    this.maxLines = options.maxLinesPerWindow ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
  }

  add(line: FfmpegLogLine): void {
    // ffmpeg ends some blocks with a bare `[info] ` line: nothing to tell.
    if (line.message === '' || (SEVERITY[line.level] ?? SEVERITY.info) > this.threshold) return;
    if (this.last && this.last.level === line.level && this.last.message === line.message) {
      if (this.lastLogged) this.repeats += 1;
      else this.suppressed += 1;
      return;
    }
    this.flushRepeats();
    const now = this.options.clock.now();
    if (now - this.windowStart >= this.windowMs) {
      this.flushSuppressed();
      this.windowStart = now;
      this.linesInWindow = 0;
    }
    this.last = line;
    this.lastLogged = this.linesInWindow < this.maxLines;
    if (!this.lastLogged) {
      this.suppressed += 1;
      return;
    }
    this.linesInWindow += 1;
    this.log(line.level, { ffmpeg: line.level }, line.message);
  }

  /** Reports pending repeat and suppression counts (call when the ffmpeg run ends). */
  flush(): void {
    this.flushRepeats();
    this.flushSuppressed();
    this.last = undefined;
  }

  private flushRepeats(): void {
    if (this.last && this.repeats > 0) {
      this.log(this.last.level, { ffmpeg: this.last.level, repeated: this.repeats }, `${this.last.message} (repeated ${this.repeats} more times)`);
    }
    this.repeats = 0;
  }

  private flushSuppressed(): void {
    if (this.suppressed > 0) this.options.logger.warn({ suppressed: this.suppressed }, `${this.suppressed} more ffmpeg log lines suppressed (rate limit)`);
    this.suppressed = 0;
  }

  private log(level: string, fields: Record<string, unknown>, message: string): void {
    const logger = this.options.logger;
    const severity = SEVERITY[level] ?? SEVERITY.info;
    if (severity <= SEVERITY.error) logger.error(fields, message);
    else if (severity === SEVERITY.warning) logger.warn(fields, message);
    else logger.info(fields, message);
  }
}
