import cliProgress from 'cli-progress';

/** Where commands print; tests pass their own streams. */
export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const PROCESS_IO: CommandIo = { stdout: process.stdout, stderr: process.stderr };

export interface Progress {
  /** `total` may grow or be learnt late (e.g. from the video's duration). */
  update(value: number, total: number): void;
  stop(): void;
}

/** A progress bar on stderr when it is a terminal; silent otherwise (logs, CI, pipes). */
export function createProgress(io: CommandIo, label: string, unit = 'frame'): Progress {
  if (io.stderr.isTTY !== true) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { stream: io.stderr, format: `${label} [{bar}] {percentage}% | ${unit} {value}/{total} | ETA {eta}s`, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total) {
      if (!started) {
        bar.start(total, value);
        started = true;
        return;
      }
      if (total !== bar.getTotal()) bar.setTotal(total);
      bar.update(value);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
