import path from 'node:path';
import type { RawConfigIssue } from './issues.js';

/**
 * Where secret references are resolved from; injected so that tests (and check-config on
 * another machine) control them.
 */
export interface SecretSources {
  env: Readonly<Record<string, string | undefined>>;
  /** Reads a whole file as UTF-8; throws (an errno error) when it cannot. */
  readFile: (file: string) => string;
}

export interface SubstitutionResult {
  value: unknown;
  /** One per unresolvable reference, at the key path of the string that holds it. */
  issues: RawConfigIssue[];
}

// `$${...}` is an escaped literal `${...}`; anything else in `${...}` must be a known reference.
const REFERENCE = /\$?\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const USAGE = 'use ${ENV:NAME}, ${ENV:NAME:-default}, ${FILE:/path} or ${CREDENTIAL:name}';

/**
 * Replaces secret references in every string scalar of a parsed config (keys are left alone):
 * `${ENV:NAME}`, `${ENV:NAME:-default}` (default when unset or empty), `${FILE:/path}` (file
 * content, trailing newlines trimmed) and `${CREDENTIAL:name}` (systemd LoadCredential=, read
 * from $CREDENTIALS_DIRECTORY/name). Results are always strings. Messages never contain the
 * substituted values.
 */
export function substituteSecrets(value: unknown, sources: SecretSources): SubstitutionResult {
  const issues: RawConfigIssue[] = [];
  const visit = (node: unknown, keyPath: PropertyKey[]): unknown => {
    if (typeof node === 'string') return substituteString(node, sources, keyPath, issues);
    if (Array.isArray(node)) return node.map((item, index) => visit(item, [...keyPath, index]));
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, visit(item, [...keyPath, key])]));
    }
    return node;
  };
  return { value: visit(value, []), issues };
}

function substituteString(text: string, sources: SecretSources, keyPath: PropertyKey[], issues: RawConfigIssue[]): string {
  return text.replace(REFERENCE, (match: string, body: string) => {
    if (match.startsWith('$$')) return match.slice(1);
    const resolved = resolveReference(body, sources);
    if (typeof resolved === 'string') return resolved;
    issues.push({ keyPath, message: resolved.error });
    return '';
  });
}

function resolveReference(body: string, sources: SecretSources): string | { error: string } {
  const colon = body.indexOf(':');
  const kind = colon < 0 ? body : body.slice(0, colon);
  const argument = colon < 0 ? '' : body.slice(colon + 1);
  switch (kind) {
    case 'ENV':
      return resolveEnv(argument, sources.env);
    case 'FILE':
      if (argument === '') return { error: '${FILE:...} needs a file path' };
      return readSecretFile(argument, `file ${argument}`, sources);
    case 'CREDENTIAL': {
      if (argument === '' || argument.includes('/')) {
        return { error: `\${CREDENTIAL:${argument}}: a credential name must be non-empty and contain no "/"` };
      }
      const directory = sources.env.CREDENTIALS_DIRECTORY;
      if (directory === undefined || directory === '') {
        return {
          error: `credential ${argument} requested but CREDENTIALS_DIRECTORY is not set (systemd LoadCredential= provides it)`,
        };
      }
      const file = path.join(directory, argument);
      return readSecretFile(file, `credential ${argument} from ${file}`, sources);
    }
    default:
      return { error: `unknown reference \${${body}}: ${USAGE} (write $\${...} for a literal \${...})` };
  }
}

function resolveEnv(argument: string, env: SecretSources['env']): string | { error: string } {
  const separator = argument.indexOf(':-');
  const name = separator < 0 ? argument : argument.slice(0, separator);
  if (!ENV_NAME.test(name)) return { error: `\${ENV:${argument}}: "${name}" is not a valid environment variable name` };
  const value = env[name];
  if (value !== undefined && value !== '') return value;
  if (separator >= 0) return argument.slice(separator + 2);
  return { error: `environment variable ${name} is not set` };
}

function readSecretFile(file: string, what: string, sources: SecretSources): string | { error: string } {
  try {
    return sources.readFile(file).replace(/[\r\n]+$/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { error: `cannot read ${what}: ${code ?? (error instanceof Error ? error.message : String(error))}` };
  }
}

/** The values of a validated config that are secrets: passwords, tokens, URL passwords. */
export function configSecrets(config: { mqtt: { url: string; password?: string | undefined }; http: { token?: string | undefined }; cameras: readonly { url: string }[] }): string[] {
  const urlPassword = (url: string): string | undefined => {
    if (!URL.canParse(url)) return undefined;
    const password = new URL(url).password;
    return password === '' ? undefined : decodeURIComponent(password);
  };
  return [config.mqtt.password, config.http.token, urlPassword(config.mqtt.url), ...config.cameras.map((camera) => urlPassword(camera.url))].filter(
    (value): value is string => value !== undefined && value !== '',
  );
}
