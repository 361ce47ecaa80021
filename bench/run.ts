/**
 * `npm run bench`: one run, one report (bench/report.md and bench/report.json).
 * 1. The vision core on PETS09 frames: every stage alone and the per-frame path (vision-core.ts);
 *    `crosscam process` against Python + OpenCV-DNN and a naive TypeScript pipeline (process-throughput.ts).
 * 2. Many cameras: N RTSP cameras at 720p25 (GStreamer), the real daemon, a real Mosquitto;
 *    N steps up until a camera falls behind (cameras.ts).
 * 3. Gallery search: top-10 among 10⁴, 10⁵, 10⁶ identities on every search path (gallery-search.ts).
 * 4. A soak: 8 cameras for 30 minutes, the daemon's RSS sampled every 5 s, its drift after warm-up.
 * Plots: <out>-cameras.png (fps and latency against N) and <out>-soak.png (RSS over the soak).
 * `--short` (CI, a few minutes): 40 frames, a 150-frame clip for one process round, 4 and 8
 * cameras for 30 s each, 10⁴ and 10⁵ identities, no soak. Full: the whole clip, 3 rounds.
 * Models from $CROSSCAM_MODELS_DIR (else ../shared/models), video from ../shared.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { type DaemonMemory, runCameraStep, stepCameras, type CameraStepResult } from './cameras.js';
import { measureGallerySearch } from './gallery-search.js';
import { plotCameraSteps, plotSoak, type RssSample } from './plot.js';
import { measureProcessThroughput } from './process-throughput.js';
import { measureVisionCore, VISION_CORE_MODELS } from './vision-core.js';

const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    frames: { type: 'string' },
    threads: { type: 'string', default: '1' },
    'process-frames': { type: 'string' },
    'process-rounds': { type: 'string' },
    cameras: { type: 'string' },
    seconds: { type: 'string' },
    'warm-up': { type: 'string', default: '20' },
    'gallery-sizes': { type: 'string' },
    'gallery-queries': { type: 'string' },
    'soak-minutes': { type: 'string' },
    'soak-cameras': { type: 'string', default: '8' },
    'soak-warm-up': { type: 'string', default: '300' },
    out: { type: 'string', default: 'bench/report' },
  },
});
const frames = Number(args.frames ?? (args.short ? 40 : 150));
const processFrames = Number(args['process-frames'] ?? (args.short ? 150 : 0));
const processRounds = Number(args['process-rounds'] ?? (args.short ? 1 : 3));
const counts = (args.cameras ?? (args.short ? '4,8' : '4,6,8,10,12')).split(',').map(Number);
const seconds = Number(args.seconds ?? (args.short ? 30 : 60));
const gallerySizes = (args['gallery-sizes'] ?? (args.short ? '10000,100000' : '10000,100000,1000000')).split(',').map(Number);
const galleryQueries = Number(args['gallery-queries'] ?? (args.short ? 200 : 1000));
const soakMinutes = Number(args['soak-minutes'] ?? (args.short ? 0 : 30));
const soakCameras = Number(args['soak-cameras']);
const soakWarmUpS = Number(args['soak-warm-up']);
const log = (line: string) => process.stderr.write(`${line}\n`);

const startedAt = new Date().toISOString();
log(`vision core: ${frames} frames, ${args.threads} intra-op thread(s)`);
const core = await measureVisionCore({ frames, threads: Number(args.threads) });
log(`process throughput: ${processFrames > 0 ? `${processFrames} frames` : 'the whole clip'}, ${processRounds} round(s)`);
const throughput = processRounds > 0 ? await measureProcessThroughput({ frames: processFrames, rounds: processRounds, log }) : null;
log(`cameras: steps ${counts.join(', ')}, ${seconds} s each after ${args['warm-up']} s warm-up`);
await mkdir(path.dirname(path.resolve(args.out)), { recursive: true });
const steps = await stepCameras(counts, { seconds, warmUpS: Number(args['warm-up']) }, log);
log(`gallery search: ${gallerySizes.join(', ')} identities, ${galleryQueries} queries per path`);
const gallery = await measureGallerySearch({ sizes: gallerySizes, queries: galleryQueries, fullDimensionUpTo: args.short ? 10_000 : 100_000, log });
const soak = soakMinutes > 0 ? await runSoak() : null;

/** RSS drift: the mean of the last 5 minutes against the mean of the first 5 after warm-up. */
async function runSoak() {
  log(`soak: ${soakCameras} cameras for ${soakMinutes} min after ${soakWarmUpS} s warm-up`);
  const samples: RssSample[] = [];
  const memory: (DaemonMemory & { atS: number })[] = [];
  const step = await runCameraStep({
    cameras: soakCameras,
    seconds: soakMinutes * 60,
    warmUpS: soakWarmUpS,
    onStats: (stats, atS) =>
      samples.push({ atS, rssMb: stats.process.rss_mb, identities: stats.gallery.identities, sightings: stats.gallery.sightings, galleryMb: stats.storage.used_mb }),
    onMemory: (sample, atS) => memory.push({ atS, ...sample }),
  });
  const end = samples.at(-1)?.atS ?? 0;
  // Mean of the 5 minutes after warm-up and of the last 5.
  const ends = <T extends { atS: number }>(list: readonly T[], value: (item: T) => number) => {
    const meanOf = (from: number, to: number) => {
      const inRange = list.filter((item) => item.atS >= from && item.atS < to).map(value);
      return inRange.reduce((a, b) => a + b, 0) / inRange.length;
    };
    return [meanOf(soakWarmUpS, soakWarmUpS + 300), meanOf(end - 300, end + 1)] as const;
  };
  const [afterWarmUpMb, endMb] = ends(samples, (sample) => sample.rssMb);
  const drift = endMb / afterWarmUpMb - 1;
  // RSS apart: native and JS heap memory (a leak shows here) and mapped file pages (LMDB's map, growing with the data).
  const anonymousMb = ends(memory, (sample) => sample.anonymousMb);
  const fileMb = ends(memory, (sample) => sample.fileMb);
  // The gallery at the two ends of the drift window: growth that follows it is data, not a leak.
  const atStart = samples.find((sample) => sample.atS >= soakWarmUpS) ?? samples[0]!;
  const atEnd = samples.at(-1)!;
  const gallery = { identities: [atStart.identities, atEnd.identities], sightings: [atStart.sightings, atEnd.sightings], databaseMb: [atStart.galleryMb, atEnd.galleryMb] };
  const memoryDrift = { anonymousMb, anonymousDrift: anonymousMb[1] / anonymousMb[0] - 1, fileMb };
  log(`soak: RSS ${afterWarmUpMb.toFixed(0)} → ${endMb.toFixed(0)} MiB (${(drift * 100).toFixed(1)} %), anonymous ${anonymousMb.map((mb) => mb.toFixed(0)).join(' → ')} MiB, identities ${gallery.identities.join(' → ')}`);
  return { cameras: soakCameras, minutes: soakMinutes, warmUpS: soakWarmUpS, afterWarmUpMb, endMb, maxMb: Math.max(...samples.map((s) => s.rssMb)), drift, memory: memoryDrift, gallery, step, samples, memorySamples: memory };
}

const held = steps.filter((step) => step.holds);
const largest = held.at(-1);
/**
 * The daemon's own CPU per processed frame (its ffmpeg children left out) against the sum of
 * the stages measured alone at the daemon's workload: a detector run and a tracker update per
 * frame, plus its crops per frame at its mean re-ID batch. Per-crop cost at batch b follows
 * c(b) = a + f/b (a fixed cost per run shared by the batch) through the batch-1 and batch-16
 * figures.
 */
function orchestration(step: CameraStepResult) {
  const detector = step.inference[VISION_CORE_MODELS.detector];
  const reid = step.inference[VISION_CORE_MODELS.reid] ?? { runs: 0, items: 0, seconds: 0 };
  if (!detector || detector.items === 0) return null;
  const { detectorPerFrame, trackerPerFrame, embedPerCrop } = core.stagesCpu;
  const cropsPerFrame = reid.items / detector.items;
  const meanBatch = reid.runs === 0 ? 1 : reid.items / reid.runs;
  const perRunShare = ((embedPerCrop.batch1 - embedPerCrop.batch16) * 16) / 15;
  const embedPerCropAtBatch = embedPerCrop.batch1 - perRunShare * (1 - 1 / Math.min(meanBatch, 16));
  const stagesMsPerFrame = detectorPerFrame + trackerPerFrame + cropsPerFrame * embedPerCropAtBatch;
  const daemonMsPerFrame = ((step.daemonCpuPercent - step.ffmpegCpuPercent) * 10 * step.seconds) / detector.items;
  return { ratio: daemonMsPerFrame / stagesMsPerFrame, daemonMsPerFrame, stagesMsPerFrame, cropsPerFrame, meanBatch };
}
const orchestrationByStep = new Map(steps.map((step) => [step, orchestration(step)]));
for (const step of steps) log(`${step.cameras} cameras: orchestration ${orchestrationCell(step)}`);
const largestOrchestration = largest ? (orchestrationByStep.get(largest) ?? null) : null;
const machine = { cpu: os.cpus()[0]?.model ?? 'cpu', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, onnxruntime: ort.env.versions.node };
const commands = { run: `node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trim(), vision: 'bench/vision-core.ts', process: 'bench/process-throughput.ts', cameras: 'bench/cameras.ts', gallery: 'bench/gallery-search.ts' };
const plots = { cameras: `${args.out}-cameras.png`, soak: soak ? `${args.out}-soak.png` : null };
await plotCameraSteps(steps, plots.cameras);
if (soak) await plotSoak(soak.samples, soak.warmUpS, soak.cameras, plots.soak!);
const report = {
  startedAt,
  machine,
  commands,
  visionCore: core,
  processThroughput: throughput,
  cameras: steps,
  largestCamerasHeld: largest?.cameras ?? 0,
  orchestrationRatio: largestOrchestration?.ratio ?? null,
  orchestration: largestOrchestration,
  gallerySearch: gallery,
  soak,
  plots,
};
const soakSection = soak
  ? `## Soak (${soak.cameras} cameras, ${soak.minutes} min after ${soak.warmUpS} s warm-up)\n\n` +
    `RSS ${soak.afterWarmUpMb.toFixed(0)} MiB (mean of the 5 minutes after warm-up) → ${soak.endMb.toFixed(0)} MiB (mean of the last 5): drift ${(soak.drift * 100).toFixed(1)} % (target ≤ 5 %), max ${soak.maxMb} MiB. ` +
    `Of it, anonymous memory (heaps, native allocations) ${soak.memory.anonymousMb.map((mb) => mb.toFixed(0)).join(' → ')} MiB (${(soak.memory.anonymousDrift * 100).toFixed(1)} %) and mapped file pages (code, LMDB's map) ${soak.memory.fileMb.map((mb) => mb.toFixed(0)).join(' → ')} MiB (/proc/<pid>/smaps_rollup every 30 s). ` +
    `Gallery from the end of the warm-up to the end: ${soak.gallery.identities.join(' → ')} identities, ${soak.gallery.sightings.join(' → ')} sightings, database ${soak.gallery.databaseMb.map((mb) => mb.toFixed(0)).join(' → ')} MiB. ` +
    `Over the soak: fps per camera ${Math.min(...soak.step.perCamera.map((c) => c.fps)).toFixed(2)}–${Math.max(...soak.step.perCamera.map((c) => c.fps)).toFixed(2)}, worst skipped ${(soak.step.maxSkippedFraction * 100).toFixed(1)} %, new sighting p99 ${soak.step.sightingLatencyMs.p99} ms.\n\n![RSS over the soak](${path.basename(plots.soak!)})\n`
  : 'No soak in this run (`--soak-minutes 0` or `--short`).\n';

const processSection = !throughput
  ? '\n\nNo `crosscam process` comparison in this run (`--process-rounds 0`).'
  : `\n\n## \`crosscam process\` against its yardsticks (PETS09-S2L1, ${throughput.frames} frames 768x576, ${throughput.rounds} round(s) in turn, frame loop only)\n\n` +
  `| pipeline | fps, median (min–max) | crops embedded per frame | tracks | command |\n|---|---|---|---|---|\n` +
  throughput.pipelines
    .map((p) => {
      if (p.unavailable) return `| ${p.name} | not measured: ${p.unavailable} | | | \`${p.command}\` |`;
      const fps = p.runs.map((run) => run.fps);
      return `| ${p.name} | ${p.medianFps!.toFixed(1)} (${Math.min(...fps).toFixed(1)}–${Math.max(...fps).toFixed(1)}) | ${p.runs[0]!.cropsPerFrame.toFixed(2)} | ${p.runs[0]!.tracks} | \`${p.command}\` |`;
    })
    .join('\n') +
  '\n\n' +
  throughput.ratios.map((r) => `crosscam / ${r.versus}: ${r.median === null ? 'not measured' : `${r.median.toFixed(2)}× (per round ${r.perRound.map((x) => x.toFixed(2)).join(', ')})`}`).join('. ') +
  '.';

function orchestrationCell(step: CameraStepResult): string {
  const figures = orchestrationByStep.get(step);
  if (!figures) return '–';
  return `${figures.ratio.toFixed(2)} (${figures.daemonMsPerFrame.toFixed(1)} / ${figures.stagesMsPerFrame.toFixed(1)} ms, ${figures.cropsPerFrame.toFixed(2)} crops, batch ${figures.meanBatch.toFixed(1)})`;
}
const cameraRows = steps.map((step) => {
  const fps = step.perCamera.map((c) => c.fps);
  const pipeline = step.perCamera.reduce((sum, c) => sum + c.pipelineMs, 0) / step.perCamera.length;
  return `| ${step.cameras} | ${Math.min(...fps).toFixed(2)}–${Math.max(...fps).toFixed(2)} | ${(step.maxSkippedFraction * 100).toFixed(1)} % | ${pipeline.toFixed(0)} ms | ${step.sightingLatencyMs.p50} / ${step.sightingLatencyMs.p99} ms (${step.sightingLatencyMs.count}) | ${step.machineCpuPercent.toFixed(0)} % (ffmpeg ${step.ffmpegCpuPercent.toFixed(0)} %) | ${step.rssMb} MiB | ${step.majorGcPerS.toFixed(2)} | ${step.holds ? 'holds' : 'falls behind'} | ${orchestrationCell(step)} |`;
});
const markdown =
  `# crosscam benchmark\n\n${startedAt} — ${machine.cpu} × ${machine.cores}, ${machine.memoryGiB} GiB, Node ${machine.node}, onnxruntime-node ${machine.onnxruntime} CPU. Command: \`${commands.run}\`.\n\n` +
  `## Vision core (this thread, ${core.frames} PETS09-S2L1 frames 768x576, ${core.threads} intra-op thread(s), medians)\n\n| step | figure |\n|---|---|\n` +
  core.rows.map(([name, value]) => `| ${name} | ${value} |`).join('\n') +
  processSection +
  `\n\n## Cameras (RTSP 1280x720 H.264 25 fps, detect.fps 5, person re-ID, Mosquitto; ${seconds} s measured after ${args['warm-up']} s)\n\n` +
  `A step holds when every camera processes ≥ 4.9 fps with < 1 % of its frames skipped and the frame → MQTT \`new\` sighting p99 is ≤ 500 ms. ` +
  `Orchestration: the daemon's CPU per processed frame (ffmpeg excluded) / the sum of the stages measured alone above at the daemon's workload ` +
  `(CPU: detector ${core.stagesCpu.detectorPerFrame.toFixed(1)} ms + tracker ${core.stagesCpu.trackerPerFrame.toFixed(2)} ms per frame, plus its crops per frame × the re-ID cost per crop at its mean batch, ` +
  `interpolated as a + f/b between ${core.stagesCpu.embedPerCrop.batch1.toFixed(1)} ms at batch 1 and ${core.stagesCpu.embedPerCrop.batch16.toFixed(1)} ms at 16; crops and batches from its crosscam_inference_* metrics).\n\n` +
  `| cameras | fps per camera (min–max) | skipped (worst camera) | pipeline per frame | new sighting p50 / p99 (count) | machine CPU (of ${machine.cores * 100} %) | RSS | full GCs per s | result | orchestration |\n|---|---|---|---|---|---|---|---|---|---|\n` +
  cameraRows.join('\n') +
  `\n\nLargest step that holds: ${largest ? `${largest.cameras} cameras` : 'none'}.\n\n![fps and latency against cameras](${path.basename(plots.cameras)})\n\n` +
  `## Gallery search (512-d synthetic prototypes of low intrinsic dimension, top-10, one thread; recall@10 against the JS scan)\n\n` +
  `| identities | path | queries | p50 | p99 | recall@10 |\n|---|---|---|---|---|---|\n` +
  gallery
    .flatMap((size) => size.paths.map((p) => `| ${size.identities} | ${p.path} | ${p.queries} | ${p.p50Ms.toFixed(2)} ms | ${p.p99Ms.toFixed(2)} ms | ${p.recallAt10.toFixed(3)} |`))
    .join('\n') +
  `\n\n| identities | gallery open from LMDB (database size) | index load | graph build (background, one thread) | graph space | RSS loaded | RSS with graph |\n|---|---|---|---|---|---|---|\n` +
  gallery
    .map(
      (size) =>
        `| ${size.identities} | ${size.lmdb ? `${size.lmdb.openS.toFixed(1)} s (${size.lmdb.databaseMb} MiB)` : 'not measured'} | ${size.loadS.toFixed(1)} s | ${size.annBuildS.toFixed(1)} s | ${size.annSubspace ? `${size.annSubspace.dimension} principal dimensions, ${(size.annSubspace.varianceKept * 100).toFixed(1)} % of the energy` : `${size.dimension} (as they are)`} | ${size.rssMbLoaded} MiB | ${size.rssMbWithGraph} MiB |`,
    )
    .join('\n') +
  '\n\n' +
  soakSection;
await writeFile(`${args.out}.json`, `${JSON.stringify(report, null, 1)}\n`);
await writeFile(`${args.out}.md`, markdown);
process.stdout.write(`${markdown}\nreport written to ${args.out}.md and ${args.out}.json\n`);
