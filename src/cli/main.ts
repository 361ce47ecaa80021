#!/usr/bin/env node
import { Command } from 'commander';
import { ExitCode } from '../core/exit-codes.js';
import { OperatorError } from '../core/operator-error.js';
import { registerModelsCommand } from './models-command.js';
import { registerCheckConfigCommand } from './check-config-command.js';
import { registerEvalCommand } from './eval-command.js';
import { registerProcessCommand } from './process-command.js';
import { registerRunCommand } from './run-command.js';
import { registerDoctorCommand } from './doctor-command.js';
import { registerGalleryCommand } from './gallery-command.js';
import { registerAdaptCommand } from './adapt-command.js';

const program = new Command('crosscam')
  .description('Edge video analytics: cross-camera re-identification of people and vehicles over MQTT')
  .version(process.env.npm_package_version ?? '0.1.0')
  .showHelpAfterError();

// Each command group registers itself; keep this list in data-flow order.
registerCheckConfigCommand(program);
registerModelsCommand(program);
registerRunCommand(program);
registerProcessCommand(program);
registerEvalCommand(program);
registerGalleryCommand(program);
registerAdaptCommand(program);
registerDoctorCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof OperatorError) {
    process.stderr.write(`crosscam: ${error.message}\n`);
    process.exitCode = error.exitCode;
  } else {
    process.stderr.write(`crosscam: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = ExitCode.SOFTWARE;
  }
}
