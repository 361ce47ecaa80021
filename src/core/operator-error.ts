import { ExitCode } from './exit-codes.js';

/** An error reported to the operator as one message and an exit code, without a stack trace. */
export class OperatorError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.FAILURE,
  ) {
    super(message);
    this.name = 'OperatorError';
  }
}
