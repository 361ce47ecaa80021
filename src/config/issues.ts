/** One problem in a config file: where (dotted key path, `(root)` for the whole file) and what is wrong. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** An issue whose location is still a key path array (as zod reports it), before formatting. */
export interface RawConfigIssue {
  keyPath: PropertyKey[];
  message: string;
}

export const ROOT_PATH = '(root)';

/** `['cameras', 1, 'detect', 'fps']` → `cameras.1.detect.fps`; an empty path is the root. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? ROOT_PATH : path.map(String).join('.');
}

/** One `<key.path>: <what is wrong>` line per issue, the format every command prints. */
export function formatConfigIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
}

/** Thrown by loadConfig when a config file cannot be used; carries every issue found. */
export class ConfigError extends Error {
  constructor(
    readonly issues: readonly ConfigIssue[],
    readonly file?: string,
  ) {
    const where = file === undefined ? 'config' : `config file ${file}`;
    super(`invalid ${where}:\n${formatConfigIssues(issues)}`);
    this.name = 'ConfigError';
  }
}
