import { createWriteStream, existsSync, statSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode } from '../core/exit-codes.js';
import { OperatorError } from '../core/operator-error.js';
import { openStateStore, type RootDatabase } from '../core/state-store.js';
import type { Gallery } from '../gallery/gallery.js';
import { recluster } from '../gallery/recluster.js';
import { summaryOf, type IdentityMerge, type IdentityRecord, type SightingRecord } from '../gallery/records.js';
import { featuresSchema, gallerySchema, matchingSchema } from '../config/schema.js';
import { openGallery as openGalleryIn } from '../service/identity.js';
import { isoTime, isoTimeOrNull } from '../core/json-values.js';
import { identityJson, sightingJson } from '../gallery/json-views.js';
import { readConfigFile } from '../pipeline/setup.js';
import { createProgress, PROCESS_IO, type CommandIo } from './progress.js';


interface GalleryLocation {
  config?: string;
  gallery?: string;
  mapSizeMb?: number;
}

interface OpenedGallery {
  dir: string;
  store: RootDatabase;
  gallery: Gallery;
  mergeThreshold: number;
}

/** Opens an existing gallery (never creates one: a mistyped path must not look like an empty gallery). */
async function openExistingGallery(location: GalleryLocation): Promise<OpenedGallery> {
  if ((location.config === undefined) === (location.gallery === undefined)) {
    throw new OperatorError('give exactly one of --config FILE or --gallery DIR', ExitCode.USAGE);
  }
  // Without a config file, the gallery settings are the config's defaults (one definition).
  const { config } = location.config !== undefined
    ? await readConfigFile(location.config)
    : { config: { gallery: gallerySchema.parse({ path: location.gallery }), matching: matchingSchema.parse({}), features: featuresSchema.parse({}) } };
  const resolved = path.resolve(config.gallery.path);
  if (!existsSync(path.join(resolved, 'data.mdb'))) throw new OperatorError(`no gallery at ${resolved} (no data.mdb there)`, ExitCode.NO_INPUT);
  const store = openStateStore({ path: resolved, mapSizeMb: location.mapSizeMb ?? config.gallery.map_size_mb });
  const { gallery } = openGalleryIn({ ...config, gallery: { ...config.gallery, path: resolved } }, store);
  return { dir: resolved, store, gallery, mergeThreshold: config.matching.merge_threshold };
}

async function withGallery(location: GalleryLocation, work: (opened: OpenedGallery) => Promise<void> | void): Promise<void> {
  const opened = await openExistingGallery(location);
  try {
    await work(opened);
  } finally {
    await opened.store.close();
  }
}


function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

function printStats(io: CommandIo, { dir, gallery }: OpenedGallery, json: boolean): void {
  const stats = gallery.stats();
  const fileBytes = statSync(path.join(dir, 'data.mdb')).size;
  if (json) {
    const out = {
      path: dir,
      identities: stats.identities,
      classes: stats.classes,
      sightings: stats.sightings,
      oldest_sighting: isoTimeOrNull(stats.oldestSightingAt),
      newest_sighting: isoTimeOrNull(stats.newestSightingAt),
      file_bytes: fileBytes,
      gallery_bytes: stats.usedBytes,
    };
    io.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const perClass = Object.entries(stats.classes).map(
    ([objectClass, counts]) => `${objectClass} ${counts.identities}${counts.watchlist > 0 ? ` (${counts.watchlist} on the watch list)` : ''}`,
  );
  const lines = [
    `gallery: ${dir}`,
    `size: ${formatBytes(fileBytes)} file, ${formatBytes(stats.usedBytes)} in gallery records`,
    `identities: ${stats.identities}${perClass.length > 0 ? ` — ${perClass.join(', ')}` : ''}`,
    `sightings: ${stats.sightings}`,
  ];
  if (stats.oldestSightingAt !== undefined) {
    lines.push(`oldest sighting ended: ${isoTimeOrNull(stats.oldestSightingAt)}`, `newest sighting ended: ${isoTimeOrNull(stats.newestSightingAt)}`);
  }
  io.stdout.write(`${lines.join('\n')}\n`);
}

/** Export lines: the operators' JSON view of each record, with its vectors when asked. */
function identityLine(record: IdentityRecord, vectors: boolean): Record<string, unknown> {
  return {
    type: 'identity',
    ...identityJson(summaryOf(record)),
    ...(vectors
      ? {
          // Raw re-ID space: the appearance sum with each camera's weight, and the views.
          appearance: { sum: Array.from(record.appearance.sum), camera_weights: record.appearance.weights },
          exemplars: record.exemplars.map((exemplar) => ({
            camera: exemplar.cameraId,
            quality: exemplar.quality,
            at: isoTime(exemplar.at),
            embedding: Array.from(exemplar.embedding),
          })),
          ...(record.parts ? { parts: { features: Array.from(record.parts.features), visibility: Array.from(record.parts.visibility) } } : {}),
        }
      : {}),
  };
}

function sightingLine(record: SightingRecord, vectors: boolean): Record<string, unknown> {
  return { type: 'sighting', ...sightingJson(record), ...(vectors ? { embedding: Array.from(record.embedding) } : {}) };
}

async function exportGallery(io: CommandIo, { gallery }: OpenedGallery, options: { out?: string; vectors?: boolean }): Promise<void> {
  const out = options.out === undefined ? io.stdout : createWriteStream(options.out);
  const stats = gallery.stats();
  const total = stats.identities + stats.sightings;
  const progress = createProgress(io, 'export', 'record');
  let done = 0;
  const write = async (line: Record<string, unknown>) => {
    if (!out.write(`${JSON.stringify(line)}\n`)) await once(out, 'drain');
    if (++done % 100 === 0 || done === total) progress.update(done, total);
  };
  try {
    for (const record of gallery.identityRecords()) await write(identityLine(record, options.vectors === true));
    for (const record of gallery.sightingRecords()) await write(sightingLine(record, options.vectors === true));
  } finally {
    progress.stop();
  }
  if (out !== io.stdout) {
    out.end();
    await once(out, 'finish');
    io.stderr.write(`exported ${stats.identities} identities and ${stats.sightings} sightings to ${options.out}\n`);
  }
}

function forgetIdentity(io: CommandIo, { dir, gallery }: OpenedGallery, identityId: string): void {
  const forgotten = gallery.forget(identityId);
  if (forgotten === undefined) throw new OperatorError(`no identity "${identityId}" in the gallery at ${dir}`, ExitCode.FAILURE);
  io.stdout.write(`forgot ${identityId} and its ${forgotten.sightings} sighting${forgotten.sightings === 1 ? '' : 's'}\n`);
}

async function reclusterGallery(io: CommandIo, opened: OpenedGallery, options: { threshold?: number; dryRun?: boolean }): Promise<void> {
  const mergeThreshold = options.threshold ?? opened.mergeThreshold;
  if (!(mergeThreshold >= -1 && mergeThreshold <= 1)) throw new OperatorError(`--threshold must be a cosine similarity in [-1, 1], got ${options.threshold}`, ExitCode.USAGE);
  const progress = createProgress(io, 'recluster', 'identity');
  let merges: IdentityMerge[];
  try {
    merges = await recluster(opened.gallery, { mergeThreshold, dryRun: options.dryRun === true, onProgress: (done, total) => progress.update(done, total) });
  } finally {
    progress.stop();
  }
  const verb = options.dryRun ? 'would merge' : 'merged';
  for (const merge of merges) {
    io.stdout.write(`${verb} ${merge.merged.join(', ')} into ${merge.kept} (similarity ${merge.similarity.toFixed(3)}, ${merge.movedSightings} sightings)\n`);
  }
  const identities = merges.reduce((sum, merge) => sum + merge.merged.length, 0);
  const summary = `${merges.length} merge${merges.length === 1 ? '' : 's'}, ${identities} identities ${options.dryRun ? 'would be' : ''} folded into others`.replace('  ', ' ');
  io.stdout.write(`recluster at similarity ≥ ${mergeThreshold}${options.dryRun ? ' (dry run: nothing changed)' : ''}: ${summary}\n`);
}

function withLocation(command: Command): Command {
  return command
    .option('--config <file>', 'config file: the gallery at gallery.path (and matching.merge_threshold if set)')
    .option('--gallery <dir>', 'gallery directory (the LMDB environment)')
    .option('--map-size-mb <n>', 'LMDB map size (default: gallery.map_size_mb, else 2048)', Number);
}

export function registerGalleryCommand(program: Command, io: CommandIo = PROCESS_IO): void {
  const gallery = program
    .command('gallery')
    .description('inspect and maintain the identity gallery (run changes while the daemon is stopped or idle: it reloads when it next decides)');

  withLocation(gallery.command('stats'))
    .description('identities per class, sightings, oldest/newest sighting, size')
    .option('--json', 'print JSON')
    .action((options: GalleryLocation & { json?: boolean }) => withGallery(options, (opened) => printStats(io, opened, options.json === true)));

  withLocation(gallery.command('export'))
    .description('write identities and sightings as JSON lines')
    .option('--out <file>', 'output file (default: stdout)')
    .option('--vectors', 'include prototypes, exemplars and embeddings (sightings\' in half precision, as stored)')
    .action((options: GalleryLocation & { out?: string; vectors?: boolean }) => withGallery(options, (opened) => exportGallery(io, opened, options)));

  withLocation(gallery.command('forget'))
    .description('remove an identity and all its sightings')
    .argument('<identity>', 'identity id, e.g. person-000042')
    .action((identityId: string, options: GalleryLocation) => withGallery(options, (opened) => forgetIdentity(io, opened, identityId)));

  withLocation(gallery.command('recluster'))
    .description('merge identities whose prototypes are at least --threshold cosine-similar (split identities)')
    .option('--threshold <t>', 'merge threshold (default: matching.merge_threshold of the config, or its default)', Number)
    .option('--dry-run', 'show the merges it would make, change nothing')
    .action((options: GalleryLocation & { threshold?: number; dryRun?: boolean }) =>
      withGallery(options, (opened) => reclusterGallery(io, opened, options)),
    );
}
