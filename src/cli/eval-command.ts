import { access } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { ConfigError, formatConfigIssues } from '../config/issues.js';
import { loadConfig } from '../config/load.js';
import type { CrosscamConfig, ExecutionProviderConfig } from '../config/schema.js';
import { ExitCode } from '../core/exit-codes.js';
import { createLogger } from '../core/logger.js';
import { Embedder } from '../embed/embedder.js';
import { readMotFile } from '../eval/mot-ground-truth.js';
import { runReidEvaluation, type ReidEvaluationResult } from '../eval/reid-eval.js';
import type { ReidModelEntry } from '../models/catalog-schema.js';
import { loadModelCatalog, resolveModelsDir, type ModelCatalog } from '../models/catalog.js';
import { loadCatalogModel } from '../runtime/catalog-model.js';
import type { ExecutionProviderRequest } from '../runtime/inference-session.js';
import { CliError } from './cli-error.js';

/** Where the command prints; tests pass their own streams. */
export interface EvalCommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

interface ReidEvalOptions {
  video: string;
  gt: string;
  step: number;
  json?: boolean;
  config?: string;
  modelsDir?: string;
  model?: string;
}

async function readConfig(file: string): Promise<CrosscamConfig> {
  try {
    return await loadConfig(file, {
      loadKnownModels: async (models) => (await loadModelCatalog(models.catalog === undefined ? {} : { extraCatalogPath: models.catalog })).models,
    });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(`invalid config file ${file}:\n${formatConfigIssues(error.issues)}`, ExitCode.CONFIG);
    throw error;
  }
}

function toProviderRequest(provider: ExecutionProviderConfig): ExecutionProviderRequest {
  switch (provider.name) {
    case 'tensorrt':
      return { name: 'tensorrt', deviceId: provider.device_id, fp16: provider.fp16, engineCacheDir: provider.engine_cache_dir };
    case 'cuda':
      return { name: 'cuda', deviceId: provider.device_id };
    case 'cpu':
      return { name: 'cpu' };
  }
}

/** --model, else the config's person re-ID model, else the catalog's first re-ID model for people. */
function chooseReidEntry(catalog: ModelCatalog, requested: string | undefined): ReidModelEntry {
  if (requested !== undefined) {
    const entry = catalog.models.get(requested);
    if (entry?.task !== 'reid') throw new CliError(`'${requested}' is not a re-ID model of the catalog`, ExitCode.USAGE);
    return entry;
  }
  for (const entry of catalog.models.values()) {
    if (entry.task === 'reid' && entry.reid.objectClasses.includes('person')) return entry;
  }
  throw new CliError('the model catalog has no person re-ID model', ExitCode.CONFIG);
}

function formatResult(result: ReidEvaluationResult, context: { video: string; step: number; model: string }): string {
  const rows: [string, string][] = [
    ['queries', String(result.queries)],
    ['gallery', String(result.gallery)],
    ['mAP', result.mAP.toFixed(3)],
    ['rank-1', result.rank1.toFixed(3)],
    ['rank-5', result.rank5.toFixed(3)],
    ['rank-10', result.rank10.toFixed(3)],
  ];
  const header = `re-ID ranking: ${path.basename(context.video)}, step ${context.step}, model ${context.model}\n`;
  return header + rows.map(([name, value]) => `  ${name.padEnd(8)} ${value.padStart(6)}`).join('\n') + '\n';
}

async function evaluateReid(io: EvalCommandIo, options: ReidEvalOptions): Promise<void> {
  if (!Number.isInteger(options.step) || options.step < 1) throw new CliError(`--step must be a positive integer, got ${options.step}`, ExitCode.USAGE);
  await access(options.video).catch((error: Error) => {
    throw new CliError(`cannot read video: ${error.message}`, ExitCode.NO_INPUT);
  });
  const config = options.config === undefined ? undefined : await readConfig(options.config);
  const catalog = await loadModelCatalog(config?.models.catalog === undefined ? {} : { extraCatalogPath: config.models.catalog });
  const entry = chooseReidEntry(catalog, options.model ?? config?.models.reid.person);
  const records = await readMotFile(options.gt).catch((error: NodeJS.ErrnoException) => {
    // A missing file and a malformed one are different operator mistakes.
    throw new CliError(`cannot read ground truth: ${error.message}`, error.code === undefined ? ExitCode.DATA : ExitCode.NO_INPUT);
  });

  // The results go to stdout; session set-up chatter only when asked for.
  const logger = createLogger({ level: process.env.CROSSCAM_LOG_LEVEL ?? 'warn' });
  const model = await loadCatalogModel({
    entry,
    modelsDir: resolveModelsDir(options.modelsDir ?? config?.models.dir),
    providers: config ? config.runtime.providers.map(toProviderRequest) : [{ name: 'cpu' }],
    intraOpThreads: config?.runtime.intra_op_threads,
    interOpThreads: config?.runtime.inter_op_threads,
    logger,
  });
  const embedder = await Embedder.create({ entry, session: model.session, batchSize: config?.embed.batch_size });

  const bar =
    io.stderr.isTTY === true
      ? new cliProgress.SingleBar({ stream: io.stderr, format: 'embedding crops [{bar}] {percentage}% | frame {value}/{total} | ETA {eta}s' }, cliProgress.Presets.shades_classic)
      : undefined;
  let barStarted = false;
  let result: ReidEvaluationResult;
  try {
    result = await runReidEvaluation({
      videoPath: options.video,
      records,
      embedder,
      protocol: { step: options.step },
      onProgress: bar
        ? (frame, lastFrame) => {
            if (barStarted) return bar.update(frame);
            bar.start(lastFrame, frame);
            barStarted = true;
          }
        : undefined,
    });
  } finally {
    bar?.stop();
    await embedder.release();
    await model.session.release();
  }
  if (options.json) {
    const { mAP, rank1, rank5, rank10, queries, gallery } = result;
    io.stdout.write(`${JSON.stringify({ mAP, rank1, rank5, rank10, queries, gallery })}\n`);
  } else {
    io.stdout.write(formatResult(result, { video: options.video, step: options.step, model: entry.id }));
  }
}

function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`expected a positive integer, got '${value}'`, ExitCode.USAGE);
  return n;
}

/** `crosscam eval ...`: accuracy evaluations against ground truth. */
export function registerEvalCommand(program: Command, io: EvalCommandIo = { stdout: process.stdout, stderr: process.stderr }): void {
  const evaluation = program.command('eval').description('measure accuracy against ground truth');

  evaluation
    .command('reid')
    .description(
      're-ID ranking (mAP, CMC rank-1/5/10) on a video with MOT ground truth: per identity, a query crop from the first 30 % ' +
        'of its time span against a gallery of every identity\'s last 50 %',
    )
    .requiredOption('--video <file>', 'video file')
    .requiredOption('--gt <file>', 'MOT ground truth (gt.txt) of the video')
    .option('--step <n>', 'sample MOT frames f with f mod n = 1 mod n', parsePositiveInteger, 1)
    .option('--json', 'print {"mAP","rank1","rank5","rank10","queries","gallery"} as JSON')
    .option('--config <file>', 'crosscam config: models (dir, catalog, reid.person), runtime providers, embed.batch_size')
    .option('--models-dir <dir>', 'models directory (default: config models.dir, $CROSSCAM_MODELS_DIR or /var/lib/crosscam/models)')
    .option('--model <id>', 're-ID model id (default: config models.reid.person, else the catalog\'s person re-ID model)')
    .action((options: ReidEvalOptions) => evaluateReid(io, options));
}
