import { readFileSync } from 'node:fs';
import type { Logger } from '../core/logger.js';
import { connectMqttJs, type BrokerConnector, type IncomingMessage, type QoS } from './broker-client.js';
import { BrokerConnection, systemTimers, type BrokerSession, type ReconnectBackoff, type Timers } from './broker-connection.js';
import type { AdapterMessage, CameraStatusMessage, IdentitiesMergedMessage, MatchMessage, SightingMessage, StatsMessage } from './messages.js';
import type { Outbox, OutboxCounts, OutboxEntry } from './outbox.js';
import { answerRequest, type CommandRegistry, type RequestLimits } from './requests.js';
import { topicsFor, type Topics } from './topics.js';

export interface MqttPublisherOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  baseTopic: string;
  nodeId: string;
  /** Default `crosscam-<nodeId>`. */
  clientId?: string;
  username?: string;
  password?: string;
  /** 5 falls back to 4 (3.1.1) once if the broker refuses it. */
  protocolVersion: 4 | 5;
  keepaliveS: number;
  /** Certificate files (PEM) for mqtts/wss. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string; rejectUnauthorized: boolean };
  /** QoS of `sightings` and `matches`; at 1 and 2 they go through the durable outbox. */
  eventQos: QoS;
  outbox: Outbox;
  /** Handlers of `request/<command>`; none means every request gets `unknown_command`. */
  commands?: CommandRegistry;
  /** Bounds on requests and their answers (default DEFAULT_REQUEST_LIMITS). */
  requestLimits?: RequestLimits;
  logger: Logger;
  /** Default 1 s doubling up to 30 s. */
  backoff?: ReconnectBackoff;
  /** Outbox messages published and not yet acknowledged, at most (also capped by the broker's receive maximum). Default 20. */
  maxInFlight?: number;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /** Injected in tests. */
  connector?: BrokerConnector;
  timers?: Timers;
  random?: () => number;
}

export interface StopOptions {
  /** How long to wait for the broker to acknowledge what is pending; the rest stays in the outbox. Default 5 s. */
  drainTimeoutMs?: number;
}

export interface PublisherCounts extends OutboxCounts {
  inFlight: number;
  /** Outbox messages the broker refused with an MQTT 5 reason code (not retried). */
  rejected: number;
}

/**
 * crosscam's side of the MQTT contract (docs/mqtt.md). Events at QoS ≥ 1 are committed to
 * the LMDB outbox, then published at most `maxInFlight` at a time while connected, and
 * removed on PUBACK. A disconnect pauses publishing; what was in flight stays in the outbox
 * and is re-sent first, oldest first, on the next connection or the next start.
 */
export class MqttPublisher {
  readonly topics: Topics;
  private readonly options: MqttPublisherOptions;
  private readonly timers: Timers;
  private readonly connection: BrokerConnection;
  private readonly commands: CommandRegistry;
  private readonly maxInFlight: number;
  private session: BrokerSession | null = null;
  private window = 0;
  /** Next outbox seq to consider; everything below it was sent on the current session. */
  private cursor = 0;
  private readonly inFlight = new Set<number>();
  private rejected = 0;
  private readonly cameraStatuses = new Map<string, CameraStatusMessage>();
  private readonly clearedCameras = new Set<string>();
  /** Retained Home Assistant discovery configs, re-published on every connect ('' removes one, sent once). */
  private readonly discovery = new Map<string, string>();
  private readonly drainWaiters = new Set<() => void>();
  private stopping = false;

  constructor(options: MqttPublisherOptions) {
    this.options = options;
    this.timers = options.timers ?? systemTimers;
    this.commands = options.commands ?? {};
    this.maxInFlight = options.maxInFlight ?? 20;
    this.topics = topicsFor(options.baseTopic, options.nodeId);
    const { tls } = options;
    this.connection = new BrokerConnection({
      connect: {
        url: options.url,
        clientId: options.clientId ?? `crosscam-${options.nodeId}`,
        protocolVersion: options.protocolVersion,
        username: options.username,
        password: options.password,
        keepaliveS: options.keepaliveS,
        connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
        will: { topic: this.topics.available, payload: 'offline', qos: 1, retain: true },
        tls: tls && {
          ca: tls.caFile === undefined ? undefined : readFileSync(tls.caFile),
          cert: tls.certFile === undefined ? undefined : readFileSync(tls.certFile),
          key: tls.keyFile === undefined ? undefined : readFileSync(tls.keyFile),
          rejectUnauthorized: tls.rejectUnauthorized,
        },
      },
      connector: options.connector ?? connectMqttJs,
      backoff: options.backoff ?? { minDelayMs: 1000, maxDelayMs: 30_000 },
      logger: options.logger,
      timers: this.timers,
      random: options.random,
      handlers: {
        up: (session) => this.onUp(session),
        down: () => this.onDown(),
        message: (message) => void this.onRequest(message),
      },
    });
  }

  get connected(): boolean {
    return this.session !== null;
  }

  /** Connects in the background (and keeps reconnecting); messages left in the outbox go out first. */
  start(): void {
    this.connection.start();
  }

  /** Resolves once the event is committed to the outbox (QoS ≥ 1) or handed to the client (QoS 0). */
  publishSighting(message: SightingMessage): Promise<void> {
    return this.publishEvent(this.topics.sightings, message);
  }

  /**
   * A match, from inside the write transaction of the decision it announces: the message is
   * in the outbox exactly when the decision is in the gallery. Sent after the commit.
   */
  publishMatchInTransaction(message: MatchMessage): void {
    const topic = this.topics.matches;
    const payload = JSON.stringify(message);
    const qos = this.options.eventQos;
    // Sent once the transaction has committed, when the caller's callback has returned.
    if (qos === 0) {
      setImmediate(() => this.publishAtMostOnce(topic, payload));
      return;
    }
    const seq = this.options.outbox.enqueueInTransaction({ topic, payload, qos });
    setImmediate(() => this.sendStored(seq));
  }

  publishIdentitiesMerged(message: IdentitiesMergedMessage): Promise<void> {
    return this.publishEvent(this.topics.identitiesMerged, message);
  }

  publishAdapterChange(message: AdapterMessage): Promise<void> {
    return this.publishEvent(this.topics.adapter, message);
  }

  /** Retained; the latest per camera is re-published on every (re)connect. */
  publishCameraStatus(message: CameraStatusMessage): void {
    this.cameraStatuses.set(message.camera, message);
    this.clearedCameras.delete(message.camera);
    this.publishRetained(this.topics.cameraStatus(message.camera), JSON.stringify(message));
  }

  /** A camera left the config: delete its retained status (now, or on the next connect). */
  clearCameraStatus(cameraId: string): void {
    this.cameraStatuses.delete(cameraId);
    this.clearedCameras.add(cameraId);
    if (this.session !== null) {
      this.publishRetained(this.topics.cameraStatus(cameraId), '');
      this.clearedCameras.delete(cameraId);
    }
  }

  /** Home Assistant discovery configs (retained): sent now when connected, and on every reconnect. */
  publishDiscovery(messages: readonly { topic: string; payload: string }[]): void {
    for (const { topic, payload } of messages) {
      this.discovery.set(topic, payload);
      this.publishRetained(topic, payload);
      if (payload === '' && this.session !== null) this.discovery.delete(topic);
    }
  }

  /** Binary JPEG, retained, QoS 0, not stored: the latest per camera (Frigate's convention). */
  publishCameraSnapshot(cameraId: string, jpeg: Buffer): void {
    this.session?.client.publish(this.topics.cameraSnapshot(cameraId), jpeg, { qos: 0, retain: true }, () => undefined);
  }

  /** QoS 0, not retained, not stored: dropped while disconnected. */
  publishStats(message: StatsMessage): void {
    this.session?.client.publish(this.topics.stats, JSON.stringify(message), { qos: 0, retain: false }, () => undefined);
  }

  counts(): PublisherCounts {
    return { ...this.options.outbox.counts(), inFlight: this.inFlight.size, rejected: this.rejected };
  }

  /** True once every outbox message is acknowledged; false if `timeoutMs` passes first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (this.options.outbox.counts().pending === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (drained: boolean): void => {
        this.timers.clearTimeout(timer);
        this.drainWaiters.delete(onEmpty);
        resolve(drained);
      };
      const onEmpty = (): void => done(true);
      const timer = this.timers.setTimeout(() => done(false), timeoutMs);
      this.drainWaiters.add(onEmpty);
    });
  }

  /**
   * Clean stop: waits (bounded) for pending events to be acknowledged, publishes `offline`
   * and disconnects. If the broker is gone or slow, the socket is dropped instead and the
   * broker's Last Will says `offline`. Unsent events stay in the outbox for the next start.
   * Idempotent; call it before closing the state store.
   */
  async stop(options: StopOptions = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const drainTimeoutMs = options.drainTimeoutMs ?? 5000;
    const drained = this.session !== null && (await this.drain(drainTimeoutMs));
    await this.connection.stop(async (client) => {
      if (!drained) return false;
      return new Promise<boolean>((resolve) => {
        const timer = this.timers.setTimeout(() => resolve(false), drainTimeoutMs);
        client.publish(this.topics.available, 'offline', { qos: 1, retain: true }, (error) => {
          this.timers.clearTimeout(timer);
          resolve(error === undefined);
        });
      });
    });
    await this.options.outbox.flushed();
  }

  private async publishEvent(topic: string, message: SightingMessage | IdentitiesMergedMessage | AdapterMessage): Promise<void> {
    const payload = JSON.stringify(message);
    const qos = this.options.eventQos;
    if (qos === 0) {
      this.publishAtMostOnce(topic, payload);
      return;
    }
    this.sendStored(await this.options.outbox.enqueue({ topic, payload, qos }));
  }

  /** QoS 0 events skip the outbox: sent now if connected, else never. */
  private publishAtMostOnce(topic: string, payload: string): void {
    this.session?.client.publish(topic, payload, { qos: 0, retain: false }, () => undefined);
  }

  /** A committed outbox entry goes out with the others. */
  private sendStored(seq: number): void {
    // Commits normally land in seq order; if one landed late, step back so it is not skipped.
    if (seq < this.cursor && !this.inFlight.has(seq)) this.cursor = seq;
    this.pump();
  }

  private publishRetained(topic: string, payload: string): void {
    this.session?.client.publish(topic, payload, { qos: 1, retain: true }, (error) => {
      if (error) this.options.logger.warn({ err: error, topic }, 'MQTT: retained publish failed');
    });
  }

  private onUp(session: BrokerSession): void {
    this.session = session;
    this.window = Math.max(1, Math.min(this.maxInFlight, session.receiveMaximum ?? Infinity));
    this.cursor = 0;
    this.inFlight.clear();
    this.publishRetained(this.topics.available, 'online');
    session.client.subscribe(this.topics.requests, 1, (error) => {
      if (error) this.options.logger.error({ err: error, topic: this.topics.requests }, 'MQTT: could not subscribe to requests');
    });
    for (const [topic, payload] of this.discovery) {
      this.publishRetained(topic, payload);
      if (payload === '') this.discovery.delete(topic);
    }
    for (const cameraId of this.clearedCameras) this.publishRetained(this.topics.cameraStatus(cameraId), '');
    this.clearedCameras.clear();
    for (const status of this.cameraStatuses.values()) this.publishRetained(this.topics.cameraStatus(status.camera), JSON.stringify(status));
    const { pending } = this.options.outbox.counts();
    if (pending > 0) this.options.logger.info({ pending }, 'MQTT: sending the outbox backlog');
    this.pump();
  }

  private onDown(): void {
    // Whatever was in flight was not acknowledged: it stays in the outbox and is re-sent first.
    this.session = null;
    this.inFlight.clear();
  }

  private pump(): void {
    const session = this.session;
    if (session === null) return;
    while (this.inFlight.size < this.window) {
      const batch = this.options.outbox.read(this.cursor, this.window - this.inFlight.size);
      if (batch.length === 0) return;
      for (const entry of batch) {
        this.cursor = entry.seq + 1;
        if (!this.inFlight.has(entry.seq)) this.send(session, entry);
      }
    }
  }

  private send(session: BrokerSession, entry: OutboxEntry): void {
    this.inFlight.add(entry.seq);
    session.client.publish(entry.topic, entry.payload, { qos: entry.qos, retain: false }, (error) => {
      // An answer from a connection that is gone changes nothing: the entry is re-sent on the next one.
      if (this.session !== session) return;
      this.inFlight.delete(entry.seq);
      if (error === undefined) {
        this.options.outbox.remove(entry.seq);
      } else if (typeof error.code === 'number') {
        // The broker received it and refused it (e.g. not authorised): retrying cannot help.
        this.options.outbox.remove(entry.seq);
        this.rejected++;
        this.options.logger.warn({ err: error, topic: entry.topic, reasonCode: error.code }, 'MQTT: broker refused an event, dropped');
      } else {
        // The client failed it locally (its connection is closing): it stays in the outbox and
        // goes out on the next connection.
        this.options.logger.debug({ err: error, topic: entry.topic }, 'MQTT: publish failed, kept for the next connection');
        return;
      }
      if (this.options.outbox.counts().pending === 0) for (const waiter of [...this.drainWaiters]) waiter();
      this.pump();
    });
  }

  private async onRequest(message: IncomingMessage): Promise<void> {
    const response = await answerRequest(message, {
      topics: this.topics,
      commands: this.commands,
      logger: this.options.logger,
      ...(this.options.requestLimits ? { limits: this.options.requestLimits } : {}),
    });
    if (response === null) return;
    const client = this.session?.client;
    if (client === undefined) {
      this.options.logger.warn({ topic: response.topic }, 'MQTT: disconnected before a response could be sent');
      return;
    }
    client.publish(response.topic, response.payload, { qos: 1, retain: false, correlationData: response.correlationData }, (error) => {
      if (error) this.options.logger.warn({ err: error, topic: response.topic }, 'MQTT: response publish failed');
    });
  }
}
