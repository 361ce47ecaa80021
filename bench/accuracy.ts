/**
 * `npm run accuracy`: the cross-camera ablation of docs/accuracy.md, from `crosscam eval crosscam`.
 * For each scene (PETS09-S2L1 split left/right and top/bottom, each plain and with the camera
 * shift), the vision stages run once (--save-tracks) and every matcher row replays the same tracks
 * (--from-tracks), with and without the adjacency link between the two halves. Then on-site
 * adaptation on the same tracks: before it (no centring), camera centring alone, the adapter
 * (`crosscam adapt train` on the recorded, unlabelled tracks, then `eval crosscam --adapter`), and
 * the adapter with each of its parts switched. Writes bench/accuracy-report.md (the tables, with
 * every command) and bench/accuracy-report.json.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { CrossCameraReport } from '../src/eval/cross-camera-eval.js';
import { PETS_GT, PETS_VIDEO } from '../test/support/shared-data.js';

const run = promisify(execFile);
const { values: args } = parseArgs({ options: { out: { type: 'string', default: 'bench/accuracy-report' } } });

/** The colour, light and sharpness difference of the issue that found matches vanish. */
export const SHIFT = 'eq=brightness=-0.12:saturation=0.5:gamma=1.3,colorbalance=rs=-0.2:bs=0.25,gblur=sigma=1.2';
const CLI = 'node dist/src/cli/main.js';
const VIDEO = path.relative(process.cwd(), PETS_VIDEO);
const GT = path.relative(process.cwd(), PETS_GT);

const SCENES = [
  { name: 'PETS09 left | right', split: ['--split-x', '0.5'] },
  { name: 'PETS09 left | right, right shifted', split: ['--split-x', '0.5', '--shift', SHIFT] },
  { name: 'PETS09 top / bottom', split: ['--split-y', '0.5'] },
  { name: 'PETS09 top / bottom, bottom shifted', split: ['--split-y', '0.5', '--shift', SHIFT] },
];

/** Cumulative rows: each adds one component to the one above; the last is the shipped defaults. */
const ROWS: { name: string; set: string[] }[] = [
  {
    name: "matcher before this work (raw cosine 0.8, margin 0.05, merge 0.85, early decisions)",
    set: [
      'features.camera_centring.enabled=false',
      'features.pair_calibration.enabled=false',
      'matching.classes.person.threshold=0.8',
      'matching.merge_threshold=0.85',
      'matching.views.weight=0',
      'matching.runner_up.skip_likely_same=false',
      'matching.online_merge=false',
      'matching.decide_early=true',
    ],
  },
  {
    name: '+ camera centring and pair calibration (threshold 0.4)',
    set: ['matching.merge_threshold=0.85', 'matching.runner_up.skip_likely_same=false', 'matching.online_merge=false', 'matching.decide_early=true'],
  },
  {
    name: '+ multi-view identities (views weight 0.5)',
    set: ['matching.views.weight=0.5', 'matching.merge_threshold=0.85', 'matching.runner_up.skip_likely_same=false', 'matching.online_merge=false', 'matching.decide_early=true'],
  },
  { name: '+ runner-up rule (merge threshold 0.6)', set: ['matching.views.weight=0.5', 'matching.online_merge=false', 'matching.decide_early=true'] },
  { name: '+ online merges', set: ['matching.views.weight=0.5', 'matching.decide_early=true'] },
  { name: '+ decisions at the end of tracks', set: ['matching.views.weight=0.5'] },
  { name: 'the defaults: without views (weight 0)', set: [] },
];
const TOPOLOGIES = [
  { name: 'no topology (the defaults: any camera within 10 min)', flags: [] as string[] },
  { name: 'adjacent views (--transit -5:10, as config/demo.yaml)', flags: ['--transit', '-5:10'] },
];

/** The adapter's ablation: each row trains with these `adapt` settings (the first are the defaults). */
const ADAPTER_ROWS: { name: string; set: string[] }[] = [
  { name: 'adapter (defaults: 2 pair directions, then L_align)', set: [] },
  { name: 'adapter without pair directions (L_align alone)', set: ['adapt.pair_directions=0'] },
  { name: 'adapter without L_align (pair directions alone)', set: ['adapt.loss_weights.align=0'] },
  { name: 'adapter + L_s', set: ['adapt.loss_weights.sample=1'] },
  { name: 'adapter + L_c', set: ['adapt.loss_weights.cluster=1'] },
  { name: 'adapter + L_s + L_c (every seed-000 term)', set: ['adapt.loss_weights.sample=1', 'adapt.loss_weights.cluster=1'] },
  { name: 'every term, uniform identity sampling', set: ['adapt.loss_weights.sample=1', 'adapt.loss_weights.cluster=1', 'adapt.hard_identity_sampling=false'] },
  { name: 'every term, no entropy weighting', set: ['adapt.loss_weights.sample=1', 'adapt.loss_weights.cluster=1', 'adapt.entropy_split.enabled=false'] },
];

interface TrainOutcome {
  beatsBaseline: boolean;
  candidate: { cameraMixing: number; selfConsistency: number; pairAgreement: number };
  baseline: { cameraMixing: number; selfConsistency: number; pairAgreement: number };
}

const quote = (arg: string) => (/^[\w./:=,-]+$/.test(arg) ? arg : `'${arg}'`);
const dir = await mkdtemp(path.join(os.tmpdir(), 'crosscam-accuracy-'));
const results: { scene: string; topology: string; row: string; command: string; report: CrossCameraReport }[] = [];
const f = (v: number) => (Number.isNaN(v) ? 'n/a' : v.toFixed(2));
let markdown = `# Cross-camera ablation\n\n${new Date().toISOString()}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}.\n\n`;
try {
  for (const [i, scene] of SCENES.entries()) {
    const tracks = path.join(dir, `scene-${i}.json`);
    // Early-decision events are recorded too, so that the rows that decide early can replay them.
    const record = ['eval', 'crosscam', '--video', VIDEO, '--gt', GT, ...scene.split, '--set', 'matching.decide_early=true', '--save-tracks', tracks, '--json'];
    const started = performance.now();
    await run('node', ['dist/src/cli/main.js', ...record], { maxBuffer: 64 << 20 });
    const visionS = (performance.now() - started) / 1000;
    markdown += `## ${scene.name}\n\nVision stages once (${visionS.toFixed(0)} s): \`${CLI} ${record.map(quote).join(' ').replace(tracks, 'TRACKS.json')}\`\n\n`;
    for (const topology of TOPOLOGIES) {
      markdown += `${topology.name}:\n\n| row | precision | recall | F1 | AUC | purity | fragmentation | matches (correct) | identities |\n|---|---|---|---|---|---|---|---|---|\n`;
      let reference: CrossCameraReport['reference'];
      for (const row of ROWS) {
        const last = row === ROWS.at(-1);
        const argv = ['eval', 'crosscam', '--video', VIDEO, '--gt', GT, '--from-tracks', tracks, ...topology.flags, ...row.set.flatMap((s) => ['--set', s]), ...(last ? ['--reference'] : []), '--json'];
        const { stdout } = await run('node', ['dist/src/cli/main.js', ...argv], { maxBuffer: 64 << 20 });
        const report = JSON.parse(stdout) as CrossCameraReport;
        const command = `${CLI} ${argv.map(quote).join(' ').replace(tracks, 'TRACKS.json')}`;
        results.push({ scene: scene.name, topology: topology.name, row: row.name, command, report });
        reference ??= report.reference;
        markdown += `| ${row.name} | ${f(report.precision)} | ${f(report.recall)} (${report.links}/${report.gtLinks}) | ${f(report.f1)} | ${f(report.auc)} | ${f(report.purity)} | ${f(report.fragmentation)} | ${report.matches} (${report.correctMatches}) | ${report.identities} |\n`;
      }
      const best = reference?.best;
      markdown += `\nNearest-track reference (each track linked to its nearest earlier track of the other camera; camera means over the whole run, final embeddings): AUC ${f(reference?.auc ?? NaN)}, ${best ? `best F1 at precision ≥ 0.9 ${f(best.f1)} (P ${f(best.precision)}, R ${f(best.recall)}, threshold ${best.threshold}, margin ${best.margin})` : 'no threshold reaches precision 0.9'}.\n\n`;
    }
    markdown += await adaptationTable(scene.name, tracks);
  }
  markdown += '## Commands\n\n' + results.map((r) => `- ${r.scene}, ${r.topology}, ${r.row}:\n  \`${r.command}\``).join('\n') + '\n';
} finally {
  await rm(dir, { recursive: true, force: true });
}
/**
 * On-site adaptation on one scene's recorded tracks (the shipped matcher, no topology): before it,
 * centring alone, then each adapter row trained on the unlabelled tracks and measured.
 */
async function adaptationTable(sceneName: string, tracks: string): Promise<string> {
  let table =
    'on-site adaptation (trained on this recording\'s unlabelled tracks; activated: what the held-out check decided, camera mixing / self-consistency / pair agreement of the candidate):\n\n' +
    '| row | precision | recall | F1 | AUC | purity | fragmentation | activated (held-out figures) |\n|---|---|---|---|---|---|---|---|\n';
  const evaluate = async (name: string, extra: string[], outcome?: TrainOutcome, trainCommand?: string) => {
    const argv = ['eval', 'crosscam', '--video', VIDEO, '--gt', GT, '--from-tracks', tracks, ...extra, '--json'];
    const { stdout } = await run('node', ['dist/src/cli/main.js', ...argv], { maxBuffer: 64 << 20 });
    const report = JSON.parse(stdout) as CrossCameraReport;
    const command = `${trainCommand ? `${trainCommand} && ` : ''}${CLI} ${argv.map(quote).join(' ').replace(tracks, 'TRACKS.json')}`;
    results.push({ scene: sceneName, topology: 'on-site adaptation', row: name, command, report });
    const check = outcome
      ? `${outcome.beatsBaseline ? 'yes' : 'no'} (${outcome.candidate.cameraMixing.toFixed(2)} / ${outcome.candidate.selfConsistency.toFixed(2)} / ${outcome.candidate.pairAgreement.toFixed(2)} against ${outcome.baseline.cameraMixing.toFixed(2)} / ${outcome.baseline.selfConsistency.toFixed(2)} / ${outcome.baseline.pairAgreement.toFixed(2)})`
      : '';
    table += `| ${name} | ${f(report.precision)} | ${f(report.recall)} (${report.links}/${report.gtLinks}) | ${f(report.f1)} | ${f(report.auc)} | ${f(report.purity)} | ${f(report.fragmentation)} | ${check} |\n`;
  };
  await evaluate('before adaptation (no camera centring, no pair calibration)', ['--set', 'features.camera_centring.enabled=false', '--set', 'features.pair_calibration.enabled=false']);
  await evaluate('camera centring alone (the matcher\'s defaults)', []);
  for (const [i, row] of ADAPTER_ROWS.entries()) {
    const adapter = path.join(dir, `adapter-${i}.json`);
    const train = ['adapt', 'train', '--from-tracks', tracks, '--out', adapter, ...row.set.flatMap((s) => ['--set', s]), '--json'];
    const { stdout } = await run('node', ['dist/src/cli/main.js', ...train], { maxBuffer: 64 << 20 });
    const trainCommand = `${CLI} ${train.map(quote).join(' ').replace(tracks, 'TRACKS.json').replace(adapter, 'ADAPTER.json')}`;
    await evaluate(row.name, ['--adapter', adapter], JSON.parse(stdout) as TrainOutcome, trainCommand);
    results.at(-1)!.command = results.at(-1)!.command.replace(adapter, 'ADAPTER.json');
  }
  return `${table}\n`;
}

await writeFile(`${args.out}.md`, markdown);
await writeFile(`${args.out}.json`, JSON.stringify(results.map(({ report: { matchList: _list, ...figures }, ...rest }) => ({ ...rest, figures })), null, 2));
process.stdout.write(`${markdown}\nwritten to ${args.out}.md and .json\n`);
