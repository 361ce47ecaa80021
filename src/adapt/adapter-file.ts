/**
 * An adapter as a document: the weights (float32, base64) and what it was judged on. The same
 * document is what `crosscam adapt train --out` writes, what `eval crosscam --adapter` reads,
 * and what the adapter versions in the state store hold.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { vectorBytes, vectorFromBytes } from '../core/vectors.js';
import { ResidualAdapter } from './residual-adapter.js';

export const ADAPTER_FORMAT = 'crosscam-adapter/1';

const scoreSchema = z.strictObject({
  cameraMixing: z.number(),
  selfConsistency: z.number(),
  pairAgreement: z.number(),
  tracks: z.strictObject({ all: z.int().min(0), halves: z.int().min(0), pairs: z.int().min(0) }),
});

const adapterDocumentSchema = z.strictObject({
  format: z.literal(ADAPTER_FORMAT),
  dimension: z.int().min(1),
  rank: z.int().min(1),
  u: z.base64(),
  v: z.base64(),
  trainedAt: z.string(),
  /** Tracks trained on and held out. */
  tracks: z.strictObject({ training: z.int().min(0), heldOut: z.int().min(0) }),
  /** Held-out figures of the adapter and of the space it was compared with (see adapter-check.ts). */
  score: scoreSchema,
  activeScore: scoreSchema,
});

export type AdapterDocument = z.infer<typeof adapterDocumentSchema>;

export function adapterDocument(adapter: ResidualAdapter, details: Omit<AdapterDocument, 'format' | 'dimension' | 'rank' | 'u' | 'v'>): AdapterDocument {
  const { dimension, rank, u, v } = adapter.weights;
  const base64 = (values: Float32Array) => Buffer.from(vectorBytes(values)).toString('base64');
  return { format: ADAPTER_FORMAT, dimension, rank, u: base64(u), v: base64(v), ...details };
}

/** The adapter of a document; throws naming what is wrong. */
export function adapterFromDocument(value: unknown, source: string): { adapter: ResidualAdapter; document: AdapterDocument } {
  const parsed = adapterDocumentSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${source} is not a crosscam adapter: ${issue.path.join('.') || '(document)'}: ${issue.message}`);
  }
  const document = parsed.data;
  const decode = (text: string) => vectorFromBytes(new Uint8Array(Buffer.from(text, 'base64')));
  return { adapter: new ResidualAdapter({ dimension: document.dimension, rank: document.rank, u: decode(document.u), v: decode(document.v) }), document };
}

export async function saveAdapterFile(file: string, document: AdapterDocument): Promise<void> {
  await writeFile(file, `${JSON.stringify(document, null, 1)}\n`);
}

export async function loadAdapterFile(file: string): Promise<{ adapter: ResidualAdapter; document: AdapterDocument }> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return adapterFromDocument(value, file);
}
