/**
 * Checks that a loaded model has the tensors its catalog entry promises, so a
 * wrong or re-exported file fails at start-up with a readable message instead of
 * producing garbage detections or a shape error on the first frame.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { OperatorError } from '../core/operator-error.js';
import { ExitCode } from '../core/exit-codes.js';
import type { ModelEntry, TensorDim } from '../models/catalog-schema.js';

/** The parts of a session the check reads (onnxruntime-node ≥ 1.22 provides the metadata). */
export type SessionSignature = Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>;

interface ExpectedTensor {
  name: string;
  type: string;
  dims: readonly TensorDim[];
}

const formatDims = (dims: readonly TensorDim[]) => `[${dims.join(',')}]`;

/**
 * A fixed catalog size accepts a fixed equal size or a dynamic model dimension
 * (the model takes any size there); a dynamic catalog dimension (e.g. batch)
 * needs a dynamic model dimension, whatever its name, because crosscam will vary it.
 */
function dimsCompatible(expected: readonly TensorDim[], actual: readonly TensorDim[]): boolean {
  if (expected.length !== actual.length) return false;
  return expected.every((want, index) => {
    const have = actual[index]!;
    return typeof want === 'number' ? typeof have === 'string' || have === want : typeof have === 'string';
  });
}

function compare(
  kind: 'input' | 'output',
  expected: readonly ExpectedTensor[],
  actual: readonly InferenceSession.ValueMetadata[],
  problems: string[],
): void {
  const byName = new Map(actual.map((meta) => [meta.name, meta]));
  for (const want of expected) {
    const have = byName.get(want.name);
    if (!have) {
      problems.push(`${kind} '${want.name}' is missing (the model's ${kind}s are: ${actual.map((m) => `'${m.name}'`).join(', ')})`);
      continue;
    }
    if (!have.isTensor) {
      problems.push(`${kind} '${want.name}' is not a tensor`);
      continue;
    }
    if (have.type !== want.type) problems.push(`${kind} '${want.name}' has type ${have.type}, expected ${want.type}`);
    if (!dimsCompatible(want.dims, have.shape)) {
      problems.push(`${kind} '${want.name}' has shape ${formatDims(have.shape)}, expected ${formatDims(want.dims)}`);
    }
  }
  if (kind === 'input') {
    // An input the catalog does not know is an input crosscam would never feed.
    const known = new Set(expected.map((tensor) => tensor.name));
    for (const extra of actual.filter((meta) => !known.has(meta.name))) {
      problems.push(`input '${extra.name}' is not described in the catalog`);
    }
  }
}

/** Throws a CONFIG error naming the model, each mismatching tensor, expected and actual. */
export function checkModelContract(session: SessionSignature, entry: ModelEntry): void {
  const inputs: ExpectedTensor[] = [entry.input];
  if (entry.task === 'reid' && entry.reid.cameraInput) inputs.push(entry.reid.cameraInput);
  const problems: string[] = [];
  compare('input', inputs, session.inputMetadata, problems);
  compare('output', entry.outputs, session.outputMetadata, problems);
  if (problems.length > 0) {
    throw new OperatorError(
      `model ${entry.id} (${entry.file}) does not match its catalog entry:\n${problems.map((p) => `  ${p}`).join('\n')}`,
      ExitCode.CONFIG,
    );
  }
}
