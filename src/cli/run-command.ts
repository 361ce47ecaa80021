import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes.js';
import { createLogger } from '../core/logger.js';
import { SecretRedactor } from '../core/redaction.js';
import { Daemon } from '../service/daemon.js';

interface RunOptions {
  config: string;
  modelsDir?: string;
}

async function run(options: RunOptions): Promise<void> {
  const redactor = new SecretRedactor();
  const logger = createLogger({ redactor });
  const daemon = await Daemon.start({ configFile: options.config, logger, redactor, ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}) });

  // A stray rejection is a bug to log, not a reason to drop every camera.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  process.on('SIGHUP', () => void daemon.reload());
  let signalled = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'stopping: draining in-flight work and the outbox');
    const timeoutMs = daemon.shutdownTimeoutS * 1000;
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took too long; exiting without a clean stop');
      process.exit(ExitCode.FAILURE);
    }, timeoutMs);
    deadline.unref();
    daemon.stop().then(
      () => process.exit(ExitCode.OK),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(ExitCode.FAILURE);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

/** `crosscam run`: the daemon. */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run the daemon: cameras → detection, tracking, re-ID → gallery and cross-camera matches over MQTT')
    .requiredOption('--config <file>', 'crosscam config (YAML); SIGHUP reloads it, SIGTERM drains and stops')
    .option('--models-dir <dir>', 'models directory (default: config models.dir, $CROSSCAM_MODELS_DIR or /var/lib/crosscam/models)')
    .action((options: RunOptions) => run(options));
}
