import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../src/core/logger.js';
import type {
  BrokerClient,
  BrokerClientEvents,
  BrokerConnectOptions,
  BrokerConnector,
  PublishError,
  PublishOptions,
  QoS,
} from '../../src/publish/broker-client.js';
import type { Timers } from '../../src/publish/broker-connection.js';

/** A pino logger whose records land in `records` (parsed JSON). */
export function memoryLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug', base: undefined }, stream), records };
}

/** Manually advanced timers: nothing runs until advance(). */
export class FakeTimers implements Timers {
  now = 0;
  private nextId = 1;
  private readonly tasks = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.tasks.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.tasks.delete(handle as number);
  }

  /** Delays (ms from now) of the pending tasks, soonest first. */
  pendingDelays(): number[] {
    return [...this.tasks.values()].map((task) => task.at - this.now).sort((a, b) => a - b);
  }

  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.tasks.entries()].filter(([, task]) => task.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.tasks.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = until;
  }
}

export interface FakePublish {
  topic: string;
  payload: string;
  options: PublishOptions;
  done: (error?: PublishError) => void;
}

/** One fake connection: the test decides when it connects, acknowledges and closes. */
export class FakeClient implements BrokerClient {
  readonly published: FakePublish[] = [];
  readonly subscriptions: { topicFilter: string; qos: QoS }[] = [];
  endedWithForce: boolean | null = null;

  constructor(
    readonly options: BrokerConnectOptions,
    readonly events: BrokerClientEvents,
  ) {}

  publish(topic: string, payload: string | Buffer, options: PublishOptions, done: (error?: PublishError) => void): void {
    this.published.push({ topic, payload: payload.toString(), options, done });
  }

  subscribe(topicFilter: string, qos: QoS, done: (error?: Error) => void): void {
    this.subscriptions.push({ topicFilter, qos });
    done();
  }

  end(force: boolean): Promise<void> {
    this.endedWithForce = force;
    return Promise.resolve();
  }

  /** Publishes on `topic` so far, in order. */
  on(topic: string): FakePublish[] {
    return this.published.filter((entry) => entry.topic === topic);
  }
}

/** A connector that records every client it creates. */
export function fakeConnector(): { connector: BrokerConnector; clients: FakeClient[] } {
  const clients: FakeClient[] = [];
  return {
    clients,
    connector: (options, events) => {
      const client = new FakeClient(options, events);
      clients.push(client);
      return client;
    },
  };
}
