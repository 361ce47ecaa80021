/**
 * `npm run bench:daemon`: the daemon on the demo config (two virtual cameras, the halves of
 * PETS09-S2L1, 5 fps, real time) for one loop of the video. Reports per-camera processed
 * fps, CPU use of the daemon with its ffmpeg children, frame-to-MQTT latency of sightings,
 * and the matches of the first loop scored against gt.txt. Writes bench/daemon-report.md.
 * With --adapt-after S: at S seconds `crosscam adapt run` trains on what the daemon logged (as
 * the nightly run would) and the matches of the second loop, which the daemon makes with the
 * outcome, are scored too (run the same --seconds without it for the comparison).
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { scoreMatch } from '../src/eval/cross-camera.js';
import { groupByFrame, readMotFile } from '../src/eval/mot-ground-truth.js';
import type { MatchMessage, SightingMessage, StatsMessage } from '../src/publish/messages.js';
import { percentile } from './cameras.js';
import { CLI_PATH, startDaemon } from '../test/support/daemon-process.js';
import { collectMqtt } from '../test/support/mqtt-collector.js';
import { freePort } from '../test/support/ports.js';
import { groupProcesses } from '../test/support/process-group.js';
import { PETS_GT, PETS_VIDEO } from '../test/support/shared-data.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '90' },
    out: { type: 'string', default: 'bench/daemon-report.md' },
    config: { type: 'string', default: 'config/demo.yaml' },
    // ffmpeg filter through which the right camera sees (another camera's colour, light, sharpness).
    shift: { type: 'string' },
    'adapt-after': { type: 'string' },
  },
});
const runSeconds = Number(args.seconds);
const LOOP_S = 79.5; // 795 frames at 10 fps
const WARM_UP_S = 15;
const CAMERAS = { left: { offsetX: 0, offsetY: 0 }, right: { offsetX: 384, offsetY: 0 } };

/** utime + stime (clock ticks) of every process in the daemon's process group. */
function groupCpuTicks(pgid: number): number {
  return groupProcesses(pgid).reduce((ticks, process) => ticks + process.cpuTicks, 0);
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);

const demo = parseYaml(await readFile(args.config, 'utf8')) as Record<string, Record<string, unknown>>;
const port = await freePort();
const galleryDir = mkdtempSync(path.join(os.tmpdir(), 'crosscam-bench-gallery-'));
const shiftedCameras = (demo.cameras as unknown as { id: string; ffmpeg?: { filter?: string } }[]).map((camera) =>
  camera.id === 'right' && args.shift ? { ...camera, ffmpeg: { ...camera.ffmpeg, filter: [camera.ffmpeg?.filter, args.shift].filter(Boolean).join(',') } } : camera,
);
const config = {
  ...demo,
  cameras: shiftedCameras,
  mqtt: { ...demo.mqtt, url: `mqtt://127.0.0.1:${port}`, stats_interval_s: 5, embedded_broker: { enabled: true, host: '127.0.0.1', port } },
  gallery: { ...demo.gallery, path: galleryDir },
};
const daemon = startDaemon({ config, env: { CROSSCAM_DEMO_VIDEO: PETS_VIDEO } });
let report = '';
try {
  await daemon.waitForLog((line) => /^crosscam running/.test(String(line.msg)), 60_000);
  const collector = await collectMqtt({ url: `mqtt://127.0.0.1:${port}`, topics: ['crosscam/demo/#'], protocolVersion: 4 });
  const startedAt = Date.now();
  let cpuStart = 0;
  let cpuStartAt = 0;
  setTimeout(async () => {
    cpuStart = groupCpuTicks(daemon.pid);
    cpuStartAt = Date.now();
  }, WARM_UP_S * 1000);
  let adaptation: { atS: number; outcome: string } | undefined;
  const adaptAfterS = args['adapt-after'] === undefined ? undefined : Number(args['adapt-after']);
  if (adaptAfterS !== undefined) {
    await new Promise((resolve) => setTimeout(resolve, adaptAfterS * 1000));
    const run = spawnSync(process.execPath, [CLI_PATH, 'adapt', 'run', '--config', daemon.configFile], { encoding: 'utf8', env: { ...process.env, CROSSCAM_DEMO_VIDEO: PETS_VIDEO } });
    adaptation = { atS: (Date.now() - startedAt) / 1000, outcome: (run.stdout || run.stderr).trim() };
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, runSeconds * 1000 - (Date.now() - startedAt))));
  const cpuTicks = groupCpuTicks(daemon.pid) - cpuStart;
  const cpuPercent = (cpuTicks / 100 / ((Date.now() - cpuStartAt) / 1000)) * 100; // USER_HZ = 100 on Linux
  await collector.close();

  const messages = collector.messages.filter((m) => !m.retained);
  const stats = messages.filter((m) => m.topic.endsWith('/stats') && m.receivedAt - startedAt > WARM_UP_S * 1000).map((m) => m.payload as StatsMessage);
  const cameraFps = (camera: string) => mean(stats.flatMap((s) => s.cameras.filter((c) => c.camera === camera).map((c) => c.fps)));
  const cameraLatency = (camera: string) => mean(stats.flatMap((s) => s.cameras.filter((c) => c.camera === camera && c.latency_ms !== null).map((c) => c.latency_ms!)));
  const skipped = (camera: string) => stats.at(-1)?.cameras.find((c) => c.camera === camera)?.skipped ?? 0;
  const sightingLatency = messages
    .filter((m) => m.topic.endsWith('/sightings') && (m.payload as SightingMessage).type === 'new')
    .map((m) => m.receivedAt - Date.parse((m.payload as SightingMessage).last_seen));

  const gt = groupByFrame(await readMotFile(PETS_GT));
  const matches = messages.filter((m) => m.topic.endsWith('/matches')).map((m) => m.payload as MatchMessage);
  const firstLoop = matches.filter((m) => m.sighting.pts <= LOOP_S);
  const scored = firstLoop.map((m) => ({ m, score: scoreMatch(m, gt, CAMERAS, { fps: 10, frames: 795 }) }));
  const correct = scored.filter((s) => s.score.correct);
  const correctOverall = matches.filter((m) => scoreMatch(m, gt, CAMERAS, { fps: 10, frames: 795 }).correct).length;
  // The second loop (media time of the sighting in (79.5, 159] s), whose matches come after --adapt-after.
  const secondLoop = matches.filter((m) => m.sighting.pts > LOOP_S && m.sighting.pts <= 2 * LOOP_S);
  const secondCorrect = secondLoop.filter((m) => scoreMatch(m, gt, CAMERAS, { fps: 10, frames: 795 }).correct);
  const secondFound = new Set(secondCorrect.map((m) => scoreMatch(m, gt, CAMERAS, { fps: 10, frames: 795 }).sightingIdentity)).size;
  // Ground-truth people seen on both halves: the cross-camera identities there are to find.
  const sides = new Map<number, Set<string>>();
  for (const records of gt.values()) for (const r of records) if (r.consider) sides.set(r.id, (sides.get(r.id) ?? new Set()).add((r.box.x1 + r.box.x2) / 2 < 384 ? 'left' : 'right'));
  const crossingIdentities = [...sides.values()].filter((s) => s.size === 2).length;
  const foundIdentities = new Set(correct.map((s) => s.score.sightingIdentity)).size;
  const firstMatchS = matches.length > 0 ? (Date.parse(matches[0].time) - startedAt) / 1000 : NaN;

  const rows: [string, string][] = [
    ['processed fps, camera left / right (target 5)', `${cameraFps('left').toFixed(2)} / ${cameraFps('right').toFixed(2)}`],
    ['frames skipped (newest frame wins), left / right', `${skipped('left')} / ${skipped('right')}`],
    ['CPU, daemon + its ffmpeg processes (2 cores = 200 %)', `${cpuPercent.toFixed(0)} %`],
    ['pipeline latency, frame received → processed (mean)', `${cameraLatency('left').toFixed(0)} / ${cameraLatency('right').toFixed(0)} ms`],
    ['frame-to-MQTT latency of `new` sightings (median / p95)', `${percentile(sightingLatency, 0.5)} / ${percentile(sightingLatency, 0.95)} ms (${sightingLatency.length} sightings)`],
    ['first match after start', `${firstMatchS.toFixed(1)} s`],
    ['matches in the first loop (79.5 s of video)', String(firstLoop.length)],
    ['of which correct against gt.txt (both sides IoU ≥ 0.5 on one identity)', `${correct.length} (precision ${(correct.length / Math.max(firstLoop.length, 1)).toFixed(2)})`],
    ['ground-truth people seen on both halves / found by a correct match', `${crossingIdentities} / ${foundIdentities}`],
    [`matches over the whole run (${runSeconds} s, video looping) / correct`, `${matches.length} / ${correctOverall}`],
    ...(runSeconds > 2 * LOOP_S
      ? ([[`matches in the second loop${adaptation ? ' (after crosscam adapt run)' : ''} / correct / people found`, `${secondLoop.length} / ${secondCorrect.length} / ${secondFound}`]] as [string, string][])
      : []),
    ...(adaptation ? ([[`crosscam adapt run at ${adaptation.atS.toFixed(0)} s`, adaptation.outcome.replace(/\n\s*/g, '; ')]] as [string, string][]) : []),
  ];
  report =
    `# crosscam daemon benchmark\n\n${new Date().toISOString()} — ${args.config} (two halves of PETS09-S2L1 at 5 fps, real time, embedded broker), ` +
    `${runSeconds} s run${args.shift ? `, right camera through ${args.shift}` : ''}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}.\n\n` +
    `| figure | value |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n\n` +
    `Matches of the first loop (sighting ← matched, ground-truth ids):\n\n` +
    scored.map(({ m, score }) => `- ${m.identity}: ${m.sighting.camera}#${m.sighting.track_id} (${score.sightingIdentity ?? '-'}) ← ${m.matched?.camera}#${m.matched?.track_id} (${score.matchedIdentity ?? '-'}), similarity ${m.similarity}, ${score.correct ? 'correct' : 'WRONG'}`).join('\n') +
    '\n';
} finally {
  await daemon.stop('SIGTERM', 30_000).catch(() => undefined);
  await daemon.dispose();
  await rm(galleryDir, { recursive: true, force: true });
}
await writeFile(args.out, report);
process.stdout.write(`${report}\nreport written to ${args.out}\n`);
