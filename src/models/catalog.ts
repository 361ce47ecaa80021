import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { OperatorError } from '../core/operator-error.js';
import { ExitCode } from '../core/exit-codes.js';
import { modelCatalogFileSchema, type ModelEntry } from './catalog-schema.js';

export type { ModelEntry } from './catalog-schema.js';

export interface ModelCatalog {
  models: Map<string, ModelEntry>;
}

export interface LoadModelCatalogOptions {
  /** An operator catalog; its entries add to the built-in ones and replace those with the same id. */
  extraCatalogPath?: string;
}

export const DEFAULT_MODELS_DIR = '/var/lib/crosscam/models';

/** CLI flag or config value, else $CROSSCAM_MODELS_DIR, else /var/lib/crosscam/models. */
export function resolveModelsDir(configured?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = configured || env.CROSSCAM_MODELS_DIR || DEFAULT_MODELS_DIR;
  return path.resolve(chosen);
}

/**
 * The package root, found by walking up from this file: the same code runs from
 * src/models/ and from dist/src/models/, and never depends on the cwd.
 */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'crosscam') {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`crosscam package root not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function builtInCatalogPath(): string {
  return path.join(packageRoot(), 'models', 'catalog.yaml');
}

const snakeToCamel = (key: string) => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const camelToSnake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** YAML catalogs use snake_case keys; the schema is camelCase. Values are left as written. */
function camelCaseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelCaseKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [snakeToCamel(key), camelCaseKeys(inner)]));
  }
  return value;
}

/** `models[1].input.channel_order (id osnet)`: the path as the operator wrote it in YAML. */
function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  let where = '';
  for (const segment of issue.path) {
    where += typeof segment === 'number' ? `[${segment}]` : `${where ? '.' : ''}${camelToSnake(String(segment))}`;
  }
  const index = issue.path[0] === 'models' ? issue.path[1] : undefined;
  const models = (raw as { models?: unknown } | null)?.models;
  const id = typeof index === 'number' && Array.isArray(models) ? (models[index] as { id?: unknown } | null)?.id : undefined;
  return `${where || '(top level)'}${typeof id === 'string' ? ` (model ${id})` : ''}: ${issue.message}`;
}

/** Reads and validates one catalog file; any problem is a CONFIG error naming the file and the key. */
export async function readCatalogFile(file: string): Promise<ModelEntry[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new OperatorError(`model catalog ${file}: cannot read: ${(error as Error).message}`, ExitCode.CONFIG);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new OperatorError(`model catalog ${file}: invalid YAML: ${(error as Error).message}`, ExitCode.CONFIG);
  }
  const result = modelCatalogFileSchema.safeParse(camelCaseKeys(raw));
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${describeIssue(issue, raw)}`);
    throw new OperatorError(`model catalog ${file} is invalid:\n${lines.join('\n')}`, ExitCode.CONFIG);
  }
  return result.data.models;
}

export async function loadModelCatalog(options: LoadModelCatalogOptions = {}): Promise<ModelCatalog> {
  const models = new Map<string, ModelEntry>();
  for (const entry of await readCatalogFile(builtInCatalogPath())) models.set(entry.id, entry);
  if (options.extraCatalogPath) {
    for (const entry of await readCatalogFile(path.resolve(options.extraCatalogPath))) models.set(entry.id, entry);
  }
  return { models };
}

/** Looks up catalog entries by id; an unknown id is a usage error listing the known ones. */
export function selectCatalogEntries(catalog: ModelCatalog, ids: readonly string[]): ModelEntry[] {
  if (ids.length === 0) return [...catalog.models.values()];
  return ids.map((id) => {
    const entry = catalog.models.get(id);
    if (!entry) {
      throw new OperatorError(`unknown model '${id}'; the catalog has: ${[...catalog.models.keys()].join(', ')}`, ExitCode.USAGE);
    }
    return entry;
  });
}
