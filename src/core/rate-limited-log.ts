import type { Logger } from './logger.js';

/**
 * One log line per kind of problem per interval: the first occurrence is logged at once, the
 * repeats within the interval are counted and reported with the next line of that kind
 * (a full disk fails every write; the log must not fill the next disk).
 */
export class RateLimitedLog {
  private readonly kinds = new Map<string, { loggedAt: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    this.log('warn', kind, fields, message);
  }

  error(kind: string, fields: Record<string, unknown>, message: string): void {
    this.log('error', kind, fields, message);
  }

  private log(level: 'warn' | 'error', kind: string, fields: Record<string, unknown>, message: string): void {
    const at = this.now();
    const seen = this.kinds.get(kind);
    if (seen !== undefined && at - seen.loggedAt < this.intervalMs) {
      seen.suppressed += 1;
      return;
    }
    const repeated = seen?.suppressed ?? 0;
    this.kinds.set(kind, { loggedAt: at, suppressed: 0 });
    this.logger[level]({ kind, ...fields, ...(repeated > 0 ? { repeated } : {}) }, repeated > 0 ? `${message} (and ${repeated} more like it in the last ${Math.round((at - seen!.loggedAt) / 1000)} s)` : message);
  }
}
