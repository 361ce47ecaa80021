/**
 * `npm run bench`: one run, one report (bench/report.md and bench/report.json).
 * 1. The vision core on PETS09 frames: every stage alone and the per-frame path (vision-core.ts).
 * 2. Many cameras: N RTSP cameras at 720p25 (GStreamer), the real daemon, a real Mosquitto;
 *    N steps up until a camera falls behind (cameras.ts).
 * `--short` (CI, a few minutes): 40 frames and 4, 8 cameras for 30 s each.
 * Models from $CROSSCAM_MODELS_DIR (else ../shared/models), video from ../shared.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { stepCameras, type CameraStepResult } from './cameras.js';
import { measureVisionCore } from './vision-core.js';

const { values: args } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    frames: { type: 'string' },
    threads: { type: 'string', default: '1' },
    cameras: { type: 'string' },
    seconds: { type: 'string' },
    'warm-up': { type: 'string', default: '20' },
    out: { type: 'string', default: 'bench/report' },
  },
});
const frames = Number(args.frames ?? (args.short ? 40 : 150));
const counts = (args.cameras ?? (args.short ? '4,8' : '4,6,8,10,12')).split(',').map(Number);
const seconds = Number(args.seconds ?? (args.short ? 30 : 60));
const log = (line: string) => process.stderr.write(`${line}\n`);

const startedAt = new Date().toISOString();
log(`vision core: ${frames} frames, ${args.threads} intra-op thread(s)`);
const core = await measureVisionCore({ frames, threads: Number(args.threads) });
log(`cameras: steps ${counts.join(', ')}, ${seconds} s each after ${args['warm-up']} s warm-up`);
const steps = await stepCameras(counts, { seconds, warmUpS: Number(args['warm-up']) }, log);

const held = steps.filter((step) => step.holds);
const largest = held.at(-1);
// The daemon's own CPU per processed frame (its ffmpeg children left out) against the per-frame path alone.
const orchestration = (step: CameraStepResult) => {
  const frames = step.perCamera.reduce((sum, camera) => sum + camera.fps, 0);
  return (step.daemonCpuPercent - step.ffmpegCpuPercent) * 10 / frames / core.pipelineCpuMsPerFrame;
};
const machine = { cpu: os.cpus()[0]?.model ?? 'cpu', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, onnxruntime: ort.env.versions.node };
const commands = { run: `node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trim(), vision: 'bench/vision-core.ts', cameras: 'bench/cameras.ts' };
const report = { startedAt, machine, commands, visionCore: core, cameras: steps, largestCamerasHeld: largest?.cameras ?? 0, orchestrationRatio: largest ? orchestration(largest) : null };

const cameraRows = steps.map((step) => {
  const fps = step.perCamera.map((c) => c.fps);
  const pipeline = step.perCamera.reduce((sum, c) => sum + c.pipelineMs, 0) / step.perCamera.length;
  return `| ${step.cameras} | ${Math.min(...fps).toFixed(2)}–${Math.max(...fps).toFixed(2)} | ${(step.maxSkippedFraction * 100).toFixed(1)} % | ${pipeline.toFixed(0)} ms | ${step.sightingLatencyMs.p50} / ${step.sightingLatencyMs.p99} ms (${step.sightingLatencyMs.count}) | ${step.machineCpuPercent.toFixed(0)} % (ffmpeg ${step.ffmpegCpuPercent.toFixed(0)} %) | ${step.rssMb} MiB | ${step.holds ? 'holds' : 'falls behind'} | ${orchestration(step).toFixed(2)} |`;
});
const markdown =
  `# crosscam benchmark\n\n${startedAt} — ${machine.cpu} × ${machine.cores}, ${machine.memoryGiB} GiB, Node ${machine.node}, onnxruntime-node ${machine.onnxruntime} CPU. Command: \`${commands.run}\`.\n\n` +
  `## Vision core (this thread, ${core.frames} PETS09-S2L1 frames 768x576, ${core.threads} intra-op thread(s), medians)\n\n| step | figure |\n|---|---|\n` +
  core.rows.map(([name, value]) => `| ${name} | ${value} |`).join('\n') +
  `\n\n## Cameras (RTSP 1280x720 H.264 25 fps, detect.fps 5, person re-ID, Mosquitto; ${seconds} s measured after ${args['warm-up']} s)\n\n` +
  `A step holds when every camera processes ≥ 4.9 fps with < 1 % of its frames skipped and the frame → MQTT \`new\` sighting p99 is ≤ 500 ms. ` +
  `Orchestration: the daemon's CPU per processed frame (ffmpeg excluded) / the per-frame path alone (${core.pipelineCpuMsPerFrame.toFixed(1)} CPU ms, ${core.cropsPerFrame.toFixed(2)} crops per frame).\n\n` +
  `| cameras | fps per camera (min–max) | skipped (worst camera) | pipeline per frame | new sighting p50 / p99 (count) | machine CPU (of ${machine.cores * 100} %) | RSS | result | orchestration |\n|---|---|---|---|---|---|---|---|---|\n` +
  cameraRows.join('\n') +
  `\n\nLargest step that holds: ${largest ? `${largest.cameras} cameras` : 'none'}.\n`;
await writeFile(`${args.out}.json`, `${JSON.stringify(report, null, 1)}\n`);
await writeFile(`${args.out}.md`, markdown);
process.stdout.write(`${markdown}\nreport written to ${args.out}.md and ${args.out}.json\n`);
