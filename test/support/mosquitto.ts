import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

export const MOSQUITTO_BIN = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
export const HAVE_MOSQUITTO = existsSync(MOSQUITTO_BIN);

export interface MosquittoOptions {
  /** Keep sessions and retained messages across restart() (saved on SIGTERM). Default false. */
  persistence?: boolean;
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
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous true', `persistence ${options.persistence ? 'true' : 'false'}`, 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice'];
  if (options.persistence) lines.push(`persistence_location ${dir}/`, 'autosave_interval 1');
  writeFileSync(configFile, `${lines.join('\n')}\n`);

  let child: ChildProcess | null = null;
  let output = '';

  const launch = async (): Promise<void> => {
    const proc = spawn(MOSQUITTO_BIN, ['-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`mosquitto exited at start (${proc.exitCode ?? proc.signalCode}):\n${output}`);
      if (await canConnect(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`mosquitto did not accept connections on ${port} within 10 s:\n${output}`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = null;
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    proc.kill('SIGCONT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
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
    url: `mqtt://127.0.0.1:${port}`,
    log: () => output,
    freeze: () => child?.kill('SIGSTOP'),
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
