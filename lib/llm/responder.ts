import type { Responder, Turn, TurnOutput, Usage } from '../agent/types';
import { isAbortError } from './errors';
import type { ChatModelClient } from './types';

export interface OpenAIResponderOptions {
  /** Called with the token counts of each model call (a turn with tool calls makes several). */
  onUsage?(usage: Usage, turn: Turn): void;
  /** Called with each call's `finish_reason` (`stop`, `length`, `tool_calls`, `content_filter`, …). */
  onFinish?(reason: string, turn: Turn): void;
}

/**
 * A `Responder` backed by a chat-completions client: one model call per
 * invocation. Text deltas are yielded as they arrive; when the model asks for
 * tools, one `{ tool_calls }` is yielded at the end of the call, and the node
 * runs the tools and invokes the responder again with the assistant message and
 * the `tool` results appended to `turn.messages`.
 *
 * When `turn.signal` fires the iterator ends quietly (the node already knows
 * the turn was interrupted); every other failure is thrown as the client's
 * `LlmError`, for the node to report.
 *
 * @example
 * const client = new OpenAIChatClient({ model: 'gpt-4o-mini', apiKey: process.env.OPENAI_API_KEY });
 * class Assistant extends OutputCrewNode {
 *   private readonly respond = openAIResponder(client, { onUsage: (u) => console.log(u.total_tokens) });
 *   generateResponse(turn: Turn) { return this.respond(turn); }
 * }
 */
export function openAIResponder(client: ChatModelClient, options: OpenAIResponderOptions = {}): Responder {
  return async function* respond(turn: Turn): AsyncGenerator<TurnOutput, void, undefined> {
    if (turn.signal.aborted) return;
    const stream = client.stream({
      messages: turn.messages,
      tools: turn.tools.length > 0 ? turn.tools : undefined,
      signal: turn.signal,
      extra: turn.extraParams,
    });
    try {
      for await (const chunk of stream) {
        switch (chunk.type) {
          case 'text':
            yield chunk.text;
            break;
          case 'tool_calls':
            if (chunk.calls.length > 0) yield { tool_calls: chunk.calls };
            break;
          case 'usage':
            options.onUsage?.(chunk.usage, turn);
            break;
          case 'finish':
            options.onFinish?.(chunk.reason, turn);
            break;
        }
      }
    } catch (err) {
      if (turn.signal.aborted && isAbortError(err)) return;
      throw err;
    }
  };
}
