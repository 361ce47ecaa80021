/**
 * The daemon's HTTP server (fastify): the control-room page and its JSON API, snapshots,
 * Prometheus `/metrics`, `/healthz` and `/readyz`. It shares the event loop with the cameras
 * but never holds it: handlers read in-memory state or LMDB, JPEGs are encoded in libvips'
 * threads, and a live client that stops reading is dropped instead of buffered without end.
 */
import { timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { StorageState } from '../storage/storage-guard.js';
import type { Gallery } from '../gallery/gallery.js';
import { identityJson, sightingJson } from '../gallery/json-views.js';
import { buildCameraStatusMessage, type SnapshotLinker } from '../publish/builders.js';
import { runCommand, type CommandRegistry, type RequestLimits } from '../publish/requests.js';
import type { CameraCounters } from '../service/camera-worker.js';
import type { SnapshotKind, SnapshotStore } from '../snapshots/snapshot-store.js';
import type { LiveFeed } from './live-feed.js';
import type { DaemonMetrics } from './metrics.js';

/** The page's files: web/ at the package root (dist/src/http → ../../../web). */
export const WEB_DIR = path.resolve(import.meta.dirname, '../../../web');

export interface Readiness {
  modelsLoaded: boolean;
  mqttConnected: boolean;
  /** Events can still be stored for later delivery. */
  outboxAccepting: boolean;
  camerasOnline: number;
  /** Not ready while the gallery cannot store decisions (full, nothing left to prune). */
  storage: StorageState;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  /** When set, every request but /healthz and /readyz needs it (Bearer header or ?token=). */
  token?: string;
  logger: Logger;
  metrics: DaemonMetrics;
  feed: LiveFeed;
  cameras: () => readonly (CameraCounters & { name: string | undefined })[];
  gallery: Pick<Gallery, 'identity' | 'sightingsOf' | 'refresh' | 'stats'>;
  commands: CommandRegistry;
  snapshots: Pick<SnapshotStore, 'read' | 'cameraFrame'> | undefined;
  snapshotLinks: SnapshotLinker;
  readiness: () => Readiness;
  /** Request body size (HTTP's body limit too), response size, error message length. */
  requestLimits: RequestLimits;
}

/** Bytes a live client may have unread before it is dropped. */
const MAX_UNREAD_BYTES = 1 << 20;
const PUBLIC_PATHS = new Set(['/healthz', '/readyz']);

function tokenMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function requestToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7);
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

const limitQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });
const flowQuery = z.object({ minutes: z.coerce.number().int().min(1).max(60).default(60) });

export async function startHttpServer(options: HttpServerOptions): Promise<{ url: string; server: FastifyInstance }> {
  // forceCloseConnections: live event streams must not hold a shutdown open.
  const server = Fastify({ logger: false, bodyLimit: options.requestLimits.maxRequestBytes, forceCloseConnections: true });
  const { token } = options;

  if (token !== undefined) {
    server.addHook('onRequest', async (request, reply) => {
      if (PUBLIC_PATHS.has(request.url.split('?')[0]!)) return;
      if (!tokenMatches(requestToken(request), token)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized', message: 'a token is required (Authorization: Bearer <token> or ?token=)' });
      }
    });
  }
  server.setErrorHandler(async (error: { statusCode?: number; message: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) options.logger.error({ err: error, url: request.url }, 'HTTP request failed');
    await reply.code(status).send({ error: status >= 500 ? 'internal_error' : 'bad_request', message: error.message });
  });

  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/readyz', async (_request, reply) => {
    const state = options.readiness();
    const checks = {
      models: state.modelsLoaded,
      mqtt: state.mqttConnected || state.outboxAccepting,
      cameras: state.camerasOnline > 0,
      storage: state.storage === 'ok',
    };
    const ready = Object.values(checks).every(Boolean);
    await reply.code(ready ? 200 : 503).send({ ready, checks, mqtt_connected: state.mqttConnected, cameras_online: state.camerasOnline, storage: state.storage });
  });
  server.get('/metrics', async (_request, reply) => {
    const body = await options.metrics.registry.metrics();
    await reply.header('content-type', options.metrics.registry.contentType).send(body);
  });

  server.get('/api/cameras', async () => ({
    cameras: options.cameras().map((camera) => ({
      ...buildCameraStatusMessage(camera.status),
      name: camera.name ?? null,
      processed_frames: camera.processedFrames,
      tracks: camera.liveTracks,
      snapshot_url: `/api/cameras/${encodeURIComponent(camera.cameraId)}/snapshot.jpg`,
    })),
  }));
  server.get<{ Params: { camera: string } }>('/api/cameras/:camera/snapshot.jpg', async (request, reply) => {
    const jpeg = await options.snapshots?.cameraFrame(request.params.camera);
    if (!jpeg) return reply.code(404).send({ error: 'not_found', message: `no frame from camera "${request.params.camera}" yet` });
    return reply.header('content-type', 'image/jpeg').header('cache-control', 'no-store').send(jpeg);
  });
  server.get('/api/matches', async (request) => {
    const { limit } = limitQuery.parse(request.query);
    return { matches: options.feed.recentMatches(limit) };
  });
  server.get('/api/flow', async (request) => {
    const { minutes } = flowQuery.parse(request.query);
    return { minutes, pairs: options.feed.flowCounts(minutes * 60_000) };
  });
  server.get('/api/stats', async () => ({ gallery: options.gallery.stats(), readiness: options.readiness() }));
  server.get<{ Params: { identity: string } }>('/api/identities/:identity', async (request, reply) => {
    options.gallery.refresh();
    const identity = options.gallery.identity(request.params.identity);
    if (!identity) return reply.code(404).send({ error: 'not_found', message: `no identity "${request.params.identity}" in the gallery` });
    const timeline = options.gallery
      .sightingsOf(identity.id)
      .sort((a, b) => a.firstSeenAt - b.firstSeenAt)
      .map((sighting) => ({ ...sightingJson(sighting), snapshot: options.snapshotLinks(sighting) }));
    return { ...identityJson(identity), timeline };
  });
  // The same commands as MQTT request/<command> (lookup, identities, forget, enrol, search).
  server.post<{ Params: { command: string } }>('/api/request/:command', async (request, reply) => {
    const { response } = await runCommand(request.params.command, request.body ?? {}, { commands: options.commands, logger: options.logger, limits: options.requestLimits });
    const status = response.ok ? 200 : response.error.code === 'not_found' ? 404 : response.error.code === 'internal_error' ? 500 : 400;
    return reply.code(status).send(response);
  });
  server.get<{ Params: { id: string; kind: string } }>('/snapshots/:id/:kind', async (request, reply) => {
    const kind = request.params.kind.replace(/\.jpg$/, '') as SnapshotKind;
    const jpeg = kind === 'crop' || kind === 'frame' ? await options.snapshots?.read(request.params.id, kind) : undefined;
    if (!jpeg) return reply.code(404).send({ error: 'not_found', message: `no snapshot ${request.params.id}/${request.params.kind}` });
    return reply.header('content-type', 'image/jpeg').header('cache-control', 'max-age=60').send(jpeg);
  });
  server.get('/api/events', (request, reply) => streamEvents(request, reply, options.feed));

  await server.register(fastifyStatic, { root: WEB_DIR, prefix: '/', index: 'index.html' });
  const address = await server.listen({ host: options.host, port: options.port });
  return { url: address, server };
}

/** Server-sent events: `match` and `camera`, one JSON object each. */
function streamEvents(request: FastifyRequest, reply: FastifyReply, feed: LiveFeed): void {
  reply.hijack();
  const socket = reply.raw;
  socket.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  socket.write(': crosscam live events\n\n');
  const keepAlive = setInterval(() => socket.write(': keep-alive\n\n'), 15_000);
  const unsubscribe = feed.subscribe((event) => {
    if (socket.writableLength > MAX_UNREAD_BYTES) {
      close();
      return;
    }
    socket.write(`event: ${event.type}\ndata: ${JSON.stringify(event.type === 'match' ? event.match : event.status)}\n\n`);
  });
  const close = () => {
    clearInterval(keepAlive);
    unsubscribe();
    socket.end();
  };
  request.raw.on('close', close);
}
