import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderJsonSchemas, SCHEMA_DIR } from './json-schemas.js';

/** Regenerates schemas/*.schema.json from the zod message schemas (run from dist/src/publish/). */
const repoRoot = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const dir = path.join(repoRoot, SCHEMA_DIR);
mkdirSync(dir, { recursive: true });
for (const [name, text] of renderJsonSchemas()) {
  writeFileSync(path.join(dir, name), text);
  console.log(`wrote ${path.join(SCHEMA_DIR, name)}`);
}
