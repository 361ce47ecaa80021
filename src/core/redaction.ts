/**
 * Keeps secrets out of log lines, payloads and error messages: credentials in URLs
 * (`scheme://user:pass@host`) always, and the exact values the config resolved from
 * secret references or password keys once they are remembered.
 */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+)(?::[^/@\s]*)?@/gi;
const MASK = '***';
// Shorter values would mask ordinary words; a 1–3 character password is not a secret anyway.
const MIN_SECRET_LENGTH = 4;

/** Hides credentials in URLs before anything reaches a log line. */
export function redactCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1***:***@');
}

export class SecretRedactor {
  private readonly secrets = new Set<string>();

  /** Values to mask wherever they appear from now on (empty and very short ones are ignored). */
  remember(values: Iterable<string | undefined>): void {
    for (const value of values) if (value !== undefined && value.length >= MIN_SECRET_LENGTH) this.secrets.add(value);
  }

  redact(text: string): string {
    let result = redactCredentials(text);
    for (const secret of this.secrets) if (result.includes(secret)) result = result.split(secret).join(MASK);
    return result;
  }

  /** A copy of a log argument with every string redacted (Errors stay Errors of the same class). */
  redactValue(value: unknown, depth = 0): unknown {
    if (typeof value === 'string') return this.redact(value);
    if (value === null || typeof value !== 'object' || depth > 8) return value;
    if (value instanceof Error) {
      const copy = Object.create(Object.getPrototypeOf(value) as object) as Error;
      for (const [key, item] of Object.entries(value)) (copy as unknown as Record<string, unknown>)[key] = this.redactValue(item, depth + 1);
      Object.defineProperty(copy, 'message', { value: this.redact(value.message), enumerable: false, writable: true });
      Object.defineProperty(copy, 'stack', { value: value.stack === undefined ? undefined : this.redact(value.stack), enumerable: false, writable: true });
      if (value.cause !== undefined) Object.defineProperty(copy, 'cause', { value: this.redactValue(value.cause, depth + 1), enumerable: false, writable: true });
      return copy;
    }
    if (Array.isArray(value)) return value.map((item) => this.redactValue(item, depth + 1));
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return value;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.redactValue(item, depth + 1)]));
  }
}
