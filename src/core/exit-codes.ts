/** Process exit codes, sysexits(3) where one fits; systemd's RestartPreventExitStatus relies on CONFIG. */
export const ExitCode = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  DATA: 65,
  NO_INPUT: 66,
  SOFTWARE: 70,
  CONFIG: 78,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
