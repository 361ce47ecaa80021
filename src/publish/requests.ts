import { z } from 'zod';
import { requestsSchema } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { IncomingMessage } from './broker-client.js';
import { requestEnvelope, type ResponseMessage } from './messages.js';
import type { Topics } from './topics.js';

/** A failure a handler reports to the requester as `{ ok: false, error: { code, message } }`. */
export class CommandError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
  }
}

/** One operator command: its input schema (the request minus `request_id`) and what it does. */
export interface CommandHandler<Input extends z.ZodType = z.ZodType> {
  input: Input;
  /** Returns a JSON-serialisable result; throws CommandError for expected failures. */
  handle(input: z.output<Input>): Promise<unknown>;
}

export type CommandRegistry = Readonly<Record<string, CommandHandler>>;

/** Typed helper so `handle` sees the parsed input type of its schema. */
export function defineCommand<Input extends z.ZodType>(input: Input, handle: (input: z.output<Input>) => Promise<unknown>): CommandHandler<Input> {
  return { input, handle };
}

export interface OutgoingResponse {
  topic: string;
  payload: string;
  /** Echoed MQTT 5 correlation data. */
  correlationData?: Buffer;
}

/** Bounds on what a request may cost and what its answer may echo (config `requests`). */
export interface RequestLimits {
  maxRequestBytes: number;
  maxResponseBytes: number;
  /** Error messages are cut to this many characters. */
  maxMessageChars: number;
}

/** The config's `requests` section as limits. */
export function requestLimitsOf(requests: { max_request_kb: number; max_response_kb: number; max_message_chars: number }): RequestLimits {
  return { maxRequestBytes: requests.max_request_kb * 1024, maxResponseBytes: requests.max_response_kb * 1024, maxMessageChars: requests.max_message_chars };
}

/** The config's defaults, for callers without a config (tests, embedding). */
export const DEFAULT_REQUEST_LIMITS: RequestLimits = requestLimitsOf(requestsSchema.parse({}));

/** Command names are echoed at most this long. */
const MAX_ECHOED_NAME = 64;

export interface AnswerRequestOptions {
  topics: Topics;
  commands: CommandRegistry;
  logger: Logger;
  limits?: RequestLimits;
}

function clip(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}… (${text.length - maxChars} more characters)`;
}

function failure(code: string, message: string, limits: RequestLimits): ResponseMessage {
  return { ok: false, error: { code, message: clip(message, limits.maxMessageChars) } };
}

async function respond(command: string, payload: Buffer, options: AnswerRequestOptions): Promise<{ response: ResponseMessage; requestId?: string }> {
  const limits = options.limits ?? DEFAULT_REQUEST_LIMITS;
  if (payload.length > limits.maxRequestBytes) {
    return { response: failure('too_large', `request of ${payload.length} bytes refused: more than requests.max_request_kb (${limits.maxRequestBytes / 1024})`, limits) };
  }
  let body: unknown;
  try {
    body = payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'));
  } catch (error) {
    return { response: failure('bad_request', `payload is not JSON: ${(error as Error).message}`, limits) };
  }
  return runCommand(command, body, options);
}

/**
 * Runs one command on a parsed request body (MQTT `request/<command>`, HTTP
 * `POST /api/request/<command>`): the envelope, the command's input schema, then its handler.
 * Never throws.
 */
export async function runCommand(
  command: string,
  body: unknown,
  options: Pick<AnswerRequestOptions, 'commands' | 'logger' | 'limits'>,
): Promise<{ response: ResponseMessage; requestId?: string }> {
  const limits = options.limits ?? DEFAULT_REQUEST_LIMITS;
  const envelope = requestEnvelope.safeParse(body);
  if (!envelope.success) return { response: failure('bad_request', z.prettifyError(envelope.error), limits) };
  const { request_id: requestId, ...input } = envelope.data;
  const handler = Object.hasOwn(options.commands, command) ? options.commands[command] : undefined;
  if (handler === undefined) {
    const known = Object.keys(options.commands).sort().join(', ') || 'none';
    return { requestId, response: failure('unknown_command', `unknown command "${clip(command, MAX_ECHOED_NAME)}" (known: ${known})`, limits) };
  }
  const parsed = handler.input.safeParse(input);
  if (!parsed.success) return { requestId, response: failure('invalid_input', z.prettifyError(parsed.error), limits) };
  try {
    const result = await handler.handle(parsed.data);
    // Round-trip so the result is exactly what subscribers will parse (undefined → null).
    const json = JSON.stringify(result ?? null);
    if (Buffer.byteLength(json) > limits.maxResponseBytes) {
      return {
        requestId,
        response: failure('response_too_large', `the result is ${Math.ceil(Buffer.byteLength(json) / 1024)} KB, more than requests.max_response_kb (${limits.maxResponseBytes / 1024}): ask for fewer items`, limits),
      };
    }
    return { requestId, response: { ok: true, result: JSON.parse(json) } };
  } catch (error) {
    if (error instanceof CommandError) return { requestId, response: failure(error.code, error.message, limits) };
    options.logger.error({ err: error, command: clip(command, MAX_ECHOED_NAME) }, 'request handler failed');
    return { requestId, response: failure('internal_error', `command failed: ${(error as Error).message ?? String(error)}`, limits) };
  }
}

/**
 * Answers one message received on `<base>/request/<command>`. MQTT 5 requests carrying a
 * response topic are answered there with the same correlation data; others on
 * `<base>/response/<command>`, echoing `request_id`. Never throws: every failure becomes an
 * error response, and a request that fails validation reaches no handler.
 */
export async function answerRequest(message: IncomingMessage, options: AnswerRequestOptions): Promise<OutgoingResponse | null> {
  const command = options.topics.commandOf(message.topic);
  if (command === null) return null;
  const { response, requestId } = await respond(command, message.payload, options);
  const payload = requestId === undefined ? response : { ...response, request_id: requestId };
  return {
    topic: message.responseTopic ?? options.topics.response(command),
    payload: JSON.stringify(payload),
    correlationData: message.correlationData,
  };
}
