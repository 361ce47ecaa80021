import { z } from 'zod';
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

export interface AnswerRequestOptions {
  topics: Topics;
  commands: CommandRegistry;
  logger: Logger;
}

function failure(code: string, message: string): ResponseMessage {
  return { ok: false, error: { code, message } };
}

async function respond(command: string, payload: Buffer, options: AnswerRequestOptions): Promise<{ response: ResponseMessage; requestId?: string }> {
  let body: unknown;
  try {
    body = payload.length === 0 ? {} : JSON.parse(payload.toString('utf8'));
  } catch (error) {
    return { response: failure('bad_request', `payload is not JSON: ${(error as Error).message}`) };
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
  options: Pick<AnswerRequestOptions, 'commands' | 'logger'>,
): Promise<{ response: ResponseMessage; requestId?: string }> {
  const envelope = requestEnvelope.safeParse(body);
  if (!envelope.success) return { response: failure('bad_request', z.prettifyError(envelope.error)) };
  const { request_id: requestId, ...input } = envelope.data;
  const handler = Object.hasOwn(options.commands, command) ? options.commands[command] : undefined;
  if (handler === undefined) {
    const known = Object.keys(options.commands).sort().join(', ') || 'none';
    return { requestId, response: failure('unknown_command', `unknown command "${command}" (known: ${known})`) };
  }
  const parsed = handler.input.safeParse(input);
  if (!parsed.success) return { requestId, response: failure('invalid_input', z.prettifyError(parsed.error)) };
  try {
    const result = await handler.handle(parsed.data);
    // Round-trip so the result is exactly what subscribers will parse (undefined → null).
    return { requestId, response: { ok: true, result: JSON.parse(JSON.stringify(result ?? null)) } };
  } catch (error) {
    if (error instanceof CommandError) return { requestId, response: failure(error.code, error.message) };
    options.logger.error({ err: error, command }, 'request handler failed');
    return { requestId, response: failure('internal_error', `command failed: ${(error as Error).message ?? String(error)}`) };
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
