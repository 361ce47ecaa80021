#!/usr/bin/env node
import { setFlagsFromString } from 'node:v8';
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

// V8 grows a heap by a factor it derives from how cheap its last collections were; on this
// workload it settled near 1.2, and every isolate (the main one and each inference worker) ran
// 2–3 full collections a second. A fixed factor of 2 brought the daemon's with 8 cameras from
// 2.8 to 0.12 a second and its CPU per frame to 0.77×, with the same RSS (docs/performance.md,
// "Full collections"). Process-wide, so the workers started later share it; a flag given on
// the command line wins.
if (!process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) setFlagsFromString('--heap-growing-percent=100');

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
