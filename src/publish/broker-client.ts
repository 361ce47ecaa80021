import { connect, type IClientOptions } from 'mqtt';

/*
 * The small slice of an MQTT client the publisher uses. The real one wraps MQTT.js; tests
 * inject fakes to drive connects, acknowledgements and disconnects with fake timers.
 *
 * One BrokerClient is one network connection: it never reconnects by itself (MQTT.js runs
 * with reconnectPeriod 0) and starts with an empty in-memory store. That keeps the LMDB
 * outbox the only queue: MQTT.js has nothing of its own to replay after a reconnect, so a
 * message is never sent twice by two queues, and no publish callback fires twice (MQTT.js's
 * store replay swaps callbacks and can drop queued publishes: mqttjs/MQTT.js#360, #2015).
 */

export type QoS = 0 | 1 | 2;

export interface PublishOptions {
  qos: QoS;
  retain: boolean;
  /** MQTT 5 only (ignored on 3.1.1 connections): echoes a request's correlation data. */
  correlationData?: Buffer;
}

/** Why a publish failed: a reason code means the broker answered and refused it (MQTT 5). */
export type PublishError = Error & { code?: number };

export interface BrokerClient {
  /** `done` is called once: on PUBACK/PUBCOMP (QoS ≥ 1), once written (QoS 0), or with an error. */
  publish(topic: string, payload: string | Buffer, options: PublishOptions, done: (error?: PublishError) => void): void;
  subscribe(topicFilter: string, qos: QoS, done: (error?: Error) => void): void;
  /** `force` drops the socket without DISCONNECT (the broker then publishes the Last Will). */
  end(force: boolean): Promise<void>;
}

export interface IncomingMessage {
  topic: string;
  payload: Buffer;
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface BrokerClientEvents {
  /** CONNACK accepted; `receiveMaximum` is the broker's in-flight limit (MQTT 5). */
  onConnect(info: { receiveMaximum?: number }): void;
  /** The connection is gone (after a failed connect too). Called once per client. */
  onClose(): void;
  /** `code` is the CONNACK/DISCONNECT reason code when the broker gave one. */
  onError(error: Error & { code?: number | string }): void;
  onMessage(message: IncomingMessage): void;
}

export interface BrokerConnectOptions {
  url: string;
  clientId: string;
  protocolVersion: 4 | 5;
  username?: string;
  password?: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  will: { topic: string; payload: string; qos: QoS; retain: boolean };
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean };
}

export type BrokerConnector = (options: BrokerConnectOptions, events: BrokerClientEvents) => BrokerClient;

/** Opens one MQTT.js connection (mqtt, mqtts, ws or wss url). */
export const connectMqttJs: BrokerConnector = (options, events) => {
  const clientOptions: IClientOptions = {
    clientId: options.clientId,
    protocolVersion: options.protocolVersion,
    username: options.username,
    password: options.password,
    keepalive: options.keepaliveS,
    connectTimeout: options.connectTimeoutMs,
    clean: true,
    reconnectPeriod: 0,
    queueQoSZero: false,
    resubscribe: false,
    will: { ...options.will, payload: Buffer.from(options.will.payload) },
    ...(options.tls && {
      ca: options.tls.ca,
      cert: options.tls.cert,
      key: options.tls.key,
      rejectUnauthorized: options.tls.rejectUnauthorized,
    }),
  };
  const client = connect(options.url, clientOptions);
  let closed = false;
  client.on('connect', (connack) => events.onConnect({ receiveMaximum: connack.properties?.receiveMaximum }));
  client.on('close', () => {
    if (closed) return;
    closed = true;
    events.onClose();
  });
  client.on('error', (error) => events.onError(error));
  client.on('message', (topic, payload, packet) =>
    events.onMessage({
      topic,
      payload,
      responseTopic: packet.properties?.responseTopic,
      correlationData: packet.properties?.correlationData,
    }),
  );
  return {
    publish(topic, payload, publishOptions, done) {
      const properties = publishOptions.correlationData && { correlationData: publishOptions.correlationData };
      client.publish(topic, payload, { qos: publishOptions.qos, retain: publishOptions.retain, properties }, (error) =>
        // MQTT.js passes null on success.
        done(error ?? undefined),
      );
    },
    subscribe(topicFilter, qos, done) {
      client.subscribe(topicFilter, { qos }, (error) => done(error ?? undefined));
    },
    end: (force) => client.endAsync(force),
  };
};
