/**
 * The report's plots as PNG: Vega-Lite specs rendered to SVG headless (no canvas needed),
 * rasterised by sharp.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import sharp from 'sharp';
import type { CameraStepResult } from './cameras.js';

export interface RssSample {
  atS: number;
  rssMb: number;
  /** What the daemon holds at that moment: the gallery grows as the cameras keep seeing people. */
  identities: number;
  sightings: number;
  galleryMb: number;
}

async function writePng(spec: TopLevelSpec, file: string): Promise<void> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG(2);
  view.finalize();
  await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).png().toFile(file);
}

/** Processed fps of every camera, and the new-sighting latency p50/p99, against the number of cameras. */
export function plotCameraSteps(steps: readonly CameraStepResult[], file: string): Promise<void> {
  const fps = steps.flatMap((step) => step.perCamera.map((camera) => ({ cameras: step.cameras, camera: camera.camera, fps: camera.fps })));
  const latency = steps.flatMap((step) => [
    { cameras: step.cameras, figure: 'p50', ms: step.sightingLatencyMs.p50 },
    { cameras: step.cameras, figure: 'p99', ms: step.sightingLatencyMs.p99 },
  ]);
  const x = { field: 'cameras', type: 'quantitative', title: 'cameras', scale: { zero: false }, axis: { tickMinStep: 1 } } as const;
  return writePng(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: 'RTSP 720p25 cameras, detect.fps 5',
      hconcat: [
        {
          width: 320,
          height: 220,
          data: { values: fps },
          layer: [
            { mark: { type: 'point', filled: true, opacity: 0.6 }, encoding: { x, y: { field: 'fps', type: 'quantitative', title: 'processed fps per camera', scale: { domain: [0, 5.5] } } } },
            { mark: { type: 'rule', strokeDash: [4, 4], color: 'firebrick' }, encoding: { y: { datum: 4.9 } } },
          ],
        },
        {
          width: 320,
          height: 220,
          data: { values: latency },
          layer: [
            {
              mark: { type: 'line', point: true },
              encoding: { x, y: { field: 'ms', type: 'quantitative', title: 'frame → MQTT new sighting (ms)' }, color: { field: 'figure', type: 'nominal', title: null } },
            },
            { mark: { type: 'rule', strokeDash: [4, 4], color: 'firebrick' }, encoding: { y: { datum: 500 } } },
          ],
        },
      ],
    },
    file,
  );
}

/** The daemon's RSS over a soak (left axis) and the gallery's identities (right axis), the end of the warm-up marked. */
export function plotSoak(samples: readonly RssSample[], warmUpS: number, cameras: number, file: string): Promise<void> {
  const minutes = { field: 'minutes', type: 'quantitative', title: 'minutes since start' } as const;
  return writePng(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: `Daemon RSS (blue) and gallery identities (red) over the soak (${cameras} cameras)`,
      width: 640,
      height: 240,
      data: { values: samples.map((sample) => ({ minutes: sample.atS / 60, rss: sample.rssMb, identities: sample.identities })) },
      layer: [
        { mark: 'line', encoding: { x: minutes, y: { field: 'rss', type: 'quantitative', title: 'RSS (MiB)', scale: { zero: false } } } },
        { mark: { type: 'line', color: '#e45756' }, encoding: { x: minutes, y: { field: 'identities', type: 'quantitative', title: 'identities', axis: { titleColor: '#e45756' } } } },
        { mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' }, encoding: { x: { datum: warmUpS / 60 } } },
      ],
      resolve: { scale: { y: 'independent' } },
    },
    file,
  );
}
