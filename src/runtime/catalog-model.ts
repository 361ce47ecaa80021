import { readFile } from 'node:fs/promises';
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
  /** Changes the model's bytes before the session loads them (e.g. freeing a detector's input size). */
  rewrite?: (model: Uint8Array) => Uint8Array;
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
  let model: string | Uint8Array = file.path;
  if (options.rewrite) {
    try {
      model = options.rewrite(await readFile(file.path));
    } catch (error) {
      throw new OperatorError(`model ${entry.id} (${file.path}) cannot be prepared: ${error instanceof Error ? error.message : String(error)}`, ExitCode.CONFIG);
    }
  }
  const created = await createInferenceSession({
    model,
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
