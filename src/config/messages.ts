import { z } from 'zod';
import type { RawConfigIssue } from './issues.js';

/*
 * Operator-facing wording for zod's issues: short, says what is allowed, and does not echo
 * free-form strings (they may hold substituted secrets); only the value given for an enum
 * field is echoed.
 */

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  tuple: 'a list',
  record: 'a mapping',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  null: 'null',
};

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' && Number.isNaN(value)) return 'not-a-number (.nan)';
  if (typeof value === 'number' && !Number.isFinite(value)) return 'infinity (.inf)';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'a fraction';
  return TYPE_NAMES[typeof value] ?? typeof value;
}

function describeValue(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? JSON.stringify(value)
    : typeName(value);
}

function listValues(values: readonly unknown[]): string {
  return values.map((value) => String(value)).join(', ');
}

/** zod error map (pass as `error` to safeParse); undefined keeps zod's own message. */
export const describeIssue: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}, got ${typeName(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'array') return issue.minimum === 1 ? 'must not be empty' : `needs at least ${issue.minimum} items`;
      if (issue.origin === 'string') return issue.minimum === 1 ? 'must not be empty' : `needs at least ${issue.minimum} characters`;
      return `must be ${issue.inclusive === true ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'array') return `allows at most ${issue.maximum} items`;
      if (issue.origin === 'string') return `allows at most ${issue.maximum} characters`;
      return `must be ${issue.inclusive === true ? '<=' : '<'} ${issue.maximum}`;
    case 'invalid_value':
      return `must be one of: ${listValues(issue.values)} (got ${describeValue(issue.input)})`;
    case 'unrecognized_keys': {
      const allowed = acceptedKeys(issue.inst);
      return allowed.length > 0 ? `unknown key (allowed: ${allowed.join(', ')})` : 'unknown key';
    }
    case 'invalid_union':
      if (Array.isArray(issue.options)) return `must be one of: ${listValues(issue.options)}`;
      return undefined;
    default:
      return undefined;
  }
};

/** The keys the object or enum-keyed record that rejected a key accepts. */
function acceptedKeys(schema: unknown): string[] {
  if (schema instanceof z.core.$ZodObject) return Object.keys(schema._zod.def.shape);
  if (schema instanceof z.core.$ZodRecord) return [...(schema._zod.def.keyType._zod.values ?? [])].map(String);
  return [];
}

/** One zod issue as operator issues: an unknown-keys issue becomes one issue per key, at the key. */
export function fromZodIssue(issue: z.core.$ZodIssue): RawConfigIssue[] {
  if (issue.code !== 'unrecognized_keys') return [{ keyPath: issue.path, message: issue.message }];
  return issue.keys.map((key) => ({ keyPath: [...issue.path, key], message: issue.message }));
}
