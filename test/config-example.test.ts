import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseConfig } from '../src/config/load.js';
import { createConfigSchema } from '../src/config/schema.js';
import { loadModelCatalog } from '../src/models/catalog.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = readFileSync(path.join(ROOT, 'config/crosscam.example.yaml'), 'utf8');
const DEMO = readFileSync(path.join(ROOT, 'config/demo.yaml'), 'utf8');

/** What the example's secret references need: two credential files and one variable. */
const EXAMPLE_ENV = { CAM_GATE_PASSWORD: 'gate-pw', CREDENTIALS_DIRECTORY: '/run/credentials/crosscam.service' };
const EXAMPLE_FILES: Record<string, string> = {
  '/run/credentials/crosscam.service/cam_yard_password': 'yard-pw\n',
  '/run/credentials/crosscam.service/mqtt_password': 'mqtt-pw\n',
};
function exampleFile(file: string): string {
  const content = EXAMPLE_FILES[file];
  if (content === undefined) throw Object.assign(new Error(file), { code: 'ENOENT' });
  return content;
}

// ---- the schema's key paths: '[]' = any list item, '*' = any record key

type Schema = z.core.$ZodType;

function unwrap(schema: Schema): Schema[] {
  if (
    schema instanceof z.core.$ZodOptional ||
    schema instanceof z.core.$ZodNullable ||
    schema instanceof z.core.$ZodDefault ||
    schema instanceof z.core.$ZodPrefault
  ) {
    return unwrap(schema._zod.def.innerType);
  }
  if (schema instanceof z.core.$ZodPipe) {
    // preprocess = transform → schema; a trailing transform only reshapes the output
    const { in: input, out } = schema._zod.def;
    return input instanceof z.core.$ZodTransform ? unwrap(out) : unwrap(input);
  }
  if (schema instanceof z.core.$ZodUnion) return schema._zod.def.options.flatMap(unwrap);
  return [schema];
}

function schemaKeyPaths(schema: Schema): Set<string> {
  const paths = new Set<string>();
  const visit = (node: Schema, prefix: string): void => {
    if (node instanceof z.core.$ZodObject) {
      for (const [key, field] of Object.entries(node._zod.def.shape)) {
        const keyPath = prefix === '' ? key : `${prefix}.${key}`;
        paths.add(keyPath);
        for (const inner of unwrap(field)) visit(inner, keyPath);
      }
    } else if (node instanceof z.core.$ZodArray) {
      for (const inner of unwrap(node._zod.def.element)) visit(inner, `${prefix}[]`);
    } else if (node instanceof z.core.$ZodRecord) {
      paths.add(`${prefix}.*`);
      for (const inner of unwrap(node._zod.def.valueType)) visit(inner, `${prefix}.*`);
    }
  };
  for (const node of unwrap(schema)) visit(node, '');
  return paths;
}

// ---- the example's key paths, live and commented out ("# key: value" lines)

const KEY_LINE = /^( *)(- )?([a-z][a-z0-9_]*):(?: |$)/;

interface ExampleKey {
  path: string;
  line: number;
  documented: boolean;
}

/**
 * Reads the key outline of a block-style YAML file by indentation, treating commented-out
 * settings ("# key: value", "#   - key: value") as keys too, so that optional settings shown
 * disabled count as documented. Prose comments never start with "lowercase_key:".
 */
function exampleKeys(text: string): ExampleKey[] {
  const keys: ExampleKey[] = [];
  const stack: Array<{ column: number; path: string }> = [];
  let previousWasProse = false;
  text.split('\n').forEach((raw, index) => {
    const commented = /^( *)# ?(.*)$/.exec(raw);
    const content = commented === null ? raw : `${commented[1]}${commented[2]}`;
    const match = KEY_LINE.exec(content);
    if (match === null) {
      previousWasProse = commented !== null;
      return;
    }
    const [, indent, dash, key] = match as unknown as [string, string, string | undefined, string];
    let column = indent.length;
    if (dash !== undefined) {
      while (stack.length > 0 && stack.at(-1)!.column >= column) stack.pop();
      stack.push({ column, path: `${stack.at(-1)?.path ?? ''}[]` });
      column += 2;
    }
    while (stack.length > 0 && stack.at(-1)!.column >= column) stack.pop();
    const parent = stack.at(-1)?.path;
    const keyPath = parent === undefined ? key : `${parent}.${key}`;
    stack.push({ column, path: keyPath });
    const trailingComment = / #( |$)/.test(content.slice(match[0].length - 1));
    keys.push({ path: keyPath, line: index + 1, documented: trailingComment || previousWasProse });
    previousWasProse = false;
  });
  return keys;
}

function matchesSchemaPath(examplePath: string, schemaPath: string): boolean {
  const pattern = schemaPath.split('.').map((part) => (part === '*' ? '[a-z_]+' : part.replace(/[[\]]/g, '\\$&'))).join('\\.');
  return new RegExp(`^${pattern}$`).test(examplePath);
}

test('the example config is valid, with the built-in model catalog', async () => {
  const catalog = await loadModelCatalog();
  const result = parseConfig(EXAMPLE, { env: EXAMPLE_ENV, readFile: exampleFile, hostname: 'h', knownModels: catalog.models });
  assert.ok(result.ok, result.ok ? '' : result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n'));
  assert.equal(result.config.cameras[0]!.url, 'rtsp://crosscam:gate-pw@192.0.2.11:554/Streaming/Channels/102');
  assert.equal(result.config.mqtt.password, 'mqtt-pw');
  assert.deepEqual(result.config.topology, [{ from: 'gate', to: 'yard', min_s: 5, max_s: 120, bidirectional: true }]);
});

test('the example documents every key the schema knows, and nothing else', () => {
  const schemaPaths = [...schemaKeyPaths(createConfigSchema({ hostname: 'h', env: {} }))];
  const keys = exampleKeys(EXAMPLE);
  // Guards the outline reader itself: known live and commented-out keys are found.
  for (const expected of ['cameras[].zones[].polygon', 'runtime.providers[].engine_cache_dir', 'mqtt.tls.cert', 'matching.classes.person.threshold']) {
    assert.ok(keys.some((key) => key.path === expected), `outline reader missed ${expected}`);
  }
  const missing = schemaPaths.filter((schemaPath) => !keys.some((key) => matchesSchemaPath(key.path, schemaPath)));
  assert.deepEqual(missing, [], 'keys the example does not show');
  const unknown = keys.filter((key) => !schemaPaths.some((schemaPath) => matchesSchemaPath(key.path, schemaPath)));
  assert.deepEqual(unknown, [], 'keys in the example (possibly commented out) that the schema does not know');
  const undocumented = keys.filter((key) => !key.documented);
  assert.deepEqual(undocumented, [], 'keys with neither a trailing comment nor a comment line above');
});

test('the demo config is valid and reads the shared video as two half-frame cameras', () => {
  const result = parseConfig(DEMO, { env: {}, hostname: 'h' });
  assert.ok(result.ok, result.ok ? '' : JSON.stringify(result.issues));
  const { config } = result;
  assert.equal(config.node_id, 'demo');
  assert.equal(config.models.dir, '../shared/models');
  assert.deepEqual(
    config.cameras.map((camera) => [camera.id, camera.url, camera.ffmpeg.filter, camera.file, camera.detect.fps, camera.detect.classes]),
    [
      ['left', '../shared/data/PETS09-S2L1/vtest.avi', 'crop=iw/2:ih:0:0', { realtime: true, loop: true }, 5, ['person']],
      ['right', '../shared/data/PETS09-S2L1/vtest.avi', 'crop=iw/2:ih:iw/2:0', { realtime: true, loop: true }, 5, ['person']],
    ],
  );
  assert.deepEqual(config.mqtt.embedded_broker, { enabled: true, host: '127.0.0.1', port: 1883 });
  assert.equal(config.mqtt.url, 'mqtt://127.0.0.1:1883');
  // The embedded aedes broker speaks MQTT 3.1.1.
  assert.equal(config.mqtt.protocol_version, 4);
  assert.equal(config.gallery.path, './data/gallery');
  // The halves meet at a seam, so a person can appear on the other half before leaving this one.
  assert.deepEqual(config.topology, [{ from: 'left', to: 'right', min_s: -5, max_s: 10, bidirectional: true }]);
  assert.deepEqual(config.matching.classes.person, { threshold: 0.4, min_margin: 0.05 });

  const overridden = parseConfig(DEMO, { env: { CROSSCAM_MODELS_DIR: '/m', CROSSCAM_DEMO_VIDEO: '/v.avi' }, hostname: 'h' });
  assert.ok(overridden.ok);
  assert.equal(overridden.config.models.dir, '/m');
  assert.deepEqual(overridden.config.cameras.map((camera) => camera.url), ['/v.avi', '/v.avi']);
});
