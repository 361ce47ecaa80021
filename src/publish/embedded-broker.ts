import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../core/logger.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  logger: Logger;
}

export interface EmbeddedBroker {
  host: string;
  /** The port actually listened on. */
  port: number;
  /** mqtt://host:port */
  url: string;
  stop(): Promise<void>;
}

/**
 * An in-process MQTT broker (aedes, in-memory) for the demo, so `npm start` works without
 * installing one. aedes 1.x speaks MQTT 3.1.1 only: a client asking for MQTT 5 is refused
 * with "unacceptable protocol version", and the publisher falls back to 3.1.1 by itself.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  broker.on('clientError', (client, error) => options.logger.debug({ err: error, clientId: client.id }, 'embedded broker: client error'));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await new Promise<void>((resolve) => broker.close(resolve));
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `mqtt://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  options.logger.info({ url }, 'embedded MQTT broker listening (MQTT 3.1.1)');
  return {
    host: options.host,
    port,
    url,
    async stop() {
      // Closing the broker ends its clients' sockets, which lets the server close.
      await new Promise<void>((resolve) => broker.close(resolve));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
