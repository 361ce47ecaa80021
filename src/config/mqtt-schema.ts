import { z } from 'zod';
import { filePath, mqttTopic, port, seconds, text, urlWithScheme } from './fields.js';

const MQTT_URL_SCHEMES = ['mqtt', 'mqtts', 'ws', 'wss'];

/** The config file's `mqtt` section: the broker connection and how events are published. */
export const mqttSchema = z
  .strictObject({
    url: urlWithScheme(MQTT_URL_SCHEMES, false).default('mqtt://127.0.0.1:1883'),
    username: text.optional(),
    password: z.string().optional(),
    client_id: text.optional(),
    base_topic: mqttTopic.default('crosscam'),
    qos: z.literal([0, 1, 2]).default(1),
    protocol_version: z.literal([4, 5]).default(5),
    keepalive_s: z.int().min(0).max(65535).default(30),
    stats_interval_s: seconds.default(60),
    tls: z
      .strictObject({
        ca: filePath.optional(),
        cert: filePath.optional(),
        key: filePath.optional(),
        reject_unauthorized: z.boolean().default(true),
      })
      .superRefine((tls, ctx) => {
        if ((tls.cert === undefined) !== (tls.key === undefined)) {
          const missing = tls.cert === undefined ? 'cert' : 'key';
          ctx.addIssue({ code: 'custom', path: [missing], message: 'a client certificate needs both cert and key' });
        }
      })
      .optional(),
    outbox: z.strictObject({ max_messages: z.int().min(1).default(100_000) }).prefault({}),
    embedded_broker: z
      .strictObject({
        enabled: z.boolean().default(false),
        host: text.default('127.0.0.1'),
        port: port.default(1883),
      })
      .prefault({}),
    // Home Assistant MQTT discovery (opt-in): a device per camera and one for the node.
    home_assistant: z
      .strictObject({
        enabled: z.boolean().default(false),
        discovery_prefix: mqttTopic.default('homeassistant'),
      })
      .prefault({}),
  })
  .superRefine((mqtt, ctx) => {
    if (mqtt.tls !== undefined && !/^(mqtts|wss):/i.test(mqtt.url)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'TLS settings need an mqtts:// or wss:// url' });
    }
  });
