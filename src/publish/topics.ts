/** The topic tree under `<base_topic>/<node_id>` (docs/mqtt.md). */
export interface Topics {
  available: string;
  sightings: string;
  matches: string;
  /** Merges of identities found to be one. */
  identitiesMerged: string;
  /** On-site adaptation outcomes and rollbacks. */
  adapter: string;
  stats: string;
  cameraStatus(cameraId: string): string;
  /** Binary JPEG of the camera's latest ended track (retained). */
  cameraSnapshot(cameraId: string): string;
  /** Subscription filter for all commands: `<base>/request/+`. */
  requests: string;
  /** The command named by a request topic, or null when the topic is not a request. */
  commandOf(topic: string): string | null;
  /** Plain-JSON fallback response topic. */
  response(command: string): string;
}

export function topicsFor(baseTopic: string, nodeId: string): Topics {
  const root = `${baseTopic}/${nodeId}`;
  const requestPrefix = `${root}/request/`;
  return {
    available: `${root}/available`,
    sightings: `${root}/sightings`,
    matches: `${root}/matches`,
    identitiesMerged: `${root}/identities/merged`,
    adapter: `${root}/adapter`,
    stats: `${root}/stats`,
    cameraStatus: (cameraId) => `${root}/cameras/${cameraId}/status`,
    cameraSnapshot: (cameraId) => `${root}/cameras/${cameraId}/snapshot`,
    requests: `${requestPrefix}+`,
    commandOf: (topic) => {
      if (!topic.startsWith(requestPrefix)) return null;
      const command = topic.slice(requestPrefix.length);
      // An empty name is a request too (answered unknown_command): every request gets an answer.
      return command.includes('/') ? null : command;
    },
    response: (command) => `${root}/response/${command}`,
  };
}
