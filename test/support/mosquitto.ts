import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
export const HAVE_MOSQUITTO = existsSync(MOSQUITTO_BIN);
const MOSQUITTO_PASSWD_BIN = '/usr/bin/mosquitto_passwd';

export interface MosquittoOptions {
  /** Keep sessions and retained messages across restart() (saved on SIGTERM). Default false. */
  persistence?: boolean;
  /** Password authentication (anonymous clients refused): user → password. */
  passwords?: Record<string, string>;
  /** An ACL file's text (`user NAME` / `topic readwrite PATTERN` lines). */
  acl?: string;
  /**
   * A TLS listener instead of plain TCP: PEM file paths. With requireCertificate, clients must
   * present one signed by ca, and its CN is their user name (no password needed).
   */
  tls?: { ca: string; cert: string; key: string; requireCertificate?: boolean };
}

export interface Mosquitto {
  port: number;
  url: string;
  /** Everything Mosquitto logged so far (for failure messages). */
  log(): string;
  /** SIGSTOP: the broker keeps its sockets open but answers nothing (acknowledgements stall). */
  freeze(): void;
  /** SIGTERM (and SIGCONT, in case it is frozen), wait for the exit. */
  stop(): Promise<void>;
  /** Stop if running, then start again on the same port with the same config. */
  restart(): Promise<void>;
  /** stop() and remove the temp dir. */
  dispose(): Promise<void>;
}

function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (proc.pid !== undefined) process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A real Mosquitto on a free 127.0.0.1 port with its own config in a temp dir. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-mosquitto-'));
  const configFile = path.join(dir, 'mosquitto.conf');
  const lines = [`listener ${port} 127.0.0.1`, `persistence ${options.persistence ? 'true' : 'false'}`, 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information'];
  // Started as root, Mosquitto drops to user `mosquitto`, which cannot read files in our 0700 temp dir.
  lines.push(`user ${os.userInfo().username}`);
  if (options.persistence) lines.push(`persistence_location ${dir}/`, 'autosave_interval 1');
  if (options.passwords !== undefined) {
    const passwordFile = path.join(dir, 'passwords');
    writeFileSync(passwordFile, '');
    for (const [user, password] of Object.entries(options.passwords)) execFileSync(MOSQUITTO_PASSWD_BIN, ['-b', passwordFile, user, password]);
    lines.push('allow_anonymous false', `password_file ${passwordFile}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (options.acl !== undefined) {
    writeFileSync(path.join(dir, 'acl'), options.acl);
    lines.push(`acl_file ${path.join(dir, 'acl')}`);
  }
  if (options.tls !== undefined) {
    lines.push(`cafile ${options.tls.ca}`, `certfile ${options.tls.cert}`, `keyfile ${options.tls.key}`);
    if (options.tls.requireCertificate) lines.push('require_certificate true', 'use_identity_as_username true');
  }
  writeFileSync(configFile, `${lines.join('\n')}\n`);

  let child: ChildProcess | null = null;
  let output = '';

  const launch = async (): Promise<void> => {
    // Its own process group, ended as a group (and at the latest when the test process exits).
    const proc = spawn(MOSQUITTO_BIN, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child = proc;
    const killGroup = () => signalGroup(proc, 'SIGKILL');
    process.once('exit', killGroup);
    proc.once('exit', () => process.off('exit', killGroup));
    proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`mosquitto exited at start (${proc.exitCode ?? proc.signalCode}):\n${output}`);
      if (await canConnect(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    signalGroup(proc, 'SIGKILL');
    throw new Error(`mosquitto did not accept connections on ${port} within 10 s:\n${output}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    signalGroup(proc, 'SIGTERM');
    signalGroup(proc, 'SIGCONT');
    const timer = setTimeout(() => signalGroup(proc, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url: `${options.tls === undefined ? 'mqtt' : 'mqtts'}://127.0.0.1:${port}`,
    log: () => output,
    freeze: () => {
      if (child !== null) signalGroup(child, 'SIGSTOP');
    },
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
