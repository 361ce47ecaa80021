/**
 * What the daemon shows an operator, assembled from the config's `http` and `snapshots`
 * sections: Prometheus metrics, the live feed of matches, snapshot links in MQTT messages and
 * the HTTP server. A server that cannot bind (port taken) is logged and left out: the cameras
 * and MQTT keep working without it.
 */
import type { CrosscamConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { SnapshotLinker } from '../publish/builders.js';
import type { DaemonEvents } from '../service/daemon-events.js';
import type { EventBus } from '../service/event-bus.js';
import { snapshotId, SnapshotStore } from '../snapshots/snapshot-store.js';
import { LiveFeed } from './live-feed.js';
import { createDaemonMetrics, type DaemonMetrics, type MetricsSources } from './metrics.js';
import { requestLimitsOf } from '../publish/requests.js';
import { startHttpServer, type HttpServerOptions } from './server.js';

export interface OperatorSurface {
  metrics: DaemonMetrics;
  feed: LiveFeed;
  snapshots: SnapshotStore | undefined;
  /** Snapshot URLs for messages; null until the server listens, and when it is off. */
  links: SnapshotLinker;
  /** Starts the feed and the HTTP server; resolves with the server's URL (undefined when off or not bound). */
  start(server: Omit<HttpServerOptions, 'host' | 'port' | 'token' | 'logger' | 'metrics' | 'feed' | 'snapshots' | 'snapshotLinks' | 'requestLimits'>): Promise<string | undefined>;
  stop(): Promise<void>;
}

export function createOperatorSurface(
  config: Pick<CrosscamConfig, 'http' | 'snapshots' | 'requests'>,
  deps: {
    bus: EventBus<DaemonEvents>;
    logger: Logger;
    sources: MetricsSources;
    /** With snapshots.mqtt: each ended track's frame JPEG goes to <base>/<node>/cameras/<camera>/snapshot. */
    publishCameraSnapshot: (cameraId: string, jpeg: Buffer) => void;
  },
): OperatorSurface {
  const { http } = config;
  const metrics = createDaemonMetrics(deps.sources);
  const snapshots = config.snapshots.enabled
    ? new SnapshotStore({ dir: config.snapshots.path, quality: config.snapshots.quality, frameWidth: config.snapshots.frame_width, logger: deps.logger })
    : undefined;
  let baseUrl: string | undefined;
  const links: SnapshotLinker = (track) => {
    if (baseUrl === undefined || snapshots === undefined) return null;
    const id = snapshotId(track);
    return { id, crop_url: `${baseUrl}/snapshots/${id}/crop.jpg`, frame_url: `${baseUrl}/snapshots/${id}/frame.jpg` };
  };
  const feed = new LiveFeed({ bus: deps.bus, snapshots: links });
  const unsubscribe = [
    deps.bus.on('decision', 'metrics', (decision) => metrics.countDecision(decision)),
    deps.bus.on('track', 'snapshots', (event) => {
      if (event.type !== 'end' || snapshots === undefined) return;
      const track = event.sighting;
      void snapshots.end(track).then(async () => {
        if (!config.snapshots.mqtt) return;
        const jpeg = await snapshots.read(snapshotId(track), 'frame');
        if (jpeg) deps.publishCameraSnapshot(track.cameraId, jpeg);
      });
    }),
  ];
  let close: (() => Promise<void>) | undefined;

  return {
    metrics,
    feed,
    snapshots,
    links,
    async start(server) {
      feed.start();
      if (!http.enabled) return undefined;
      try {
        const started = await startHttpServer({
          ...server,
          host: http.host,
          port: http.port,
          ...(http.token !== undefined ? { token: http.token } : {}),
          logger: deps.logger,
          metrics,
          feed,
          snapshots,
          snapshotLinks: links,
          requestLimits: requestLimitsOf(config.requests),
        });
        close = () => started.server.close();
        baseUrl = (http.public_url ?? started.url).replace(/\/+$/, '');
        deps.logger.info({ url: started.url }, `HTTP server on ${started.url} (control room, /metrics, /healthz, /readyz)`);
        return started.url;
      } catch (error) {
        deps.logger.error({ err: error }, `HTTP server not started on ${http.host}:${http.port}: ${error instanceof Error ? error.message : String(error)} (set http.port, or http.enabled: false)`);
        return undefined;
      }
    },
    async stop() {
      unsubscribe.forEach((off) => off());
      feed.stop();
      await close?.();
    },
  };
}
