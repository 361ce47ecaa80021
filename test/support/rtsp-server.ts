import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BUNDLED_FFMPEG_PATH } from '../../src/ingest/ffmpeg-frames.js';
import { freePort } from './ports.js';

/** Debian's python, with its packages' modules (gi, cv2): a python3 earlier on PATH may not see them. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
// Tests run from dist/test/support/; the script is not compiled, so it is read from the source tree.
const SERVER_SCRIPT = path.resolve(fileURLToPath(import.meta.url), '../../../../test/support/rtsp-server.py');

/** True when GStreamer's RTSP server can be driven from Python here (Debian python3-gi, gir1.2-gst-rtsp-server-1.0). */
export function haveRtspServer(): boolean {
  const probe = spawnSync(SYSTEM_PYTHON, ['-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"], {
    stdio: 'ignore',
  });
  return probe.status === 0;
}

export interface RtspServerOptions {
  /** A free port is picked when absent. */
  port?: number;
  /** Mount name → H.264 MP4 file, served as rtsp://127.0.0.1:<port>/<name> without re-encoding. */
  mounts: Record<string, string>;
}

export interface RtspServer {
  readonly port: number;
  url(mount: string): string;
  /** Kills the server's process group and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same port (stopping it first if it runs). */
  restart(): Promise<void>;
}

/**
 * Starts GStreamer's RTSP server on 127.0.0.1 and resolves once the port accepts connections.
 * Every client gets its own media, so each one starts at the beginning of its file; a file's
 * end ends that client's stream. The server also exits by itself if this process dies.
 */
export async function startRtspServer(options: RtspServerOptions): Promise<RtspServer> {
  const port = options.port ?? (await freePort());
  const args = [SERVER_SCRIPT, '--port', String(port)];
  for (const [name, file] of Object.entries(options.mounts)) args.push('--mount', `${name}=${path.resolve(file)}`);
  let child: ChildProcess | undefined = await launch(args, port);
  const stop = async () => {
    if (child) await terminate(child);
    child = undefined;
  };
  return {
    port,
    url: (mount) => `rtsp://127.0.0.1:${port}/${mount}`,
    stop,
    restart: async () => {
      await stop();
      child = await launch(args, port);
    },
  };
}

async function launch(args: string[], port: number): Promise<ChildProcess> {
  // Own process group so that stop() can kill everything it started; stdin stays open as a lifeline.
  const child = spawn(SYSTEM_PYTHON, args, { detached: true, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr = (stderr + text).slice(-4000)));
  let exitCode: number | null | undefined;
  child.on('exit', (code) => (exitCode = code));
  child.on('error', (error) => (stderr += error.message));
  // Not kept alive by the server: a test that forgot stop() still ends, and the server follows.
  child.unref();
  for (const stream of [child.stdin, child.stderr] as unknown as net.Socket[]) stream.unref();

  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (exitCode !== undefined || Date.now() > deadline) {
      await terminate(child);
      throw new Error(`RTSP server did not start on port ${port} (exit ${exitCode}): ${stderr.trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return child;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const group = -child.pid!;
  try {
    process.kill(group, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const timer = setTimeout(() => {
    try {
      process.kill(group, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }, 3000);
  await exited;
  clearTimeout(timer);
}

export interface H264ClipOptions {
  input: string;
  output: string;
  /** ffmpeg -vf chain, e.g. `crop=iw/2:ih:0:0`. */
  filter?: string;
  /** Keep only the first frames / seconds. */
  frames?: number;
  durationS?: number;
  /** Output frame rate; the source's when absent. */
  fps?: number;
  /** Keyframe interval in frames: small so that a client joining mid-stream starts decoding quickly. */
  gop?: number;
  /** Extra plays of the input (ffmpeg -stream_loop), for clips longer than the source. */
  repeats?: number;
}

/** Transcodes a clip to a small H.264 MP4 (libx264 ultrafast, no B-frames) with the bundled ffmpeg. */
export async function makeH264Clip(options: H264ClipOptions): Promise<string> {
  const args = ['-y', '-hide_banner', '-loglevel', 'error'];
  if (options.repeats !== undefined) args.push('-stream_loop', String(options.repeats));
  args.push('-i', options.input, '-an');
  if (options.filter) args.push('-vf', options.filter);
  if (options.fps !== undefined) args.push('-r', String(options.fps));
  if (options.frames !== undefined) args.push('-frames:v', String(options.frames));
  if (options.durationS !== undefined) args.push('-t', String(options.durationS));
  args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(options.gop ?? 10), '-pix_fmt', 'yuv420p', '-movflags', '+faststart', options.output);
  await promisify(execFile)(BUNDLED_FFMPEG_PATH, args);
  return options.output;
}
