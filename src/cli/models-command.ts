import { existsSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes.js';
import { loadModelCatalog, resolveModelsDir, selectCatalogEntries, type ModelEntry } from '../models/catalog.js';
import { installModelFromDirectory, installModelFromUrl, ModelInstallError, type InstallOutcome } from '../models/install.js';
import { describeModelFileStatus, verifyModelFile, type ModelFileStatus } from '../models/model-file.js';
import { OperatorError } from '../core/operator-error.js';

/** Where the command prints; tests pass their own streams. */
export interface ModelsCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

interface CommonOptions {
  modelsDir?: string;
  catalog?: string;
}

const STATE_LABEL: Record<ModelFileStatus['status'], string> = {
  ok: 'verified',
  missing: 'missing',
  'wrong-size': 'wrong size',
  'wrong-hash': 'wrong hash',
};

function withCommonOptions(command: Command): Command {
  return command
    .option('--models-dir <dir>', 'models directory (default: $CROSSCAM_MODELS_DIR or /var/lib/crosscam/models)')
    .option('--catalog <file>', 'operator model catalog (YAML) whose entries add to or replace the built-in ones');
}

async function openCatalog(options: CommonOptions) {
  const catalog = await loadModelCatalog(options.catalog ? { extraCatalogPath: options.catalog } : {});
  return { catalog, modelsDir: resolveModelsDir(options.modelsDir) };
}

function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}

async function listModels(io: ModelsCommandIo, options: CommonOptions & { json?: boolean }): Promise<void> {
  const { catalog, modelsDir } = await openCatalog(options);
  const rows = [];
  for (const entry of catalog.models.values()) {
    rows.push({ entry, file: await verifyModelFile(entry, modelsDir) });
  }
  if (options.json) {
    const out = rows.map(({ entry, file }) => ({
      id: entry.id,
      task: entry.task,
      file: entry.file,
      path: file.path,
      state: file.status,
      licence: entry.licence,
      ...(file.status === 'wrong-size' || file.status === 'wrong-hash' ? { expected: file.expected, actual: file.actual } : {}),
    }));
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  io.stdout.write(`models directory: ${modelsDir}\n`);
  const table = [['ID', 'TASK', 'FILE', 'STATE', 'LICENCE']];
  for (const { entry, file } of rows) table.push([entry.id, entry.task, entry.file, STATE_LABEL[file.status], entry.licence]);
  io.stdout.write(formatTable(table));
}

async function verifyModels(io: ModelsCommandIo, ids: string[], options: CommonOptions): Promise<void> {
  const { catalog, modelsDir } = await openCatalog(options);
  const entries = selectCatalogEntries(catalog, ids);
  let failed = 0;
  for (const entry of entries) {
    const status = await verifyModelFile(entry, modelsDir);
    if (status.status === 'ok') {
      io.stdout.write(`ok      ${entry.id}: ${describeModelFileStatus(status)}\n`);
      continue;
    }
    failed += 1;
    const hint = status.status === 'missing' ? ` (install it with: crosscam models install ${entry.id} --from DIR)` : '';
    io.stdout.write(`FAILED  ${entry.id}: ${describeModelFileStatus(status)}${hint}\n`);
  }
  if (failed > 0) throw new OperatorError(`${failed} of ${entries.length} models failed verification`, ExitCode.FAILURE);
}

interface InstallOptions extends CommonOptions {
  from?: string;
  url?: string;
}

/** A progress bar on an interactive stderr; nothing otherwise (logs and pipes stay clean). */
function downloadProgress(io: ModelsCommandIo, entry: ModelEntry) {
  if (io.stderr.isTTY !== true) return {};
  const bar = new cliProgress.SingleBar(
    { stream: io.stderr, format: `${entry.id} [{bar}] {percentage}% | {value}/{total} bytes | ETA {eta}s` },
    cliProgress.Presets.shades_classic,
  );
  return {
    onStart: (total: number | undefined) => bar.start(total ?? entry.sizeBytes, 0),
    onProgress: (bytes: number) => bar.update(bytes),
    stop: () => bar.stop(),
  };
}

async function installModels(io: ModelsCommandIo, ids: string[], options: InstallOptions): Promise<void> {
  if ((options.from === undefined) === (options.url === undefined)) {
    throw new OperatorError('models install needs exactly one of --from DIR or --url URL', ExitCode.USAGE);
  }
  if (options.url !== undefined && ids.length !== 1) {
    throw new OperatorError('models install --url URL installs exactly one model: give its id', ExitCode.USAGE);
  }
  const { catalog, modelsDir } = await openCatalog(options);
  let entries = selectCatalogEntries(catalog, ids);
  const fromDir = options.from === undefined ? undefined : path.resolve(options.from);
  if (fromDir !== undefined && ids.length === 0) {
    // Without ids, install every catalog model whose file the directory holds.
    entries = entries.filter((entry) => existsSync(path.join(fromDir, entry.file)));
    if (entries.length === 0) {
      const files = [...catalog.models.values()].map((entry) => entry.file).join(', ');
      throw new OperatorError(`no catalog model files found in ${fromDir} (looked for: ${files})`, ExitCode.NO_INPUT);
    }
  }

  let failed = 0;
  for (const entry of entries) {
    let outcome: InstallOutcome;
    try {
      if (fromDir !== undefined) {
        outcome = await installModelFromDirectory({ entry, modelsDir, fromDir });
      } else {
        const progress = downloadProgress(io, entry);
        try {
          outcome = await installModelFromUrl({ entry, modelsDir, url: options.url!, ...progress });
        } finally {
          progress.stop?.();
        }
      }
    } catch (error) {
      if (!(error instanceof ModelInstallError) && !(error instanceof Error && 'code' in error)) throw error;
      failed += 1;
      io.stdout.write(`FAILED     ${error.message}\n`);
      continue;
    }
    const verb = outcome.status === 'installed' ? 'installed ' : 'skipped   ';
    const note = outcome.status === 'installed' ? '' : ' (already installed and verified)';
    io.stdout.write(`${verb} ${entry.id}: ${outcome.path}${note}\n`);
  }
  if (failed > 0) throw new OperatorError(`${failed} of ${entries.length} models not installed`, ExitCode.FAILURE);
}

export function registerModelsCommand(program: Command, io: ModelsCommandIo = { stdout: process.stdout, stderr: process.stderr }): void {
  const models = program.command('models').description('list, verify and install the ONNX models in the model catalog');

  withCommonOptions(models.command('list'))
    .description('list catalog models and whether each is installed and verified')
    .option('--json', 'print JSON instead of a table')
    .action((options: CommonOptions & { json?: boolean }) => listModels(io, options));

  withCommonOptions(models.command('verify'))
    .description('check installed model files against the catalog (size and sha256); exit 1 if any fails')
    .argument('[ids...]', 'model ids (default: all catalog models)')
    .action((ids: string[], options: CommonOptions) => verifyModels(io, ids, options));

  withCommonOptions(models.command('install'))
    .description('install model files: copied from a directory or downloaded, and only kept when the sha256 matches')
    .argument('[ids...]', 'model ids (default with --from: every catalog model found in DIR)')
    .option('--from <dir>', 'directory holding the model files under their catalog file names')
    .option('--url <url>', 'download the (single) model from this URL')
    .action((ids: string[], options: InstallOptions) => installModels(io, ids, options));
}
