/**
 * systemd's notify protocol for `Type=notify` with `WatchdogSec=`: READY=1 once the models are
 * loaded and the stages started, STATUS= with a one-line summary, and WATCHDOG=1 pings at half
 * the watchdog interval — only while frames flow, so a daemon whose pipeline hangs is
 * restarted by systemd. "Flowing" means every camera that ffmpeg keeps online has had a frame
 * processed within the stall window; a camera that is offline or reconnecting is its own
 * watchdog's business (ingest), not a reason to restart the daemon.
 *
 * Messages go through the `systemd-notify` binary (the unit sets `NotifyAccess=all`, since the
 * sender is a child process); Node has no AF_UNIX datagram sockets and the native sd_notify
 * packages need libsystemd headers to build on the device.
 */
import { execFile } from 'node:child_process';
import type { Logger } from '../core/logger.js';

export interface FrameFlowView {
  cameraId: string;
  online: boolean;
  /** Wall-clock time (ms) of the camera's last processed frame, null before the first. */
  lastProcessedAt: number | null;
  /** When the camera came online (ms), so a camera just online is not counted as stalled. */
  onlineSince: number;
}

export type Notify = (assignments: readonly string[]) => Promise<void>;

/** Sends assignments with `systemd-notify`, which reads $NOTIFY_SOCKET from `env`. */
export function systemdNotify(options: { env: NodeJS.ProcessEnv; binary?: string }): Notify {
  return (assignments) =>
    new Promise((resolve, reject) => {
      execFile(options.binary ?? 'systemd-notify', [...assignments], { env: options.env, timeout: 5000 }, (error) => (error ? reject(error) : resolve()));
    });
}

export interface SystemdWatchdogOptions {
  /** The process environment: NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID. */
  env: Readonly<Record<string, string | undefined>>;
  notify: Notify;
  cameras: () => readonly FrameFlowView[];
  /** One line for `systemctl status`. */
  statusLine: () => string;
  /** A camera online for this long without a processed frame is stalled. */
  stallMs: number;
  logger: Logger;
  now?: () => number;
  pid?: number;
}

/** Whether frames flow: every online camera has had a frame processed within `stallMs`. */
export function framesFlow(cameras: readonly FrameFlowView[], stallMs: number, now: number): { flowing: boolean; stalled: string[] } {
  const stalled = cameras
    .filter((camera) => camera.online && now - Math.max(camera.lastProcessedAt ?? 0, camera.onlineSince) > stallMs)
    .map((camera) => camera.cameraId);
  return { flowing: stalled.length === 0, stalled };
}

export class SystemdWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private warned = false;
  private readonly now: () => number;

  constructor(private readonly options: SystemdWatchdogOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Under systemd with Type=notify (NOTIFY_SOCKET set). */
  get enabled(): boolean {
    return Boolean(this.options.env.NOTIFY_SOCKET);
  }

  /** Ping interval (ms): half of WatchdogSec, or undefined when the unit has no watchdog for this process. */
  get intervalMs(): number | undefined {
    const usec = Number(this.options.env.WATCHDOG_USEC);
    const forPid = this.options.env.WATCHDOG_PID;
    if (!this.enabled || !(usec > 0) || (forPid !== undefined && Number(forPid) !== (this.options.pid ?? process.pid))) return undefined;
    return Math.max(100, usec / 1000 / 2);
  }

  /** READY=1 now, then pings while frames flow. */
  async ready(): Promise<void> {
    if (!this.enabled) return;
    await this.send(['READY=1', `STATUS=${this.options.statusLine()}`]);
    const interval = this.intervalMs;
    if (interval !== undefined) this.timer = setInterval(() => void this.tick(), interval);
  }

  /** One watchdog step (exposed for tests): pings if frames flow. */
  async tick(): Promise<boolean> {
    const { flowing, stalled } = framesFlow(this.options.cameras(), this.options.stallMs, this.now());
    if (!flowing) {
      if (!this.warned) this.options.logger.error({ stalled }, `frames stopped flowing on ${stalled.join(', ')}: systemd watchdog pings withheld (systemd restarts the daemon after WatchdogSec)`);
      this.warned = true;
      return false;
    }
    this.warned = false;
    await this.send(['WATCHDOG=1', `STATUS=${this.options.statusLine()}`]);
    return true;
  }

  async stopping(): Promise<void> {
    clearInterval(this.timer);
    if (this.enabled) await this.send(['STOPPING=1', 'STATUS=stopping: draining events']);
  }

  private async send(assignments: string[]): Promise<void> {
    await this.options.notify(assignments).catch((error: Error) => this.options.logger.warn({ err: error }, `systemd notify failed: ${error.message}`));
  }
}
