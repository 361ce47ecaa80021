/**
 * `crosscam adapt`: on-site unsupervised adaptation (src/adapt/).
 *
 * `adapt run | status | rollback --config FILE` work on the daemon's state store (the gallery
 * at gallery.path): a run trains on the tracks the daemon logged and activates the candidate
 * only if it wins; the running daemon follows within 10 s and announces the change on MQTT.
 *
 * `adapt train --from-tracks FILE --out FILE` trains a candidate adapter offline on the
 * unlabelled tracks an `eval crosscam --save-tracks` run recorded (no ground truth is read),
 * judges it on its held-out slice against the plain centred space and writes it; `eval crosscam
 * --adapter FILE` then measures it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { openAdaptation, type Adaptation, type AdapterChange } from '../adapt/adaptation.js';
import { describeScore } from '../adapt/adapter-check.js';
import { runAdaptation } from '../adapt/adaptation-run.js';
import { saveAdapterFile } from '../adapt/adapter-file.js';
import type { AdaptationTrack } from '../adapt/trainer.js';
import { adaptSchema, type AdaptConfig } from '../config/adapt-schema.js';
import { featuresSchema } from '../config/schema.js';
import { ExitCode } from '../core/exit-codes.js';
import { createLogger } from '../core/logger.js';
import { OperatorError } from '../core/operator-error.js';
import { readConfigFile } from '../pipeline/setup.js';
import { openCameraCentring, openGallery } from '../service/identity.js';
import { openStateStore } from '../core/state-store.js';
import { loadRecording, type TrackRecording } from '../eval/cross-camera-eval.js';
import { parseSetting, readBaseConfig } from './eval-command.js';
import { PROCESS_IO, type CommandIo } from './progress.js';

interface TrainOptions {
  fromTracks: string;
  out: string;
  config?: string;
  set: string[];
  json?: boolean;
}

/** The ended tracks with an embedding, in the order the identity stage saw them. */
export function tracksFromRecording(recording: TrackRecording): AdaptationTrack[] {
  const tracks: AdaptationTrack[] = [];
  for (const entry of recording.events) {
    if (entry.kind !== 'track' || entry.event.type !== 'end' || entry.event.embedding === undefined) continue;
    const { sighting, embedding, halves } = entry.event;
    tracks.push({
      key: `${sighting.cameraId}#${sighting.trackId}`,
      cameraId: sighting.cameraId,
      startMs: sighting.firstSeenAt,
      endMs: sighting.lastSeenAt,
      embedding,
      ...(halves ? { halves } : {}),
    });
  }
  return tracks;
}

/** A config section parsed with its schema; a bad key is named. */
function parseSection<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown, name: string): T {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new OperatorError(`config: ${[name, ...issue.path.map(String)].join('.')}: ${issue.message}`, ExitCode.CONFIG);
}

async function trainCommand(io: CommandIo, options: TrainOptions): Promise<void> {
  const base = await readBaseConfig(options.config, options.set);
  const config: AdaptConfig = parseSection(adaptSchema, base.adapt, 'adapt');
  const features = parseSection(featuresSchema, base.features, 'features');
  const recording = await loadRecording(options.fromTracks).catch((error: Error) => {
    throw new OperatorError(`cannot read ${options.fromTracks}: ${error.message}`, ExitCode.NO_INPUT);
  });
  const tracks = tracksFromRecording(recording);
  if (tracks.length < 2 * config.held_out_every) throw new OperatorError(`${options.fromTracks} holds ${tracks.length} tracks with an embedding: too few to train and hold some out`, ExitCode.DATA);

  // The camera means the daemon's space would have after these tracks (same statistics, same settings).
  const statsDir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-adapt-'));
  const store = openStateStore({ path: statsDir, mapSizeMb: 64 });
  try {
    const centring = openCameraCentring(features, store);
    for (const track of tracks) centring.observe(track.cameraId, track.embedding);
    const outcome = runAdaptation({
      tracks,
      offsetOf: (cameraId) => centring.meanOf(cameraId),
      active: undefined,
      config,
      now: new Date(),
      onEpoch: (epoch) =>
        io.stderr.write(
          `epoch ${epoch.epoch}/${config.epochs}: loss ${epoch.loss.toFixed(4)} (L_s ${epoch.terms.sample.toFixed(4)}, L_c ${epoch.terms.cluster.toFixed(4)}, ` +
            `L_align ${epoch.terms.align.toFixed(4)}), ${epoch.pseudoIdentities} pseudo-identities, ${(100 * epoch.confidentShare).toFixed(0)} % confident, ${epoch.seconds.toFixed(2)} s\n`,
        ),
    });
    await saveAdapterFile(options.out, outcome.document);
    const summary = {
      out: options.out,
      tracks: outcome.document.tracks,
      candidate: outcome.candidate,
      baseline: outcome.active,
      beatsBaseline: outcome.activate,
      epochs: outcome.epochs,
    };
    if (options.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const line = (name: string, score: typeof outcome.candidate) =>
        `  ${name.padEnd(9)} ${describeScore(score)}\n`;
      io.stdout.write(
        `adapter written to ${options.out}: trained on ${outcome.document.tracks.training} tracks, judged on ${outcome.document.tracks.heldOut} held out ` +
          `(${outcome.candidate.tracks.pairs} confident cross-camera pairs)\n` +
          line('candidate', outcome.candidate) +
          line('centred', outcome.active) +
          `  ${outcome.activate ? 'beats' : 'does not beat'} the centred space (camera mixing +${config.activation.margin}, at most -${config.activation.tolerance} on the others)\n`,
      );
    }
  } finally {
    await store.close();
    await rm(statsDir, { recursive: true, force: true });
  }
}

interface StoreOptions {
  config: string;
  json?: boolean;
}

/** The adaptation of the daemon's state store (which must exist: a mistyped path is no empty site). */
async function withAdaptation(options: StoreOptions, work: (adaptation: Adaptation) => Promise<void> | void): Promise<void> {
  const { config } = await readConfigFile(options.config);
  const dir = path.resolve(config.gallery.path);
  if (!existsSync(path.join(dir, 'data.mdb'))) throw new OperatorError(`no state store at ${dir} (no data.mdb there): has the daemon run?`, ExitCode.NO_INPUT);
  const store = openStateStore({ path: dir, mapSizeMb: config.gallery.map_size_mb });
  try {
    const { space } = openGallery(config, store);
    const logger = createLogger({ level: process.env.CROSSCAM_LOG_LEVEL ?? 'warn' });
    const { adaptation } = openAdaptation(config.adapt, { store, space, logger, inWorker: true });
    await work(adaptation);
  } finally {
    await store.close();
  }
}

function describeChange(change: AdapterChange): string {
  const version = (n: number) => (n === 0 ? 'none (centred space)' : `version ${n}`);
  const lines = [`${change.action.replace('_', ' ')}: active adapter ${version(change.active)} (was ${version(change.previous)})`];
  if (change.candidate) {
    lines.push(`  candidate version ${change.candidate.version}: ${describeScore(change.candidate.score)}`, `  active when it ran:  ${describeScore(change.candidate.activeScore)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function registerAdaptCommand(program: Command, io: CommandIo = PROCESS_IO): void {
  const adapt = program.command('adapt').description('on-site unsupervised adaptation: a light adapter learnt from the site\'s own unlabelled tracks');
  adapt
    .command('run')
    .description('train a candidate on the tracks the daemon logged, judge it on a held-out slice, activate it only if it beats the active adapter')
    .requiredOption('--config <file>', 'the daemon\'s config (its state store at gallery.path, its adapt section)')
    .option('--json', 'print the outcome as one JSON object')
    .action((options: StoreOptions) =>
      withAdaptation(options, async (adaptation) => {
        const change = await adaptation.run().catch((error: Error) => {
          throw new OperatorError(`adaptation: ${error.message}`, ExitCode.DATA);
        });
        io.stdout.write(options.json ? `${JSON.stringify(change)}\n` : describeChange(change));
      }),
    );
  adapt
    .command('status')
    .description('the active adapter, the stored versions with their held-out figures, and the tracks logged for training')
    .requiredOption('--config <file>', 'the daemon\'s config')
    .option('--json', 'print the status as one JSON object')
    .action((options: StoreOptions) =>
      withAdaptation(options, (adaptation) => {
        const status = adaptation.status();
        if (options.json) {
          io.stdout.write(`${JSON.stringify({ ...status, versions: status.versions.map(({ document, ...version }) => ({ ...version, trainedAt: document.trainedAt, tracks: document.tracks, score: document.score, activeScore: document.activeScore })) })}\n`);
          return;
        }
        const lines = [`active adapter: ${status.active === 0 ? 'none (centred space)' : `version ${status.active}`}`, `tracks logged for training: ${status.loggedTracks}`];
        for (const version of status.versions) {
          const { score } = version.document;
          lines.push(
            `  version ${version.version}${version.version === status.active ? ' (active)' : ''}: trained ${version.document.trainedAt} on ${version.document.tracks.training} tracks, ` +
              `${version.activated ? 'activated' : 'kept inactive'}; ${describeScore(score)}`,
          );
        }
        io.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
  adapt
    .command('rollback')
    .description('return to the adapter version active before the current one (or to none)')
    .requiredOption('--config <file>', 'the daemon\'s config')
    .option('--json', 'print the outcome as one JSON object')
    .action((options: StoreOptions) =>
      withAdaptation(options, (adaptation) => {
        const change = adaptation.rollback();
        if (change === undefined) throw new OperatorError('no adapter is active: nothing to roll back', ExitCode.DATA);
        io.stdout.write(options.json ? `${JSON.stringify(change)}\n` : describeChange(change));
      }),
    );
  adapt
    .command('train')
    .description('train a candidate adapter offline on tracks recorded by eval crosscam --save-tracks (no ground truth used) and judge it on a held-out slice')
    .requiredOption('--from-tracks <file>', 'track recording (eval crosscam --save-tracks)')
    .requiredOption('--out <file>', 'where to write the adapter')
    .option('--config <file>', 'crosscam config whose adapt and features sections apply')
    .option('--set <key=value>', 'override one config key, value in YAML (repeatable), e.g. --set adapt.epochs=5', parseSetting, [])
    .option('--json', 'print the outcome as one JSON object')
    .action((options: TrainOptions) => trainCommand(io, options));
}
