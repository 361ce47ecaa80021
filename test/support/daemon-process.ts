import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { TEST_MODELS_DIR } from './shared-data.js';

/** The built CLI (tests run from dist/test/support/). */
export const CLI_PATH = path.resolve(import.meta.dirname, '../../src/cli/main.js');

/** One pino JSON line of the daemon's stderr. */
export interface DaemonLogLine {
  level: number;
  /** ms since epoch, as pino writes it. */
  time: number;
  msg: string;
  [field: string]: unknown;
}

export interface DaemonProcessOptions {
  /** A config object (written as YAML to a temp file) or the path of a config file. */
  config: object | string;
  /** Added to this process's environment (after CROSSCAM_MODELS_DIR=TEST_MODELS_DIR). */
  env?: NodeJS.ProcessEnv;
  /** Extra arguments after `run --config FILE`. */
  args?: string[];
  /** Node.js and V8 flags before the script (e.g. --cpu-prof, --trace-gc: NODE_OPTIONS refuses them). */
  nodeArgs?: string[];
  cwd?: string;
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DaemonProcess {
  readonly pid: number;
  readonly configFile: string;
  /** The JSON log lines parsed so far, in order. */
  logs(): readonly DaemonLogLine[];
  stdout(): string;
  /** The whole stderr, JSON lines included. */
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<DaemonExit>;
  /** The first log line (already seen or still to come) matching; rejects on timeout or exit. */
  waitForLog(predicate: (line: DaemonLogLine) => boolean, timeoutMs: number): Promise<DaemonLogLine>;
  /** Sends `signal` and resolves with the exit code; SIGKILLs and rejects if it has not exited within timeoutMs. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILLs the daemon's process group (its ffmpeg children too) if still running, and removes the temp dir. */
  dispose(): Promise<void>;
}

/**
 * Runs `crosscam run` as a child process, in its own process group so that dispose() also
 * takes down the ffmpeg processes it started. Its stderr is pino JSON (stderr is a pipe).
 */
export function startDaemon(options: DaemonProcessOptions): DaemonProcess {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-daemon-'));
  let configFile: string;
  if (typeof options.config === 'string') configFile = options.config;
  else {
    configFile = path.join(dir, 'crosscam.yaml');
    // Daemons of parallel tests must not contend for the default HTTP port or snapshot directory.
    const config = options.config as { http?: object; snapshots?: object };
    writeFileSync(
      configFile,
      stringify({ ...config, http: { port: 0, ...config.http }, snapshots: { path: path.join(dir, 'snapshots'), ...config.snapshots } }),
    );
  }
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI_PATH, 'run', '--config', configFile, ...(options.args ?? [])], {
    cwd: options.cwd,
    // As the systemd unit runs it (MALLOC_ARENA_MAX: docs/performance.md, "Soak"), so benchmarks measure what ships.
    env: { MALLOC_ARENA_MAX: '2', ...process.env, CROSSCAM_MODELS_DIR: TEST_MODELS_DIR, ...options.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${CLI_PATH}`);
  const pid = child.pid;

  let stdout = '';
  let stderr = '';
  let partial = '';
  const lines: DaemonLogLine[] = [];
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    const split = (partial + text).split('\n');
    partial = split.pop() ?? '';
    for (const line of split) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as DaemonLogLine);
      } catch {
        // not a log line; it stays in stderr()
      }
    }
    for (const wake of waiters) wake();
  });

  let exit: DaemonExit | undefined;
  const exited = new Promise<DaemonExit>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      for (const wake of waiters) wake();
      resolve(exit);
    }),
  );
  // A test process that dies must not leave a daemon (and its ffmpegs) behind.
  const killGroup = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killGroup);

  const tail = () => stderr.slice(-3000);

  const waitForLog = (predicate: (line: DaemonLogLine) => boolean, timeoutMs: number): Promise<DaemonLogLine> =>
    new Promise((resolve, reject) => {
      let checked = 0;
      const check = () => {
        for (; checked < lines.length; checked++) {
          if (predicate(lines[checked]!)) return finish(() => resolve(lines[checked]!));
        }
        if (exit) finish(() => reject(new Error(`daemon exited (${exit!.code ?? exit!.signal}) before the awaited log line; stderr:\n${tail()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no matching daemon log line within ${timeoutMs} ms; stderr:\n${tail()}`))), timeoutMs);
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<number | null> => {
    if (!exit) child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([exited, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      killGroup();
      await exited;
      throw new Error(`daemon did not exit within ${timeoutMs} ms of ${signal}; stderr:\n${tail()}`);
    }
    return outcome.code;
  };

  return {
    pid,
    configFile,
    logs: () => lines,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForLog,
    stop,
    async dispose() {
      // The group may outlive the daemon (an ffmpeg child), so it is killed in any case.
      killGroup();
      if (!exit) await exited;
      process.off('exit', killGroup);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
