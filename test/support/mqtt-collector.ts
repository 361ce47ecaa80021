import mqtt, { type IClientOptions } from 'mqtt';

export interface CollectedMessage {
  topic: string;
  /** Parsed JSON when the payload is a JSON object or array, else the UTF-8 string ('' for a cleared retained message). */
  payload: unknown;
  raw: string;
  /** Delivered from the broker's retained store (at subscribe time), not live. */
  retained: boolean;
  qos: number;
  /** Date.now() when it arrived. */
  receivedAt: number;
}

export interface MqttCollectorOptions {
  url: string;
  topics: string[];
  /** 5 (default) or 4 (3.1.1). */
  protocolVersion?: 4 | 5;
  clientId?: string;
  /**
   * false: a persistent session (subscriptions and QoS ≥ 1 messages queued by the broker while
   * this client is away; with MQTT 5 the session expiry is set for that). Default true.
   */
  clean?: boolean;
  /** Subscription QoS (default 1). */
  qos?: 0 | 1 | 2;
  /** Passed to MQTT.js as they are: username, password, TLS material (ca, cert, key). */
  connect?: Pick<IClientOptions, 'username' | 'password' | 'ca' | 'cert' | 'key' | 'rejectUnauthorized'>;
}

export interface MqttCollector {
  /** Every message received, in arrival order (grows while the collector runs). */
  readonly messages: readonly CollectedMessage[];
  /** Successful connects so far (reconnects included). */
  connects(): number;
  connected(): boolean;
  /** The first message (already received or to come) matching; rejects on timeout. */
  waitFor(predicate: (message: CollectedMessage) => boolean, timeoutMs: number, what?: string): Promise<CollectedMessage>;
  close(): Promise<void>;
}

function parsePayload(raw: string): unknown {
  if (!raw.startsWith('{') && !raw.startsWith('[')) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * An MQTT.js subscriber that records what it receives with arrival times. It reconnects by
 * itself every 500 ms while the broker is away; resolves once the first subscription is granted.
 */
export async function collectMqtt(options: MqttCollectorOptions): Promise<MqttCollector> {
  const protocolVersion = options.protocolVersion ?? 5;
  const clean = options.clean ?? true;
  const qos = options.qos ?? 1;
  const clientOptions: IClientOptions = {
    protocolVersion,
    clean,
    reconnectPeriod: 500,
    connectTimeout: 5000,
    ...(options.clientId !== undefined ? { clientId: options.clientId } : {}),
    ...options.connect,
    // MQTT 5 ends a session at disconnect unless told otherwise.
    ...(protocolVersion === 5 && !clean ? { properties: { sessionExpiryInterval: 3600 } } : {}),
  };
  const client = mqtt.connect(options.url, clientOptions);
  const messages: CollectedMessage[] = [];
  const waiters = new Set<() => void>();
  let connects = 0;
  client.on('connect', () => (connects += 1));
  // Connection errors are retried; they are not the collector's to throw.
  client.on('error', () => undefined);
  client.on('message', (topic, payload, packet) => {
    const raw = payload.toString('utf8');
    messages.push({ topic, payload: parsePayload(raw), raw, retained: packet.retain, qos: packet.qos, receivedAt: Date.now() });
    for (const wake of waiters) wake();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`MQTT collector could not connect to ${options.url} within 10 s`)), 10_000);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await client.subscribeAsync(options.topics, { qos });
  } catch (error) {
    await client.endAsync(true);
    throw error;
  }

  return {
    messages,
    connects: () => connects,
    connected: () => client.connected,
    waitFor: (predicate, timeoutMs, what = 'an MQTT message') =>
      new Promise((resolve, reject) => {
        let checked = 0;
        const check = () => {
          for (; checked < messages.length; checked++) {
            const message = messages[checked]!;
            if (predicate(message)) {
              finish();
              resolve(message);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${messages.length} messages received)`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    close: async () => {
      await client.endAsync(!client.connected);
    },
  };
}
