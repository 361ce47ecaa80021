import fs from 'node:fs';
import os from 'node:os';
import { parseDocument, type Document } from 'yaml';
import { ExitCode } from '../core/exit-codes.js';
import { OperatorError } from '../core/operator-error.js';
import { ConfigError, formatKeyPath, ROOT_PATH, type ConfigIssue, type RawConfigIssue } from './issues.js';
import { describeIssue, fromZodIssue } from './messages.js';
import { cameraReferenceIssues, modelReferenceIssues, type KnownModels } from './references.js';
import { createConfigSchema, type CrosscamConfig, type ModelsConfig } from './schema.js';
import { substituteSecrets } from './secrets.js';

export interface ParseConfigOptions {
  /** Environment for ${ENV:...}, $CREDENTIALS_DIRECTORY and CROSSCAM_MODELS_DIR; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Reads ${FILE:...} and ${CREDENTIAL:...} files (and, in loadConfig, the config file); default fs, UTF-8. */
  readFile?: (file: string) => string;
  /** Default node_id; default os.hostname(). */
  hostname?: string;
  /** When given, models.* ids are checked against it. */
  knownModels?: KnownModels;
}

export type ParseConfigResult = { ok: true; config: CrosscamConfig } | { ok: false; issues: ConfigIssue[] };

export interface LoadConfigOptions extends ParseConfigOptions {
  /**
   * Loads the model catalog once the config is valid (the catalog may be extended by
   * models.catalog); its models are then checked like `knownModels`.
   */
  loadKnownModels?: (models: ModelsConfig) => Promise<KnownModels>;
  /** The file's text when the caller has it already (e.g. a config it composed); the file is then not read. */
  text?: string;
}

const readUtf8 = (file: string): string => fs.readFileSync(file, 'utf8');

/** Parses and validates config text. Never throws: every problem comes back as an issue. */
export function parseConfig(text: string, options: ParseConfigOptions = {}): ParseConfigResult {
  const env = options.env ?? process.env;
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return { ok: false, issues: document.errors.map((error) => ({ path: ROOT_PATH, message: yamlErrorMessage(error) })) };
  }
  let raw: unknown;
  try {
    raw = document.toJS();
  } catch (error) {
    return { ok: false, issues: [{ path: ROOT_PATH, message: `YAML error: ${(error as Error).message}` }] };
  }
  if (raw === null || raw === undefined) {
    return { ok: false, issues: [{ path: ROOT_PATH, message: 'the file is empty (at least "cameras" is required)' }] };
  }

  const substituted = substituteSecrets(raw, { env, readFile: options.readFile ?? readUtf8 });
  const schema = createConfigSchema({ hostname: options.hostname ?? os.hostname(), env, knownModels: options.knownModels });
  const result = schema.safeParse(substituted.value, { error: describeIssue });
  // A failed reference leaves an empty string behind; don't report that key a second time.
  const failedReferences = new Set(substituted.issues.map((issue) => formatKeyPath(issue.keyPath)));
  const schemaIssues = result.success
    ? []
    : result.error.issues
        .flatMap(fromZodIssue)
        .filter((issue) => !failedReferences.has(formatKeyPath(issue.keyPath)));
  const referenceIssues = cameraReferenceIssues(substituted.value);

  const issues = inDocumentOrder([...substituted.issues, ...schemaIssues, ...referenceIssues], document);
  if (!result.success || issues.length > 0) return { ok: false, issues };
  return { ok: true, config: result.data };
}

/** Reads, parses and validates a config file; throws ConfigError listing every problem (OperatorError, exit 66, when it cannot be read). */
export async function loadConfig(file: string, options: LoadConfigOptions = {}): Promise<CrosscamConfig> {
  let text: string;
  try {
    text = options.text ?? (options.readFile ?? readUtf8)(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    // Missing input (sysexits 66), not an invalid config: there is no key to name.
    throw new OperatorError(`cannot read config file ${file}: ${reason}`, ExitCode.NO_INPUT);
  }
  const parsed = parseConfig(text, options);
  if (!parsed.ok) throw new ConfigError(parsed.issues, file);
  if (options.loadKnownModels === undefined) return parsed.config;

  const { models } = parsed.config;
  let known: KnownModels;
  try {
    known = await options.loadKnownModels(models);
  } catch (error) {
    const path = models.catalog === undefined ? ROOT_PATH : 'models.catalog';
    throw new ConfigError([{ path, message: (error as Error).message }], file);
  }
  const issues = modelReferenceIssues(models, known).map(({ keyPath, message }) =>
    formatIssue({ keyPath: ['models', ...keyPath], message }),
  );
  if (issues.length > 0) throw new ConfigError(issues, file);
  return parsed.config;
}

function formatIssue(issue: RawConfigIssue): ConfigIssue {
  return { path: formatKeyPath(issue.keyPath), message: issue.message };
}

function yamlErrorMessage(error: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }): string {
  // yaml's pretty message is "<what> at line L, column C:" plus a code excerpt; keep one line.
  const what = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  const position = error.linePos?.[0];
  return position === undefined
    ? `YAML syntax error: ${what}`
    : `YAML syntax error at line ${position.line}, column ${position.col}: ${what}`;
}

/** Sorts issues by where their key appears in the file (missing keys: where their parent is). */
function inDocumentOrder(issues: RawConfigIssue[], document: Document): ConfigIssue[] {
  const offsetOf = (keyPath: PropertyKey[]): number => {
    for (let length = keyPath.length; length > 0; length -= 1) {
      const node: unknown = document.getIn(keyPath.slice(0, length), true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range !== undefined) return range[0];
    }
    return -1;
  };
  return issues
    .map((issue, order) => ({ issue, order, offset: offsetOf(issue.keyPath) }))
    .sort((a, b) => a.offset - b.offset || a.order - b.order)
    .map(({ issue }) => formatIssue(issue));
}
