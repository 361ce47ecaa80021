import { pino, type DestinationStream, type Logger } from 'pino';
import { SecretRedactor } from './redaction.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Human-readable lines (pino-pretty) instead of JSON; defaults to on when stderr is a TTY. */
  pretty?: boolean;
  /** Masks secrets in every argument of every log call; default: URL credentials only. */
  redactor?: SecretRedactor;
  /** Where JSON lines go instead of stderr (an inference worker forwards them to the main thread). */
  destination?: DestinationStream;
}

/** Logs go to stderr so that commands can print results on stdout. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.CROSSCAM_LOG_LEVEL ?? 'info';
  const pretty = options.destination === undefined && (options.pretty ?? process.stderr.isTTY === true);
  const redactor = options.redactor ?? new SecretRedactor();
  // Runs only for enabled levels, so debug calls on hot paths cost nothing at info.
  const hooks = {
    logMethod(this: Logger, args: Parameters<Logger['info']>, method: Logger['info']) {
      return method.apply(this, args.map((argument) => redactor.redactValue(argument)) as Parameters<Logger['info']>);
    },
  };
  if (pretty) {
    return pino({
      level,
      hooks,
      transport: { target: 'pino-pretty', options: { destination: 2, colorize: true, ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: undefined, hooks }, options.destination ?? pino.destination(2));
}
