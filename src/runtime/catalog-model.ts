import { OperatorError } from '../core/operator-error.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';
import type { ModelEntry } from '../models/catalog-schema.js';
import { describeModelFileStatus, verifyModelFile } from '../models/model-file.js';
import { createInferenceSession, type CreatedInferenceSession, type ExecutionProviderRequest } from './inference-session.js';
import { checkModelContract } from './model-contract.js';

export interface LoadCatalogModelOptions {
  entry: ModelEntry;
  modelsDir: string;
  providers: readonly ExecutionProviderRequest[];
  intraOpThreads?: number;
  interOpThreads?: number;
  logger: Logger;
}

export interface LoadedCatalogModel extends CreatedInferenceSession {
  entry: ModelEntry;
  path: string;
}

/**
 * Opens a catalog model for inference: the installed file must match the catalog
 * (size and sha256, so a half-copied file never reaches onnxruntime), the session
 * runs on the first working provider, and the model's tensors must match the entry.
 */
export async function loadCatalogModel(options: LoadCatalogModelOptions): Promise<LoadedCatalogModel> {
  const { entry } = options;
  const file = await verifyModelFile(entry, options.modelsDir);
  if (file.status === 'missing') {
    throw new OperatorError(
      `model ${entry.id} not found at ${file.path}; install it with: crosscam models install ${entry.id} --from DIR`,
      ExitCode.CONFIG,
    );
  }
  if (file.status !== 'ok') {
    throw new OperatorError(
      `model ${entry.id} does not match the catalog (${describeModelFileStatus(file)}); reinstall it with: crosscam models install ${entry.id} --from DIR`,
      ExitCode.CONFIG,
    );
  }
  const created = await createInferenceSession({
    model: file.path,
    label: entry.id,
    providers: options.providers,
    logger: options.logger,
    intraOpThreads: options.intraOpThreads,
    interOpThreads: options.interOpThreads,
    graphOptimization: entry.graphOptimization,
  });
  try {
    checkModelContract(created.session, entry);
  } catch (error) {
    await created.session.release();
    throw error;
  }
  return { ...created, entry, path: file.path };
}
