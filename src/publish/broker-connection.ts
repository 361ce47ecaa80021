import type { Logger } from '../core/logger.js';
import { redactCredentials } from '../core/redaction.js';
import type { BrokerClient, BrokerConnectOptions, BrokerConnector, IncomingMessage } from './broker-client.js';

export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface ReconnectBackoff {
  /** Delay before the first retry; doubles per failed attempt up to maxDelayMs. */
  minDelayMs: number;
  maxDelayMs: number;
}

export interface BrokerSession {
  client: BrokerClient;
  protocolVersion: 4 | 5;
  /** The broker's limit on unacknowledged QoS ≥ 1 publishes (MQTT 5 CONNACK), if it sent one. */
  receiveMaximum?: number;
}

export interface BrokerConnectionHandlers {
  up(session: BrokerSession): void;
  /** The session handed to `up` is gone; everything not yet acknowledged on it is lost. */
  down(): void;
  message(message: IncomingMessage): void;
}

export interface BrokerConnectionOptions {
  connect: BrokerConnectOptions;
  connector: BrokerConnector;
  backoff: ReconnectBackoff;
  handlers: BrokerConnectionHandlers;
  logger: Logger;
  timers?: Timers;
  /** Jitter source in [0, 1); each delay is scaled by 0.8–1.2 so a fleet does not reconnect in step. */
  random?: () => number;
}

/** CONNACK codes saying the broker does not speak the requested protocol version. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

/**
 * Keeps one connection to the broker: a fresh BrokerClient per attempt, exponential backoff
 * between attempts, and a one-time fallback from MQTT 5 to 3.1.1 when the broker refuses 5.
 * Events of clients that were replaced are ignored, so a late callback never touches the
 * current session.
 */
export class BrokerConnection {
  private readonly options: BrokerConnectionOptions;
  private readonly timers: Timers;
  private readonly random: () => number;
  /** For logs: credentials in the url are masked. */
  private readonly url: string;
  private protocolVersion: 4 | 5;
  private client: BrokerClient | null = null;
  private generation = 0;
  private isUp = false;
  private failedAttempts = 0;
  private retryNow = false;
  private reconnectTimer: unknown = null;
  private stopped = false;
  private outageLogged = false;

  constructor(options: BrokerConnectionOptions) {
    this.options = options;
    this.timers = options.timers ?? systemTimers;
    this.random = options.random ?? Math.random;
    this.url = redactCredentials(options.connect.url);
    this.protocolVersion = options.connect.protocolVersion;
  }

  start(): void {
    this.open();
  }

  /**
   * Stops reconnecting and closes the connection. When it is up, `beforeClose` runs first
   * (e.g. publish `offline`); if it returns true the client disconnects cleanly (no Last
   * Will), otherwise the socket is dropped and the broker publishes the Will.
   */
  async stop(beforeClose?: (client: BrokerClient) => Promise<boolean>): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer !== null) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const client = this.client;
    const wasUp = this.isUp;
    this.generation++;
    this.client = null;
    if (this.isUp) {
      this.isUp = false;
      this.options.handlers.down();
    }
    if (client === null) return;
    const clean = wasUp && beforeClose !== undefined && (await beforeClose(client));
    await client.end(!clean);
  }

  private open(): void {
    this.reconnectTimer = null;
    const generation = ++this.generation;
    const current = (): boolean => generation === this.generation;
    const protocolVersion = this.protocolVersion;
    this.client = this.options.connector(
      { ...this.options.connect, protocolVersion },
      {
        onConnect: (info) => {
          if (!current() || this.client === null) return;
          this.isUp = true;
          this.failedAttempts = 0;
          this.outageLogged = false;
          this.options.logger.info({ url: this.url, protocolVersion }, 'MQTT: connected');
          this.options.handlers.up({ client: this.client, protocolVersion, receiveMaximum: info.receiveMaximum });
        },
        onError: (error) => {
          if (!current()) return;
          if (!this.isUp && protocolVersion === 5 && typeof error.code === 'number' && UNSUPPORTED_PROTOCOL.has(error.code)) {
            this.protocolVersion = 4;
            this.retryNow = true;
            this.options.logger.warn({ url: this.url }, 'MQTT: broker refused protocol 5, falling back to 3.1.1');
            return;
          }
          // One warning per outage; the retries that follow are debug noise.
          this.options.logger[this.outageLogged ? 'debug' : 'warn']({ err: error, url: this.url }, 'MQTT: connection error');
          this.outageLogged = true;
        },
        onClose: () => {
          if (!current()) return;
          const client = this.client;
          this.client = null;
          if (this.isUp) {
            this.isUp = false;
            this.options.logger.warn({ url: this.url }, 'MQTT: disconnected, publishing paused');
            this.options.handlers.down();
          }
          void client?.end(true).catch(() => undefined);
          if (!this.stopped) this.scheduleReconnect();
        },
        onMessage: (message) => {
          if (current() && this.isUp) this.options.handlers.message(message);
        },
      },
    );
  }

  private scheduleReconnect(): void {
    let delay = 0;
    if (this.retryNow) {
      this.retryNow = false;
    } else {
      const { minDelayMs, maxDelayMs } = this.options.backoff;
      delay = Math.min(maxDelayMs, minDelayMs * 2 ** this.failedAttempts) * (0.8 + 0.4 * this.random());
      this.failedAttempts++;
    }
    this.reconnectTimer = this.timers.setTimeout(() => this.open(), Math.round(delay));
  }
}
