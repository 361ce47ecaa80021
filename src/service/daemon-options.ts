/** Config sections → options of the daemon's camera sources and MQTT publisher (vision stages: pipeline/setup.ts; identity stage: identity.ts). */
import type { CameraConfig, CrosscamConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { CameraSourceOptions } from '../ingest/camera-source.js';
import type { Outbox } from '../publish/outbox.js';
import type { MqttPublisherOptions } from '../publish/mqtt-publisher.js';
import { requestLimitsOf, type CommandRegistry } from '../publish/requests.js';

export function cameraSourceOptions(config: CrosscamConfig, camera: CameraConfig, logger: Logger): CameraSourceOptions {
  const { detect, ffmpeg } = camera;
  return {
    cameraId: camera.id,
    source: {
      url: camera.url,
      fps: detect.fps,
      ...(detect.width !== undefined && detect.height !== undefined ? { width: detect.width, height: detect.height } : { maxSide: detect.max_side }),
      ...(ffmpeg.filter !== undefined ? { filter: ffmpeg.filter } : {}),
      extraInputArgs: [...(ffmpeg.hwaccel !== undefined ? ['-hwaccel', ffmpeg.hwaccel] : []), ...ffmpeg.input_args],
      realtime: camera.file.realtime,
      loop: camera.file.loop,
      rtspTimeoutS: config.ffmpeg.rtsp_timeout_s,
      decodeThreads: config.ffmpeg.threads,
    },
    ...(config.ffmpeg.path !== undefined ? { ffmpegPath: config.ffmpeg.path } : {}),
    stallTimeoutS: config.ffmpeg.stall_timeout_s,
    restartDelayS: config.ffmpeg.restart_delay_s,
    restartDelayMaxS: config.ffmpeg.restart_delay_max_s,
    ffmpegLogLevel: config.ffmpeg.loglevel,
    logger,
  };
}

export function publisherOptions(
  config: CrosscamConfig,
  deps: { outbox: Outbox; commands: CommandRegistry; logger: Logger; brokerUrl?: string },
): MqttPublisherOptions {
  const { mqtt } = config;
  const tls = mqtt.tls;
  return {
    url: deps.brokerUrl ?? mqtt.url,
    baseTopic: mqtt.base_topic,
    nodeId: config.node_id,
    ...(mqtt.client_id !== undefined ? { clientId: mqtt.client_id } : {}),
    ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
    ...(mqtt.password !== undefined ? { password: mqtt.password } : {}),
    protocolVersion: mqtt.protocol_version,
    keepaliveS: mqtt.keepalive_s,
    ...(tls
      ? {
          tls: {
            ...(tls.ca !== undefined ? { caFile: tls.ca } : {}),
            ...(tls.cert !== undefined ? { certFile: tls.cert } : {}),
            ...(tls.key !== undefined ? { keyFile: tls.key } : {}),
            rejectUnauthorized: tls.reject_unauthorized,
          },
        }
      : {}),
    eventQos: mqtt.qos,
    outbox: deps.outbox,
    commands: deps.commands,
    requestLimits: requestLimitsOf(config.requests),
    logger: deps.logger,
  };
}
