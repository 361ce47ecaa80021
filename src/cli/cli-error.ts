import { ExitCode } from '../core/exit-codes.js';

/** An error a command reports to the operator as one message and an exit code, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
