import { validateDetailed } from 'node-cron';
import { z } from 'zod';

/** Field types and checks shared by the config sections. */

export const unit = z.number().min(0).max(1);
export const seconds = z.number().gt(0);
export const text = z.string().min(1, 'must not be empty');
export const identifier = z.string().regex(/^[A-Za-z0-9_-]+$/, 'only letters, digits, "_" and "-" are allowed');
export const filePath = text;
export const port = z.int().min(1).max(65535);

export const mqttTopicLevel = text.refine(
  (level) => !/[/+#\u0000]/.test(level),
  'must be a single MQTT topic level (no "/", "+" or "#")',
);
export const mqttTopic = text.refine(
  (topic) => !/[+#\u0000]/.test(topic) && topic.split('/').every((level) => level !== ''),
  'must be an MQTT topic without wildcards ("+", "#") or empty levels',
);

export const cronExpression = z.string().superRefine((expression, ctx) => {
  const result = validateDetailed(expression);
  if (!result.valid) {
    const reasons = result.errors.map((error) => error.message).join('; ');
    ctx.addIssue({ code: 'custom', message: `invalid cron expression "${expression}": ${reasons}` });
  }
});

export const timeZone = text.refine((zone) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}, 'unknown IANA time zone');

export function urlWithScheme(schemes: readonly string[], allowPlainPath: boolean) {
  return text.superRefine((url, ctx) => {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
    const allowed = schemes.map((name) => `${name}://`).join(', ') + (allowPlainPath ? ' or a file path' : '');
    // Messages never echo the URL: it usually carries credentials.
    if (scheme === undefined) {
      if (!allowPlainPath) ctx.addIssue({ code: 'custom', message: `must be a URL (${allowed})` });
    } else if (!schemes.includes(scheme)) {
      ctx.addIssue({ code: 'custom', message: `unsupported scheme "${scheme}://" (use ${allowed})` });
    } else if (!URL.canParse(url)) {
      ctx.addIssue({ code: 'custom', message: 'is not a valid URL (percent-encode special characters in credentials)' });
    }
  });
}

/** A list whose items must not repeat a key; each repeat is reported at its index (and `field`). */
export function uniqueBy<S extends z.ZodType<unknown[]>>(
  list: S,
  key: (item: z.output<S>[number]) => string,
  what: string,
  field?: string,
): S {
  return list.superRefine((items, ctx) => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const value = key(item);
      if (seen.has(value)) {
        ctx.addIssue({ code: 'custom', path: field === undefined ? [index] : [index, field], message: `duplicate ${what} "${value}"` });
      }
      seen.add(value);
    });
  });
}
