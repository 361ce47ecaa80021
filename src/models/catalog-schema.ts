/**
 * The single definition of a model catalog entry. Catalog files are YAML with
 * snake_case keys; catalog.ts converts keys to camelCase before validating, so
 * this schema and the types derived from it are camelCase.
 */
import { z } from 'zod';
import { OBJECT_CLASSES } from '../core/types.js';

/** A fixed size, or a name for a dynamic (symbolic) dimension such as `batch`. */
const dimSchema = z.union([z.number().int().positive(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/)]);
export type TensorDim = z.infer<typeof dimSchema>;

const tensorTypeSchema = z.enum(['float32', 'float16', 'uint8', 'int32', 'int64']);

const tensorSchema = z
  .object({
    name: z.string().min(1),
    type: tensorTypeSchema.default('float32'),
    dims: z.array(dimSchema).min(1),
  })
  .strict();
export type TensorSpec = z.output<typeof tensorSchema>;

/** `1`, `0.5` or a fraction such as `1/255` (YAML has no way to write 1/255 exactly). */
const pixelScaleSchema = z.union([
  z.number().positive(),
  z
    .string()
    .regex(/^\d+(\.\d+)?\/\d+(\.\d+)?$/, 'expected a number or a fraction such as 1/255')
    .transform((text) => {
      const [numerator, denominator] = text.split('/').map(Number) as [number, number];
      return numerator / denominator;
    })
    .pipe(z.number().positive().finite()),
]);

const perChannel = (value: z.ZodNumber) => z.tuple([value, value, value]);

const resizeSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('letterbox'),
      /** Pad colour in raw 0..255 pixel units, applied to every channel. */
      padValue: z.number().min(0).max(255),
      align: z.enum(['top-left', 'center']),
      /**
       * Detectors only: the input's height and width shrink to the letterboxed frame rounded up
       * to this multiple (the network's largest stride) instead of padding to the full size, so
       * a 16:9 frame runs 416x256 rather than 416x416. The model's spatial input dimensions
       * (and the output's point count) are made symbolic when it loads (runtime/onnx-free-dims.ts).
       */
      trimToMultiple: z.number().int().positive().optional(),
    })
    .strict(),
  z.object({ mode: z.literal('stretch') }).strict(),
]);
export type ResizeSpec = z.output<typeof resizeSchema>;

/** The multiple a trimmed letterbox rounds the input up to; undefined: the input keeps the catalog's size. */
export function letterboxTrim(resize: ResizeSpec): number | undefined {
  return resize.mode === 'letterbox' ? resize.trimToMultiple : undefined;
}

const imageInputSchema = z
  .object({
    name: z.string().min(1),
    type: tensorTypeSchema.default('float32'),
    layout: z.literal('NCHW'),
    /** [batch, 3, height, width]; height and width are fixed because preprocessing resizes to them. */
    dims: z.tuple([dimSchema, z.literal(3), z.number().int().positive(), z.number().int().positive()]),
    channelOrder: z.enum(['rgb', 'bgr']),
    pixelScale: pixelScaleSchema,
    mean: perChannel(z.number()),
    std: perChannel(z.number().positive()),
    resize: resizeSchema,
  })
  .strict();
export type ImageInputSpec = z.output<typeof imageInputSchema>;

const objectClassSchema = z.enum(OBJECT_CLASSES);

const decoderSchema = z.discriminatedUnion('family', [
  /** Raw grid predictions [1, N, 5 + C]: x, y, w, h relative to grid cells, objectness, class scores. */
  z.object({ family: z.literal('yolox'), strides: z.array(z.number().int().positive()).min(1) }).strict(),
  /** Decoded boxes [1, 4 + C, N]: cx, cy, w, h in input pixels, class scores, no objectness. */
  z.object({ family: z.literal('yolov8') }).strict(),
]);
export type DetectorDecoder = z.output<typeof decoderSchema>;

/** Detector class index (as written in YAML, a decimal key) -> crosscam object class. */
const classMapSchema = z
  .record(z.string().regex(/^\d+$/, 'class indices are non-negative integers'), objectClassSchema)
  .transform((record) => new Map(Object.entries(record).map(([index, objectClass]) => [Number(index), objectClass])));

const entryFields = {
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'ids are lower-case letters, digits, ".", "_" and "-"'),
  /** A plain file name inside the models directory. */
  file: z
    .string()
    .regex(/^[^/\\]+$/, 'a file name without directories')
    .refine((name) => name !== '.' && name !== '..', 'a file name without directories'),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hexadecimal digits')
    .transform((hex) => hex.toLowerCase()),
  sizeBytes: z.number().int().positive(),
  licence: z.string().min(1),
  sourceUrl: z.url().optional(),
  description: z.string().min(1),
  input: imageInputSchema,
  outputs: z.array(tensorSchema).min(1),
  /**
   * onnxruntime's graph optimisation level for this network. 'all' (onnxruntime's default)
   * adds the CPU's NCHWc layout rewrite, which pays for plain convolutions and costs networks
   * of thin depthwise blocks (docs/performance.md, "Graph optimisation per model").
   */
  graphOptimization: z.enum(['basic', 'extended', 'all']).default('all'),
};

const detectorEntrySchema = z
  .object({
    ...entryFields,
    task: z.literal('detector'),
    detector: z.object({ decoder: decoderSchema, classMap: classMapSchema }).strict(),
  })
  .strict();

const reidEntrySchema = z
  .object({
    ...entryFields,
    task: z.literal('reid'),
    reid: z
      .object({
        embeddingDim: z.number().int().positive(),
        objectClasses: z.array(objectClassSchema).min(1),
        /** Camera-aware models take the camera index as a second input. */
        cameraInput: tensorSchema.optional(),
        /**
         * Models that also describe each crop by parts with visibility scores (seed 001): the
         * outputs holding them, [batch, count, dim] and [batch, count] (visibility in 0..1), and
         * the weight of the part comparison in a match score (src/embed/part-embedding.ts).
         */
        parts: z
          .object({
            output: z.string().min(1),
            visibility: z.string().min(1),
            count: z.number().int().positive(),
            dim: z.number().int().positive(),
            weight: z.number().min(0).max(1).default(0.5),
          })
          .strict()
          .optional(),
      })
      .strict(),
  })
  .strict();

const segmentationEntrySchema = z
  .object({
    ...entryFields,
    task: z.literal('segmentation'),
    /** Output 0 is [1, classes, H, W] per-pixel scores; class 0 is the background. */
    segmentation: z.object({ classes: z.array(z.string().min(1)).min(2) }).strict(),
  })
  .strict();

type EntryBeforeChecks = z.output<typeof detectorEntrySchema | typeof reidEntrySchema | typeof segmentationEntrySchema>;

/** Cross-field checks: the declared output shape must agree with the task section. */
function checkConsistency(entry: EntryBeforeChecks, ctx: z.RefinementCtx): void {
  const output = entry.outputs[0]!.dims;
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const [, , height, width] = entry.input.dims;
  const trim = letterboxTrim(entry.input.resize);
  if (trim !== undefined && entry.task !== 'detector') {
    issue(['input', 'resize', 'trimToMultiple'], 'only a detector input can be trimmed');
  }
  switch (entry.task) {
    case 'detector': {
      const maxClassIndex = Math.max(...entry.detector.classMap.keys());
      if (output.length !== 3) {
        issue(['outputs', 0, 'dims'], `a ${entry.detector.decoder.family} detector output has 3 dims, got ${output.length}`);
        return;
      }
      const decoder = entry.detector.decoder;
      const classes = decoder.family === 'yolox' ? output[2] : output[1];
      const boxFields = decoder.family === 'yolox' ? 5 : 4;
      if (typeof classes === 'number' && classes - boxFields <= maxClassIndex) {
        issue(['detector', 'classMap'], `class index ${maxClassIndex} is outside the ${classes - boxFields} classes of the output`);
      }
      if (decoder.family === 'yolox' && trim !== undefined && trim % Math.max(...decoder.strides) !== 0) {
        issue(['input', 'resize', 'trimToMultiple'], `must be a multiple of the largest stride ${Math.max(...decoder.strides)}`);
      }
      if (decoder.family === 'yolox' && typeof output[1] === 'number') {
        const points = decoder.strides.reduce((sum, stride) => sum + Math.ceil(height / stride) * Math.ceil(width / stride), 0);
        if (points !== output[1]) {
          issue(['outputs', 0, 'dims'], `strides ${decoder.strides.join(',')} on ${width}x${height} give ${points} grid points, output has ${output[1]}`);
        }
      }
      return;
    }
    case 'reid': {
      if (output.at(-1) !== entry.reid.embeddingDim) {
        issue(['outputs', 0, 'dims'], `last dim must be the embedding_dim ${entry.reid.embeddingDim}`);
      }
      const parts = entry.reid.parts;
      if (parts === undefined) return;
      const declared = (name: string, field: 'output' | 'visibility', dims: readonly TensorDim[]) => {
        const index = entry.outputs.findIndex((o) => o.name === name);
        if (index < 1) {
          issue(['reid', 'parts', field], index === 0 ? `'${name}' is the embedding output; parts need outputs of their own` : `no output named '${name}' among the outputs`);
          return;
        }
        const actual = entry.outputs[index]!.dims;
        if (actual.length !== dims.length || dims.some((d, i) => i > 0 && actual[i] !== d)) {
          issue(['outputs', index, 'dims'], `the ${field === 'output' ? 'part features' : 'part visibility'} output must be [batch, ${dims.slice(1).join(', ')}]`);
        }
      };
      declared(parts.output, 'output', ['batch', parts.count, parts.dim]);
      declared(parts.visibility, 'visibility', ['batch', parts.count]);
      return;
    }
    case 'segmentation':
      if (typeof output[1] === 'number' && output[1] !== entry.segmentation.classes.length) {
        issue(['outputs', 0, 'dims'], `dim 1 must be the number of classes (${entry.segmentation.classes.length})`);
      }
      return;
  }
}

export const modelEntrySchema = z
  .discriminatedUnion('task', [detectorEntrySchema, reidEntrySchema, segmentationEntrySchema])
  .superRefine(checkConsistency);

export const modelCatalogFileSchema = z
  .object({ models: z.array(modelEntrySchema) })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.models.forEach((entry, index) => {
      if (seen.has(entry.id)) ctx.addIssue({ code: 'custom', path: ['models', index, 'id'], message: `duplicate id '${entry.id}'` });
      seen.add(entry.id);
    });
  });

export type ModelEntry = z.output<typeof modelEntrySchema>;
export type ModelTask = ModelEntry['task'];
export type DetectorModelEntry = Extract<ModelEntry, { task: 'detector' }>;
export type ReidModelEntry = Extract<ModelEntry, { task: 'reid' }>;
export type SegmentationModelEntry = Extract<ModelEntry, { task: 'segmentation' }>;
