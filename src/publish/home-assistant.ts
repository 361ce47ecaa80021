/**
 * Home Assistant MQTT discovery (opt-in, `mqtt.home_assistant`): one device per camera with an
 * `online` binary sensor (from its retained status) and `fps` / `people now` sensors (from
 * `stats`), and a node device with a `matches per hour` sensor. Configs are retained under
 * `<discovery_prefix>/<component>/<object_id>/config`; a camera that leaves the config gets
 * empty retained payloads, which makes Home Assistant remove its entities.
 */
import type { Topics } from './topics.js';

export interface DiscoveryMessage {
  topic: string;
  /** JSON config, or '' to remove the entity. */
  payload: string;
}

export interface DiscoveryOptions {
  prefix: string;
  nodeId: string;
  topics: Pick<Topics, 'available' | 'stats' | 'cameraStatus'>;
}

const slug = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '_');

function cameraEntities(options: DiscoveryOptions, camera: { id: string; name?: string | undefined }) {
  const objectBase = `crosscam_${slug(options.nodeId)}_${slug(camera.id)}`;
  const device = {
    identifiers: [objectBase],
    name: `crosscam ${camera.name ?? camera.id}`,
    manufacturer: 'crosscam',
    model: 'camera',
    via_device: `crosscam_${slug(options.nodeId)}`,
  };
  const availability = { availability_topic: options.topics.available, payload_available: 'online', payload_not_available: 'offline' };
  // The camera's entry of the stats message.
  const fromStats = (field: string) => `{% for c in value_json.cameras %}{% if c.camera == '${camera.id}' %}{{ c.${field} }}{% endif %}{% endfor %}`;
  return [
    {
      topic: `${options.prefix}/binary_sensor/${objectBase}/online/config`,
      config: {
        name: 'online', unique_id: `${objectBase}_online`, device_class: 'connectivity', device, ...availability,
        state_topic: options.topics.cameraStatus(camera.id),
        value_template: "{{ 'ON' if value_json.state == 'online' else 'OFF' }}",
      },
    },
    {
      topic: `${options.prefix}/sensor/${objectBase}/fps/config`,
      config: { name: 'fps', unique_id: `${objectBase}_fps`, unit_of_measurement: 'fps', state_class: 'measurement', device, ...availability, state_topic: options.topics.stats, value_template: fromStats('fps') },
    },
    {
      topic: `${options.prefix}/sensor/${objectBase}/people/config`,
      config: { name: 'people now', unique_id: `${objectBase}_people`, state_class: 'measurement', icon: 'mdi:account-group', device, ...availability, state_topic: options.topics.stats, value_template: fromStats('people') },
    },
  ];
}

/** Discovery configs for these cameras and the node, plus removals for cameras no longer configured. */
export function homeAssistantDiscovery(options: DiscoveryOptions, cameras: readonly { id: string; name?: string | undefined }[], removed: readonly string[] = []): DiscoveryMessage[] {
  const node = `crosscam_${slug(options.nodeId)}`;
  const messages: DiscoveryMessage[] = [
    {
      topic: `${options.prefix}/sensor/${node}/matches_per_hour/config`,
      payload: JSON.stringify({
        name: 'matches per hour', unique_id: `${node}_matches_per_hour`, state_class: 'measurement', icon: 'mdi:account-switch',
        device: { identifiers: [node], name: `crosscam ${options.nodeId}`, manufacturer: 'crosscam', model: 'node' },
        availability_topic: options.topics.available, payload_available: 'online', payload_not_available: 'offline',
        state_topic: options.topics.stats, value_template: '{{ value_json.matches_last_hour }}',
      }),
    },
  ];
  for (const camera of cameras) messages.push(...cameraEntities(options, camera).map((entity) => ({ topic: entity.topic, payload: JSON.stringify(entity.config) })));
  for (const id of removed) messages.push(...cameraEntities(options, { id }).map((entity) => ({ topic: entity.topic, payload: '' })));
  return messages;
}
