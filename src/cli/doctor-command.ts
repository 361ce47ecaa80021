import type { Command } from 'commander';
import { runDoctor } from '../doctor/checks.js';
import { createLogger } from '../core/logger.js';
import { resolveModelsDir } from '../models/catalog.js';
import { readConfigFile } from '../pipeline/setup.js';

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check this machine for a config: ffmpeg, execution providers, models, broker, cameras, state directories; exit 1 if any fails')
    .requiredOption('--config <file>', 'crosscam config (YAML)')
    .option('--json', 'print one JSON object { ok, checks: [{ name, ok, detail, fix? }] }')
    .action(async (options: { config: string; json?: boolean }) => {
      const { config, catalog } = await readConfigFile(options.config);
      const logger = createLogger({ level: 'silent' });
      const checks = await runDoctor({ config, catalog, modelsDir: resolveModelsDir(config.models.dir), logger });
      const ok = checks.every((check) => check.ok);
      if (options.json) process.stdout.write(`${JSON.stringify({ ok, checks })}\n`);
      else {
        for (const check of checks) {
          process.stdout.write(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n${check.fix ? `     → ${check.fix}\n` : ''}`);
        }
        process.stdout.write(ok ? 'all checks passed\n' : `${checks.filter((check) => !check.ok).length} of ${checks.length} checks failed\n`);
      }
      process.exitCode = ok ? 0 : 1;
    });
}
