/**
 * Re-ID ranking evaluation on a video with MOT ground truth: one pass over the
 * video embeds the protocol's query and gallery crops through the product's own
 * crop/embed path, then the gallery is ranked for every query.
 */
import type { Embedder } from '../embed/embedder.js';
import { readFfmpegFrames } from '../ingest/ffmpeg-frames.js';
import type { MotRecord } from './mot-ground-truth.js';
import { evaluateRanking, type LabelledEmbedding } from './reid-metrics.js';
import { samplesByFrame, selectReidSamples, type ReidProtocolOptions } from './reid-protocol.js';

export interface ReidEvaluationOptions {
  videoPath: string;
  /** Ground-truth rows of the video (MOT frame n+1 = decoded frame n). */
  records: readonly MotRecord[];
  embedder: Pick<Embedder, 'embed'>;
  protocol: Omit<ReidProtocolOptions, 'frameWidth' | 'frameHeight'>;
  /** Called after each decoded frame up to the last one the protocol needs. */
  onProgress?: (frame: number, lastFrame: number) => void;
}

export interface ReidEvaluationResult {
  mAP: number;
  rank1: number;
  rank5: number;
  rank10: number;
  /** Queries scored (with a true match in the gallery). */
  queries: number;
  gallery: number;
}

export async function runReidEvaluation(options: ReidEvaluationOptions): Promise<ReidEvaluationResult> {
  const queries: LabelledEmbedding[] = [];
  const gallery: LabelledEmbedding[] = [];
  let plan: ReturnType<typeof samplesByFrame> | undefined;
  let lastFrame = 0;
  let decodedUpTo = 0;
  for await (const frame of readFfmpegFrames({ url: options.videoPath, cameraId: 'reid-eval' })) {
    if (!plan) {
      // The split clips boxes to the frame, so it waits for the first frame's size.
      plan = samplesByFrame(selectReidSamples(options.records, { ...options.protocol, frameWidth: frame.width, frameHeight: frame.height }));
      lastFrame = Math.max(0, ...plan.keys());
    }
    const motFrame = frame.index + 1;
    decodedUpTo = motFrame;
    const wanted = plan.get(motFrame);
    if (wanted) {
      const embeddings = await options.embedder.embed(
        frame,
        wanted.map((w) => w.sample.box),
        { cameraIndex: 0 },
      );
      wanted.forEach(({ sample, role }, i) => (role === 'query' ? queries : gallery).push({ identity: sample.identity, embedding: embeddings[i]!.embedding }));
    }
    options.onProgress?.(Math.min(motFrame, lastFrame), lastFrame);
    if (motFrame >= lastFrame) break;
  }
  if (!plan) throw new Error(`no frames decoded from ${options.videoPath}`);
  if (decodedUpTo < lastFrame) throw new Error(`${options.videoPath} ended at frame ${decodedUpTo}, the ground truth needs frame ${lastFrame}`);
  const ranking = evaluateRanking(queries, gallery, 10);
  return { mAP: ranking.mAP, rank1: ranking.cmc[0]!, rank5: ranking.cmc[4]!, rank10: ranking.cmc[9]!, queries: ranking.queries, gallery: ranking.gallery };
}
