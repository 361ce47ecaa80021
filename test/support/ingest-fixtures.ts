import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/core/logger.js';
import type { Clock, TimerHandle } from '../../src/ingest/clock.js';

/** A clock that moves only when told to: timers fire in time order during `advance`. */
export class FakeClock implements Clock {
  private time = 1_700_000_000_000;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, delayMs), callback });
    return id;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let due: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
    }
    this.time = end;
  }
}

/** Polls (in real time) until `condition` holds. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A pino logger whose JSON lines are kept in memory. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'debug', base: undefined }, sink), lines };
}

/**
 * An uncompressed YUV4MPEG2 clip (4:2:0) whose frame k has luma rows 16 + (3k + row) % 200,
 * so every frame of the first 66 differs; ffmpeg decodes it with no codec delay.
 */
export function y4mClip(options: { width: number; height: number; frames: number; fps: number }): { header: Buffer; frames: Buffer[] } {
  const { width, height } = options;
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F${options.fps}:1 Ip A1:1 C420jpeg\n`);
  const frames = Array.from({ length: options.frames }, (_, k) => {
    const luma = Buffer.alloc(width * height);
    for (let row = 0; row < height; row += 1) luma.fill(16 + ((3 * k + row) % 200), row * width, (row + 1) * width);
    const chroma = Buffer.alloc(2 * (width / 2) * (height / 2), 128);
    return Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  });
  return { header, frames };
}

/**
 * A TCP "camera" ffmpeg reads as tcp://127.0.0.1:<port>: in 'silent' mode it accepts and
 * sends nothing; in 'frames' mode it sends the y4m header and `initialFrames` frames, then
 * holds the connection open without sending more until `sendFrames` is called.
 */
export class StallingCamera {
  mode: 'silent' | 'frames' = 'silent';
  connections = 0;
  private sent = 0;
  private socket: net.Socket | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;

  constructor(
    private readonly clip: { header: Buffer; frames: Buffer[] },
    private readonly initialFrames = 3,
  ) {
    this.server = net.createServer((socket) => {
      this.connections += 1;
      this.socket = socket;
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => this.sockets.delete(socket));
      if (this.mode === 'frames') {
        this.sent = 0;
        socket.write(this.clip.header);
        this.sendFrames(this.initialFrames);
      }
    });
  }

  listen(): Promise<string> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(`tcp://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`)));
  }

  /** Sends the next frames of the clip (cycling) on the newest connection. */
  sendFrames(count: number): void {
    for (let i = 0; i < count; i += 1) this.socket?.write(this.clip.frames[this.sent++ % this.clip.frames.length]);
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
