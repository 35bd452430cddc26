import { z } from 'zod';
import { describeError, errorClass, InvalidArgumentError } from '../errors';
import type { CrewSession } from '../session';
import type { OutputCrewNode } from './output-node';
import type { ChatMessage, ToolCall, ToolSpec } from './types';

/** What a tool's `execute` gets besides its arguments. */
export interface ToolContext {
  session: CrewSession;
  /** The node running the tool: a tool may `speak`, `endCall` or `transferCall` through it. */
  node: OutputCrewNode;
  /** Fires when the turn is interrupted: long-running tools should stop. */
  signal: AbortSignal;
  toolCallId: string;
}

/** A tool the model may call: a zod schema for its arguments and the code that runs it. */
export interface Tool<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description: string;
  readonly parameters: S;
  execute(args: z.infer<S>, ctx: ToolContext): unknown;
  /** The OpenAI `tools[]` entry, with the arguments as JSON Schema. */
  readonly spec: ToolSpec;
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * Defines a tool. Its `parameters` zod schema becomes the JSON Schema the model
 * sees, and validates the arguments the model sends before `execute` runs.
 *
 * @example
 * const weather = tool({
 *   name: 'get_weather',
 *   description: 'Current weather for a city',
 *   parameters: z.object({ city: z.string() }),
 *   execute: async ({ city }) => ({ city, celsius: 21 }),
 * });
 */
export function tool<S extends z.ZodType>(definition: {
  name: string;
  description: string;
  parameters: S;
  execute(args: z.infer<S>, ctx: ToolContext): unknown;
}): Tool<S> {
  const { name, description, parameters, execute } = definition;
  if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
    throw new InvalidArgumentError(`tool: name must match ${TOOL_NAME} (letters, digits, _ and -), got ${JSON.stringify(name)}`);
  }
  if (typeof description !== 'string') throw new InvalidArgumentError(`tool "${name}": description must be a string`);
  if (!(parameters instanceof z.ZodType)) throw new InvalidArgumentError(`tool "${name}": parameters must be a zod schema`);
  if (typeof execute !== 'function') throw new InvalidArgumentError(`tool "${name}": execute must be a function`);
  const { $schema: _ignored, ...schema } = z.toJSONSchema(parameters, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return {
    name,
    description,
    parameters,
    execute,
    spec: { type: 'function', function: { name, description, parameters: schema } },
  };
}

/** What happened to one tool call, for `agent.log` and the model. */
export type ToolOutcome =
  | { ok: true; result: unknown; message: ChatMessage }
  | { ok: false; error: string; errorClass: string; message: ChatMessage };

/**
 * Runs one tool call: finds the tool, parses and validates the arguments, runs
 * it. Every failure becomes an error result the model sees; nothing throws.
 */
export async function runToolCall(tools: ReadonlyMap<string, Tool>, call: ToolCall, ctx: ToolContext): Promise<ToolOutcome> {
  const fail = (error: string, cls = 'ToolError'): ToolOutcome => ({
    ok: false,
    error,
    errorClass: cls,
    message: { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ error }) },
  });
  const found = tools.get(call.function?.name);
  if (found === undefined) return fail(`unknown tool "${call.function?.name}"`);
  let raw: unknown;
  try {
    raw = call.function.arguments ? JSON.parse(call.function.arguments) : {};
  } catch (err) {
    return fail(`arguments are not valid JSON: ${describeError(err)}`, 'SyntaxError');
  }
  const parsed = found.parameters.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
    return fail(`invalid arguments: ${issues.join('; ')}`, 'ZodError');
  }
  try {
    const result = await found.execute(parsed.data, ctx);
    const content = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return { ok: true, result, message: { role: 'tool', tool_call_id: call.id, content } };
  } catch (err) {
    return fail(describeError(err), errorClass(err));
  }
}
