import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { schemaFileName, SCHEMA_DIR } from '../../src/publish/json-schemas.js';
import type { MessageType } from '../../src/publish/messages.js';

/** The repository root (tests run from dist/test/...). */
export const REPO_ROOT = path.resolve(fileURLToPath(import.meta.url), '../../../..');

const ajv = new Ajv2020({ allErrors: true, strict: true, formats: { 'date-time': true } });
const validators = new Map<MessageType, ValidateFunction>();

/** Validates a payload against the COMMITTED schemas/<type>.schema.json; returns the errors (empty when valid). */
export function schemaErrors(type: MessageType, payload: unknown): string[] {
  let validate = validators.get(type);
  if (validate === undefined) {
    const file = path.join(REPO_ROOT, SCHEMA_DIR, schemaFileName(type));
    validate = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
    validators.set(type, validate);
  }
  return validate(payload) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''}`);
}
