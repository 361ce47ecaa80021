import { access, readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes.js';
import { createLogger } from '../core/logger.js';
import { OperatorError } from '../core/operator-error.js';
import { Embedder } from '../embed/embedder.js';
import { runCrossCameraEvaluation, setConfigValue, type CrossCameraReport } from '../eval/cross-camera-eval.js';
import { readMotFile, type MotRecord } from '../eval/mot-ground-truth.js';
import { loadAdapterFile } from '../adapt/adapter-file.js';
import type { SplitOptions } from '../eval/virtual-cameras.js';
import { evaluateTracking, type TrackingEvaluation } from '../eval/mot-evaluation.js';
import { runReidEvaluation, type ReidEvaluationResult } from '../eval/reid-eval.js';
import { readFfmpegFrames } from '../ingest/ffmpeg-frames.js';
import type { ReidModelEntry } from '../models/catalog-schema.js';
import { loadModelCatalog, resolveModelsDir, type ModelCatalog } from '../models/catalog.js';
import { CameraPipeline } from '../pipeline/camera-pipeline.js';
import { cameraPipelineOptions, openVisionModels, providerRequests, readConfigFile, readConfigOrDefaults, selectCamera } from '../pipeline/setup.js';
import { loadCatalogModel } from '../runtime/catalog-model.js';
import { createProgress, PROCESS_IO, type CommandIo } from './progress.js';

/** Where the command prints; tests pass their own streams. */
export type EvalCommandIo = CommandIo;

interface ReidEvalOptions {
  video: string;
  gt: string;
  step: number;
  json?: boolean;
  config?: string;
  modelsDir?: string;
  model?: string;
}

const asConfigError = (error: Error): never => {
  throw new OperatorError(error.message, ExitCode.CONFIG);
};

async function assertReadable(file: string, what: string): Promise<void> {
  await access(file).catch((error: Error) => {
    throw new OperatorError(`cannot read ${what}: ${error.message}`, ExitCode.NO_INPUT);
  });
}

async function readGroundTruth(file: string): Promise<MotRecord[]> {
  return readMotFile(file).catch((error: NodeJS.ErrnoException) => {
    // A missing file and a malformed one are different operator mistakes.
    throw new OperatorError(`cannot read ground truth: ${error.message}`, error.code === undefined ? ExitCode.DATA : ExitCode.NO_INPUT);
  });
}

/** --model, else the config's person re-ID model, else the catalog's first re-ID model for people. */
function chooseReidEntry(catalog: ModelCatalog, requested: string | undefined): ReidModelEntry {
  if (requested !== undefined) {
    const entry = catalog.models.get(requested);
    if (entry?.task !== 'reid') throw new OperatorError(`'${requested}' is not a re-ID model of the catalog`, ExitCode.USAGE);
    return entry;
  }
  for (const entry of catalog.models.values()) {
    if (entry.task === 'reid' && entry.reid.objectClasses.includes('person')) return entry;
  }
  throw new OperatorError('the model catalog has no person re-ID model', ExitCode.CONFIG);
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
  if (!Number.isInteger(options.step) || options.step < 1) throw new OperatorError(`--step must be a positive integer, got ${options.step}`, ExitCode.USAGE);
  await assertReadable(options.video, 'video');
  const config = options.config === undefined ? undefined : (await readConfigFile(options.config)).config;
  const catalog = await loadModelCatalog(config?.models.catalog === undefined ? {} : { extraCatalogPath: config.models.catalog });
  const entry = chooseReidEntry(catalog, options.model ?? config?.models.reid.person);
  const records = await readGroundTruth(options.gt);

  // The results go to stdout; session set-up chatter only when asked for.
  const logger = createLogger({ level: process.env.CROSSCAM_LOG_LEVEL ?? 'warn' });
  const model = await loadCatalogModel({
    entry,
    modelsDir: resolveModelsDir(options.modelsDir ?? config?.models.dir),
    providers: config ? providerRequests(config.runtime) : [{ name: 'cpu' }],
    intraOpThreads: config?.runtime.intra_op_threads,
    interOpThreads: config?.runtime.inter_op_threads,
    logger,
  });
  const embedder = await Embedder.create({ entry, session: model.session, batchSize: config?.embed.batch_size });

  const progress = createProgress(io, 'embedding crops');
  let result: ReidEvaluationResult;
  try {
    result = await runReidEvaluation({
      videoPath: options.video,
      records,
      embedder,
      protocol: { step: options.step },
      onProgress: (frame, lastFrame) => progress.update(frame, lastFrame),
    });
  } finally {
    progress.stop();
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

interface TrackingEvalOptions {
  video: string;
  gt: string;
  json?: boolean;
  config?: string;
  modelsDir?: string;
}

/** The product's detector and tracker on every frame; people only, as MOT ground truth holds pedestrians. */
async function evaluateTrackingCommand(io: CommandIo, options: TrackingEvalOptions): Promise<void> {
  await assertReadable(options.video, 'video');
  const gt = await readGroundTruth(options.gt);
  const loaded = await readConfigOrDefaults(options.config, options.video);
  const camera = selectCamera(loaded.config, undefined);
  const logger = createLogger({ level: process.env.CROSSCAM_LOG_LEVEL ?? 'warn' });
  const models = await openVisionModels({ ...loaded, logger, ...(options.modelsDir ? { modelsDir: options.modelsDir } : {}) });
  const settings = cameraPipelineOptions(loaded.config, camera, models);
  const pipeline = new CameraPipeline({ ...settings, embedders: {}, filter: { ...settings.filter, classes: ['person'] } });
  const hypotheses: MotRecord[] = [];
  const lastGtFrame = Math.max(...gt.map((r) => r.frame));
  const progress = createProgress(io, 'tracking');
  try {
    for await (const frame of readFfmpegFrames({ url: options.video, cameraId: camera.id })) {
      const result = await pipeline.process(frame);
      for (const track of [...result.started, ...result.updated]) {
        hypotheses.push({ frame: frame.index + 1, id: track.trackId, box: track.box, confidence: track.score, consider: true });
      }
      progress.update(frame.index + 1, Math.max(lastGtFrame, frame.index + 1));
    }
  } finally {
    progress.stop();
    await models.release();
  }
  const result = evaluateTracking(gt, hypotheses);
  if (options.json) {
    const { mota, motp, idf1, idp, idr, idSwitches, falsePositives, misses, precision, recall, numGt } = result;
    io.stdout.write(`${JSON.stringify({ MOTA: mota, MOTP: motp, IDF1: idf1, IDP: idp, IDR: idr, IDSW: idSwitches, FP: falsePositives, FN: misses, precision, recall, gt: numGt })}\n`);
  } else {
    io.stdout.write(formatTracking(result, options.video));
  }
}

function formatTracking(result: TrackingEvaluation, video: string): string {
  const rows: [string, string][] = [
    ['MOTA', result.mota.toFixed(3)],
    ['MOTP', `${result.motp.toFixed(3)} (mean IoU)`],
    ['IDF1', result.idf1.toFixed(3)],
    ['IDP / IDR', `${result.idp.toFixed(3)} / ${result.idr.toFixed(3)}`],
    ['ID switches', String(result.idSwitches)],
    ['FP / FN', `${result.falsePositives} / ${result.misses}`],
    ['precision', result.precision.toFixed(3)],
    ['recall', result.recall.toFixed(3)],
    ['GT boxes', String(result.numGt)],
  ];
  return `tracking (CLEAR-MOT, IDF1; IoU >= 0.5): ${path.basename(video)}\n` + rows.map(([name, value]) => `  ${name.padEnd(12)} ${value}`).join('\n') + '\n';
}

interface CrossCameraEvalCommandOptions {
  video: string;
  gt: string;
  splitX?: number;
  splitY?: number;
  shift?: string;
  fps?: number;
  config?: string;
  set: string[];
  json?: boolean;
  modelsDir?: string;
  saveTracks?: string;
  fromTracks?: string;
  colourFrom?: string;
  transit?: { minS: number; maxS: number };
  reference?: boolean;
  adapter?: string;
}

/** `MIN:MAX` seconds for --transit. */
function parseTransit(value: string): { minS: number; maxS: number } {
  const match = /^(-?[\d.]+):(-?[\d.]+)$/.exec(value);
  const [minS, maxS] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
  if (!(maxS > minS)) throw new OperatorError(`--transit takes MIN:MAX seconds with MAX > MIN, got '${value}'`, ExitCode.USAGE);
  return { minS, maxS };
}

/**
 * The parsed YAML of --config (empty without one) with each --set applied: the base an
 * offline command builds its config from.
 */
export async function readBaseConfig(file: string | undefined, settings: readonly string[]): Promise<Record<string, unknown>> {
  let baseConfig: Record<string, unknown> = {};
  if (file !== undefined) {
    const text = await readFile(file, 'utf8').catch((error: Error) => {
      throw new OperatorError(`cannot read config: ${error.message}`, ExitCode.NO_INPUT);
    });
    const parsed: unknown = parseYaml(text);
    if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) throw new OperatorError(`${file}: expected a YAML mapping`, ExitCode.CONFIG);
    baseConfig = (parsed ?? {}) as Record<string, unknown>;
  }
  for (const setting of settings) {
    const at = setting.indexOf('=');
    setConfigValue(baseConfig, setting.slice(0, at), parseYaml(setting.slice(at + 1)));
  }
  return baseConfig;
}

/** `key.path=value` (value in YAML) for --set. */
export function parseSetting(value: string, previous: string[]): string[] {
  if (!/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*=/.test(value)) throw new OperatorError(`--set takes key.path=value, got '${value}'`, ExitCode.USAGE);
  return [...previous, value];
}

async function evaluateCrossCameraCommand(io: CommandIo, options: CrossCameraEvalCommandOptions): Promise<void> {
  await assertReadable(options.video, 'video');
  const groundTruth = await readGroundTruth(options.gt);
  if (options.splitX !== undefined && options.splitY !== undefined) throw new OperatorError('give --split-x or --split-y, not both', ExitCode.USAGE);
  const split: SplitOptions = {
    axis: options.splitY !== undefined ? 'y' : 'x',
    at: options.splitY ?? options.splitX ?? 0.5,
    ...(options.shift !== undefined ? { shift: options.shift } : {}),
  };
  if (!(split.at > 0 && split.at < 1)) throw new OperatorError(`the split must lie inside the frame (0 < at < 1), got ${split.at}`, ExitCode.USAGE);
  const baseConfig = await readBaseConfig(options.config, options.set);
  const logger = createLogger({ level: process.env.CROSSCAM_LOG_LEVEL ?? 'warn' });
  const progress = createProgress(io, 'two cameras');
  let report: CrossCameraReport;
  try {
    report = await runCrossCameraEvaluation({
      video: options.video,
      groundTruth,
      baseConfig,
      configName: options.config ?? 'the evaluation config (built-in defaults)',
      split,
      ...(options.fps !== undefined ? { fps: options.fps } : {}),
      ...(options.modelsDir !== undefined ? { modelsDir: options.modelsDir } : {}),
      ...(options.saveTracks !== undefined ? { saveTracks: options.saveTracks } : {}),
      ...(options.transit !== undefined ? { transit: options.transit } : {}),
      ...(options.reference ? { reference: true } : {}),
      ...(options.fromTracks !== undefined ? { fromTracks: options.fromTracks } : {}),
      ...(options.colourFrom !== undefined ? { colourFrom: options.colourFrom } : {}),
      ...(options.adapter !== undefined ? { adapter: (await loadAdapterFile(options.adapter).catch(asConfigError)).adapter } : {}),
      logger,
      onProgress: (frame, lastFrame) => progress.update(frame, lastFrame),
    });
  } finally {
    progress.stop();
  }
  io.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatCrossCamera(report, options.video, split));
}

function formatCrossCamera(report: CrossCameraReport, video: string, split: SplitOptions): string {
  const f = (value: number) => (Number.isNaN(value) ? 'n/a' : value.toFixed(3));
  const rows: [string, string][] = [
    ['precision', `${f(report.precision)} (${report.correctMatches} of ${report.matches} matches correct)`],
    ['recall', `${f(report.recall)} (${report.links} of ${report.gtLinks} people seen on both cameras linked)`],
    ['F1', f(report.f1)],
    ['AUC', `${f(report.auc)} (${report.pairs.positive} same-person / ${report.pairs.negative} other cross-camera track pairs)`],
    ['purity', f(report.purity)],
    ['fragmentation', `${f(report.fragmentation)} identities per person (${report.identities} identities, ${report.gtIdentities} people, ${report.merges} merged online)`],
    ...report.cameras.map((camera): [string, string] => [
      `camera ${camera.id}`,
      `${camera.tracks} tracks, ${camera.tracksWithPerson} follow a person, ${camera.decided} decided`,
    ]),
    ...(report.reference
      ? [
          [
            'reference',
            `oracle-centred final embeddings: AUC ${f(report.reference.auc)}; ` +
              (report.reference.best
                ? `best F1 at precision ≥ 0.9: ${f(report.reference.best.f1)} (P ${f(report.reference.best.precision)}, R ${f(report.reference.best.recall)}, threshold ${report.reference.best.threshold}, margin ${report.reference.best.margin})`
                : 'no threshold reaches precision 0.9'),
          ] as [string, string],
        ]
      : []),
    ['frames', `${report.frames.processed} of ${report.frames.decoded} at ${report.frames.fps.toFixed(2)} fps`],
    ['wall time', `${report.wallTimeS.toFixed(1)} s`],
  ];
  for (const match of report.matchList) {
    const person = (p: number | null) => (p === null ? 'nobody' : `person ${p}`);
    rows.push([
      match.correct ? '  match' : '  WRONG match',
      `${match.identity}: ${match.sighting} (${person(match.persons[0])}) ← ${match.matched} (${person(match.persons[1])}), score ${f(match.similarity)}, margin ${f(match.margin)}${match.late ? ', late' : ''}`,
    ]);
  }
  const header = `cross-camera matching: ${path.basename(video)} split ${split.axis === 'x' ? 'left/right' : 'top/bottom'} at ${split.at}${split.shift ? `, second camera through ${split.shift}` : ''}\n`;
  return header + rows.map(([name, value]) => `  ${name.padEnd(14)} ${value}`).join('\n') + '\n';
}

function parseFraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new OperatorError(`expected a fraction between 0 and 1, got '${value}'`, ExitCode.USAGE);
  return n;
}

function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0)) throw new OperatorError(`expected a positive number, got '${value}'`, ExitCode.USAGE);
  return n;
}

function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new OperatorError(`expected a positive integer, got '${value}'`, ExitCode.USAGE);
  return n;
}

/** `crosscam eval ...`: accuracy evaluations against ground truth. */
export function registerEvalCommand(program: Command, io: EvalCommandIo = PROCESS_IO): void {
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

  evaluation
    .command('tracking')
    .description('multi-object tracking accuracy (MOTA, IDF1, ID switches) of the detector + tracker on a video with MOT ground truth')
    .requiredOption('--video <file>', 'video file (frame n is MOT frame n+1)')
    .requiredOption('--gt <file>', 'MOT ground truth (gt.txt) of the video')
    .option('--json', 'print the figures as JSON')
    .option('--config <file>', 'crosscam config: models, runtime, detect and track settings (first enabled camera)')
    .option('--models-dir <dir>', 'models directory (default: config models.dir, $CROSSCAM_MODELS_DIR or /var/lib/crosscam/models)')
    .action((options: TrackingEvalOptions) => evaluateTrackingCommand(io, options));

  evaluation
    .command('crosscam')
    .description(
      'cross-camera matching end to end: the daemon\'s detector, tracker, embedder, matcher and gallery on two virtual cameras ' +
        'cut from one video (left/right or top/bottom parts, the second optionally through an ffmpeg filter), scored against MOT ground truth',
    )
    .requiredOption('--video <file>', 'video file (frame n is MOT frame n+1)')
    .requiredOption('--gt <file>', 'MOT ground truth (gt.txt) of the video')
    .option('--split-x <fraction>', 'cameras left and right of this fraction of the width (default 0.5)', parseFraction)
    .option('--split-y <fraction>', 'cameras above and below this fraction of the height', parseFraction)
    .option('--shift <filter>', 'ffmpeg filter through which the second camera sees (a colour, light or sharpness difference)')
    .option('--fps <n>', 'frames per second processed (default: the config\'s detect.fps)', parsePositiveNumber)
    .option('--transit <min:max>', 'transit times in seconds between the two cameras (a topology link, both ways), e.g. -5:10 for adjacent views', parseTransit)
    .option('--config <file>', 'crosscam config to start from (its cameras and gallery path are replaced)')
    .option('--set <key=value>', 'override one config key, value in YAML (repeatable), e.g. --set matching.classes.person.threshold=0.75', parseSetting, [])
    .option('--json', 'print the report as one JSON object')
    .option('--reference', 'also report a reference of what the features give: each track linked to its nearest earlier track of the other camera, with oracle camera means and final embeddings, at the best threshold with precision ≥ 0.9')
    .option('--save-tracks <file>', 'write the tracks the vision stages produced (events and boxes) to this file')
    .option('--from-tracks <file>', 'skip the vision stages: re-run the identity stage on tracks saved by --save-tracks (their video, split and fps apply)')
    .option('--colour-from <file>', "start the cameras' colour normalisation from what the run that saved these tracks (--save-tracks) learnt: a site's steady state")
    .option('--adapter <file>', 'match through this on-site adapter (written by crosscam adapt train)')
    .option('--models-dir <dir>', 'models directory (default: config models.dir, $CROSSCAM_MODELS_DIR or /var/lib/crosscam/models)')
    .action((options: CrossCameraEvalCommandOptions) => evaluateCrossCameraCommand(io, options));
}
