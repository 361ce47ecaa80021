import { z } from 'zod';
import { filePath, text, urlWithScheme } from './fields.js';

/**
 * The config file's `http` section: the daemon's HTTP server (control-room page, snapshots,
 * Prometheus metrics, health). Bound to loopback by default: put a reverse proxy in front of
 * it, or set a token, before opening it to the network.
 */
export const httpSchema = z.strictObject({
  enabled: z.boolean().default(true),
  host: text.default('127.0.0.1'),
  // 0: any free port (the one chosen is logged); tests use it.
  port: z.int().min(0).max(65535).default(8080),
  // How clients reach the server, for the snapshot URLs in MQTT messages (default http://host:port).
  public_url: urlWithScheme(['http', 'https'], false).optional(),
  // When set, every request except /healthz and /readyz needs `Authorization: Bearer <token>`
  // (or `?token=` for the page's images and event stream). Use ${CREDENTIAL:http_token}.
  token: text.optional(),
});

/** The config file's `snapshots` section: JPEGs of what the daemon saw, served over HTTP. */
export const snapshotsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  path: filePath.default('/var/lib/crosscam/snapshots'),
  quality: z.int().min(1).max(100).default(80),
  // Full frames are scaled down to at most this width (crops are kept at full resolution).
  frame_width: z.int().min(64).max(7680).default(960),
  // Also publish each ended track's frame snapshot as binary JPEG on <base>/<node>/cameras/<camera>/snapshot (retained).
  mqtt: z.boolean().default(false),
});
