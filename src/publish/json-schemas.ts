import { z } from 'zod';
import { MESSAGE_SCHEMAS, type MessageType } from './messages.js';

/** Where the generated files live, relative to the repository root. */
export const SCHEMA_DIR = 'schemas';

export function schemaFileName(type: MessageType): string {
  return `${type}.schema.json`;
}

/** JSON Schema (draft 2020-12) of every message type, as the text committed in schemas/. */
export function renderJsonSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [type, schema] of Object.entries(MESSAGE_SCHEMAS) as [MessageType, z.ZodType][]) {
    // `io: 'input'` for requests describes what an operator may send; payloads we publish are outputs.
    const jsonSchema = z.toJSONSchema(schema, { io: type === 'request' ? 'input' : 'output' });
    files.set(schemaFileName(type), `${JSON.stringify(jsonSchema, null, 2)}\n`);
  }
  return files;
}
