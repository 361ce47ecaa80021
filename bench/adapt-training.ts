/**
 * Time of one on-site adaptation epoch at the scale the trainer takes: 5000 training tracks of
 * 512-d embeddings with two halves each (10⁴ training embeddings) on 4 cameras, synthetic (people
 * seen by several cameras, each camera with its own offset and cast), with the defaults of the
 * `adapt` section and with every loss term on. Reports the seconds of the first epoch (with the
 * pair directions it starts from), of the pseudo-label step alone (O(n²) similarities; every
 * epoch when L_s or L_c is on, skipped otherwise) and of the held-out check.
 * With --cameras N: the daemon on N RTSP cameras (bench/cameras.ts) measured alone, then while
 * training runs over and over in a worker thread at the `adapt.nice` value, as the daemon's own
 * training thread does: the cameras' fps during a training run.
 * Standalone: node dist/bench/adapt-training.js [--tracks N] [--cameras N --seconds S]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { runCameraStep } from './cameras.js';
import { adaptedProjection, scoreProjection } from '../src/adapt/adapter-check.js';
import { clusterTracks, entropySplit } from '../src/adapt/pseudo-labels.js';
import { forward, trainAdapter, trainingOptionsFrom, type AdaptationTrack } from '../src/adapt/trainer.js';
import { adaptSchema } from '../src/config/adapt-schema.js';
import { gaussianRandom, uniformRandom } from '../src/core/random.js';
import { normaliseInPlace } from '../src/core/vectors.js';

const DIMENSION = 512;
const CAMERAS = 4;

export function syntheticSite(trackCount: number, seed = 3): AdaptationTrack[] {
  const normal = gaussianRandom(uniformRandom(seed));
  const vector = (scale: number) => Float32Array.from({ length: DIMENSION }, () => scale * normal());
  const offsets = Array.from({ length: CAMERAS }, () => vector(0.6 / Math.sqrt(DIMENSION)));
  const casts = Array.from({ length: CAMERAS }, () => normaliseInPlace(vector(1)));
  const people = Array.from({ length: Math.ceil(trackCount / 3) }, () => normaliseInPlace(vector(1)));
  const tracks: AdaptationTrack[] = [];
  for (let i = 0; i < trackCount; i++) {
    const person = people[i % people.length]!;
    const camera = Math.floor(normal() ** 2 * 1000) % CAMERAS;
    const seen = () => {
      const cast = 0.5 * normal();
      return normaliseInPlace(Float32Array.from(person, (x, t) => x + 0.05 * normal() + offsets[camera]![t]! + cast * casts[camera]![t]!));
    };
    const halves: [Float32Array, Float32Array] = [seen(), seen()];
    const startMs = i * 2000;
    tracks.push({ key: `cam${camera}#${i}`, cameraId: `cam${camera}`, startMs, endMs: startMs + 1500, embedding: normaliseInPlace(Float32Array.from(halves[0], (x, t) => x + halves[1][t]!)), halves });
  }
  return tracks;
}

/**
 * One epoch on `tracks` training tracks (two embeddings each) with the given loss weights, and
 * the held-out check on a third as many more.
 */
export function measureAdaptationTraining(options: { tracks: number; lossWeights?: { sample: number; cluster: number; align: number } }) {
  const config = adaptSchema.parse({ max_tracks: 5000, ...(options.lossWeights ? { loss_weights: options.lossWeights } : {}) });
  const training = syntheticSite(options.tracks);
  const heldOut = syntheticSite(Math.round(options.tracks / (config.held_out_every - 1)), 4);
  const offsetOf = () => undefined;
  const settings = trainingOptionsFrom(config);
  // The pseudo-label step alone (what each epoch with L_s or L_c starts with), on the identity adapter's features.
  const u = new Float64Array(DIMENSION * settings.rank);
  const v = new Float64Array(DIMENSION * settings.rank);
  const inputs = { count: training.length, dimension: DIMENSION, data: new Float64Array(training.length * DIMENSION) };
  training.forEach((track, i) => inputs.data.set(track.embedding, i * DIMENSION));
  let started = performance.now();
  const features = forward(u, v, settings.rank, inputs).features;
  const clusters = clusterTracks(features, training, settings.clustering);
  entropySplit(features, clusters, settings.entropySplit);
  const pseudoLabelsS = (performance.now() - started) / 1000;
  started = performance.now();
  const { adapter, epochs } = trainAdapter(training, offsetOf, { ...settings, epochs: 1 });
  const epochS = (performance.now() - started) / 1000;
  started = performance.now();
  scoreProjection(heldOut, adaptedProjection(offsetOf, adapter), adaptedProjection(offsetOf), settings.clustering.similarity);
  const checkS = (performance.now() - started) / 1000;
  return {
    tracks: training.length,
    embeddings: training.length * 2,
    heldOut: heldOut.length,
    lossWeights: settings.weights,
    stepsPerEpoch: settings.stepsPerEpoch,
    batch: settings.batch.identities * settings.batch.samplesPerIdentity,
    pseudoIdentities: epochs[0]!.pseudoIdentities,
    pseudoLabelsS,
    epochS,
    checkS,
  };
}

/** The cameras alone, then with training looping in a niced worker thread; epochs trained during the second. */
export async function measureCamerasDuringTraining(options: { cameras: number; seconds: number; warmUpS: number; tracks: number }) {
  const alone = await runCameraStep({ cameras: options.cameras, seconds: options.seconds, warmUpS: options.warmUpS });
  const nice = adaptSchema.parse({}).nice;
  const worker = new Worker(new URL(import.meta.url), { workerData: { tracks: options.tracks, nice } });
  let epochs = 0;
  worker.on('message', () => (epochs += 1));
  try {
    const training = await runCameraStep({ cameras: options.cameras, seconds: options.seconds, warmUpS: options.warmUpS });
    return { nice, trainingTracks: options.tracks, epochsDuringRun: epochs, alone, training };
  } finally {
    await worker.terminate();
  }
}

if (!isMainThread) {
  const { tracks, nice } = workerData as { tracks: number; nice: number };
  os.setPriority(0, nice);
  for (;;) {
    measureAdaptationTraining({ tracks });
    parentPort!.postMessage('epoch');
  }
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { tracks: { type: 'string', default: '5000' }, cameras: { type: 'string' }, seconds: { type: 'string', default: '60' }, 'warm-up': { type: 'string', default: '20' } } });
  const result =
    values.cameras === undefined
      ? [measureAdaptationTraining({ tracks: Number(values.tracks) }), measureAdaptationTraining({ tracks: Number(values.tracks), lossWeights: { sample: 1, cluster: 1, align: 1 } })]
      : await measureCamerasDuringTraining({ cameras: Number(values.cameras), seconds: Number(values.seconds), warmUpS: Number(values['warm-up']), tracks: Number(values.tracks) });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
