import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes.js';
import { environmentIssues } from '../config/environment.js';
import { ConfigError, formatConfigIssues } from '../config/issues.js';
import type { CrosscamConfig } from '../config/schema.js';
import { redactCredentials } from '../core/redaction.js';
import { loadConfigWithCatalog } from '../pipeline/setup.js';

function describeConfig(config: CrosscamConfig): string {
  const enabled = config.cameras.filter((camera) => camera.enabled).length;
  const cameras = `${config.cameras.length} camera${config.cameras.length === 1 ? '' : 's'} (${enabled} enabled)`;
  const reid = [`person ${config.models.reid.person}`];
  // Without a vehicle model, vehicles are tracked and reported but not matched across cameras.
  reid.push(config.models.reid.vehicle !== undefined ? `vehicle ${config.models.reid.vehicle}` : 'vehicles tracked only (no models.reid.vehicle)');
  const broker = config.mqtt.embedded_broker.enabled
    ? ` (embedded broker on ${config.mqtt.embedded_broker.host}:${config.mqtt.embedded_broker.port})`
    : '';
  return (
    `config OK: node ${config.node_id}, ${cameras}, detector ${config.models.detector}, ` +
    `reid ${reid.join(', ')}, mqtt ${redactCredentials(config.mqtt.url)}${broker}`
  );
}

export function registerCheckConfigCommand(program: Command): void {
  program
    .command('check-config')
    .description(
      'validate a config file and what `run` needs of this machine (TLS files, file cameras, writable state directories, room for the gallery): ' +
        'prints every problem as "<key.path>: <problem>" (exit 78) or a summary',
    )
    .argument('<file>', 'config file (YAML)')
    .option('--schema-only', 'check the file alone, not this machine (for a config meant for another device)')
    .action(async (file: string, options: { schemaOnly?: boolean }) => {
      try {
        const { config } = await loadConfigWithCatalog(file);
        const environment = options.schemaOnly === true ? [] : environmentIssues(config);
        if (environment.length > 0) throw new ConfigError(environment, file);
        process.stdout.write(`${describeConfig(config)}\n`);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        process.stderr.write(`${formatConfigIssues(error.issues)}\n`);
        process.exitCode = ExitCode.CONFIG;
      }
    });
}
