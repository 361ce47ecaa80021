import assert from 'node:assert/strict';
import { test } from 'node:test';
import { homeAssistantDiscovery } from '../src/publish/home-assistant.js';
import { topicsFor } from '../src/publish/topics.js';

test('Home Assistant discovery: per camera online/fps/people entities, a node matches-per-hour sensor, removal by empty retained configs', () => {
  const topics = topicsFor('crosscam', 'edge-1');
  const options = { prefix: 'homeassistant', nodeId: 'edge-1', topics };
  const messages = homeAssistantDiscovery(options, [{ id: 'gate', name: 'Front gate' }]);
  assert.deepEqual(messages.map((m) => m.topic), [
    'homeassistant/sensor/crosscam_edge-1/matches_per_hour/config',
    'homeassistant/binary_sensor/crosscam_edge-1_gate/online/config',
    'homeassistant/sensor/crosscam_edge-1_gate/fps/config',
    'homeassistant/sensor/crosscam_edge-1_gate/people/config',
  ]);
  const [node, online, fps, people] = messages.map((m) => JSON.parse(m.payload) as Record<string, unknown>);
  assert.equal(node!.state_topic, 'crosscam/edge-1/stats');
  assert.equal(node!.value_template, '{{ value_json.matches_last_hour }}');
  assert.equal(online!.state_topic, 'crosscam/edge-1/cameras/gate/status');
  assert.equal(online!.device_class, 'connectivity');
  assert.equal(online!.availability_topic, 'crosscam/edge-1/available');
  assert.deepEqual(online!.device, { identifiers: ['crosscam_edge-1_gate'], name: 'crosscam Front gate', manufacturer: 'crosscam', model: 'camera', via_device: 'crosscam_edge-1' });
  assert.match(String(fps!.value_template), /c\.camera == 'gate'.*c\.fps/);
  assert.match(String(people!.value_template), /c\.camera == 'gate'.*c\.people/);
  assert.equal(new Set(messages.map((m) => (JSON.parse(m.payload) as { unique_id: string }).unique_id)).size, 4, 'unique ids');

  const removal = homeAssistantDiscovery(options, [], ['gate']);
  assert.deepEqual(removal.slice(1), messages.slice(1).map((m) => ({ topic: m.topic, payload: '' })), "a removed camera's entities get empty retained configs");
});
