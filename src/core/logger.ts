import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines (pino-pretty) instead of JSON; defaults to on when stderr is a TTY. */
  pretty?: boolean;
}

/** Logs go to stderr so that commands can print results on stdout. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.CROSSCAM_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: undefined }, pino.destination(2));
}
