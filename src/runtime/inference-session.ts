/**
 * Creates onnxruntime sessions on the best available execution provider.
 * Providers are tried in the operator's order; one whose libraries are missing
 * (no GPU build, no CUDA/TensorRT on this box) is logged once with the reason and
 * skipped, so the same config runs on a Jetson and on a plain CPU server.
 */
import { stat } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { OperatorError } from '../core/operator-error.js';
import { ExitCode } from '../core/exit-codes.js';
import type { Logger } from '../core/logger.js';

export type ExecutionProviderRequest =
  | { name: 'tensorrt'; engineCacheDir?: string; fp16?: boolean; deviceId?: number }
  | { name: 'cuda'; deviceId?: number }
  | { name: 'cpu' };

export type ExecutionProviderName = ExecutionProviderRequest['name'];

/**
 * Told the duration of every network run and how many items it ran (frames for a detector,
 * crops for re-ID), for metrics; must be cheap, it is on the frame path.
 */
export type InferenceObserver = (seconds: number, items: number) => void;

/** The same, told which model ran and on which provider (what the daemon's metrics record). */
export type ModelInferenceObserver = (model: string, provider: ExecutionProviderName, seconds: number, items: number) => void;

export interface CreateInferenceSessionOptions {
  /** A model file path, or the model bytes (e.g. a graph from buildOnnxModel). */
  model: string | Uint8Array;
  /** Names the model in logs and errors, e.g. the catalog id. */
  label: string;
  /** In order of preference; e.g. [{name:'tensorrt'}, {name:'cuda'}, {name:'cpu'}]. */
  providers: readonly ExecutionProviderRequest[];
  intraOpThreads?: number;
  interOpThreads?: number;
  /** onnxruntime's graph optimisation level; unset, onnxruntime's default (all). */
  graphOptimization?: ort.InferenceSession.SessionOptions['graphOptimizationLevel'];
  logger: Logger;
}

export interface CreatedInferenceSession {
  session: ort.InferenceSession;
  /** The provider actually in use, for status reporting. */
  provider: ExecutionProviderName;
}

/** ONNX parsing and graph validation failures: the file is the problem, not the provider. */
const INVALID_MODEL_PATTERN = /protobuf parsing failed|Failed to load model|INVALID_PROTOBUF|INVALID_GRAPH|invalid model|No graph was found|ModelProto/i;

/**
 * onnxruntime-node passes only `deviceId` to the TensorRT EP (its binding creates
 * OrtTensorRTProviderOptionsV2 and sets device_id alone), and the EP then ignores
 * the ORT_TENSORRT_* environment variables, so engine cache and FP16 cannot be applied.
 */
function toOrtProvider(request: ExecutionProviderRequest): ort.InferenceSession.ExecutionProviderConfig {
  switch (request.name) {
    case 'tensorrt':
      return { name: 'tensorrt', deviceId: request.deviceId ?? 0 };
    case 'cuda':
      return { name: 'cuda', deviceId: request.deviceId ?? 0 };
    case 'cpu':
      return 'cpu';
  }
}

/**
 * onnxruntime prints its own multi-line error to stderr when a provider library
 * is missing; crosscam logs one line with the reason instead. The level is read
 * once, when the first session of the process is created.
 */
function silenceNativeProviderErrors(): void {
  ort.env.logLevel = 'fatal';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function createInferenceSession(options: CreateInferenceSessionOptions): Promise<CreatedInferenceSession> {
  const { label, logger } = options;
  if (options.providers.length === 0) {
    throw new OperatorError(`${label}: no execution providers configured`, ExitCode.CONFIG);
  }
  const modelName = typeof options.model === 'string' ? options.model : `${label} (in-memory model)`;
  if (typeof options.model === 'string') {
    const info = await stat(options.model).catch(() => undefined);
    if (!info?.isFile()) throw new OperatorError(`${label}: model file ${options.model} not found`, ExitCode.CONFIG);
  }
  silenceNativeProviderErrors();

  const failures: string[] = [];
  for (const request of options.providers) {
    if (request.name === 'tensorrt' && (request.fp16 !== undefined || request.engineCacheDir !== undefined)) {
      logger.warn(
        { model: label, provider: 'tensorrt' },
        'tensorrt fp16/engine_cache_dir are not applied: onnxruntime-node passes only the device id to TensorRT',
      );
    }
    const executionProviders = request.name === 'cpu' ? ['cpu'] : [toOrtProvider(request), 'cpu'];
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders,
      // Idle intra-op threads busy-wait by default; with several cameras sharing few cores that
      // triples detection time (measured 62 ms vs 18 ms per YOLOX-Nano frame on 2 cores).
      extra: { session: { intra_op: { allow_spinning: '0' } } },
      // The memory pattern caches an allocation plan per input shape; the re-ID batch and the
      // letterbox input change shape (crops per tick, camera sizes), and the daemon's RSS kept
      // growing over a soak (docs/performance.md, "Soak").
      enableMemPattern: false,
    };
    // Only set when given (the binding rejects an explicit undefined thread count), so the
    // catalog's default level is onnxruntime's own.
    if (options.intraOpThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpThreads;
    if (options.interOpThreads !== undefined) sessionOptions.interOpNumThreads = options.interOpThreads;
    if (options.graphOptimization !== undefined) sessionOptions.graphOptimizationLevel = options.graphOptimization;
    const started = performance.now();
    try {
      const session =
        typeof options.model === 'string'
          ? await ort.InferenceSession.create(options.model, sessionOptions)
          : await ort.InferenceSession.create(options.model, sessionOptions);
      const ms = Math.round(performance.now() - started);
      logger.info({ model: label, provider: request.name, ms }, `inference session ready on ${request.name}`);
      return { session, provider: request.name };
    } catch (error) {
      const reason = describe(error);
      if (INVALID_MODEL_PATTERN.test(reason)) {
        throw new OperatorError(`${label}: ${modelName} is not a valid ONNX model (${reason})`, ExitCode.CONFIG);
      }
      failures.push(`${request.name}: ${reason}`);
      logger.warn({ model: label, provider: request.name, reason }, `execution provider ${request.name} unavailable`);
    }
  }
  const hint = options.providers.some((p) => p.name === 'cpu') ? '' : "; add 'cpu' to the provider list as a last resort";
  throw new OperatorError(`${label}: no execution provider could run the model (${failures.join('; ')})${hint}`, ExitCode.CONFIG);
}
