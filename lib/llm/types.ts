import type { ChatMessage, ToolCall, ToolSpec, Usage } from '../agent/types';

/**
 * One piece of a streamed model reply:
 * - `text`: a content delta, yielded as soon as it arrives;
 * - `tool_calls`: every tool call of the reply, complete (arguments joined), yielded
 *   once when the reply finishes;
 * - `usage`: token counts, when the server reports them (usually after `finish`);
 * - `finish`: the server's `finish_reason` (`stop`, `length`, `tool_calls`, …).
 */
export type LlmChunk =
  | { type: 'text'; text: string }
  | { type: 'tool_calls'; calls: ToolCall[] }
  | { type: 'usage'; usage: Usage }
  | { type: 'finish'; reason: string };

/** One chat-completions call. */
export interface ChatStreamRequest {
  messages: ChatMessage[];
  /** Offered to the model; omitted from the request when undefined. */
  tools?: ToolSpec[];
  /** Aborts the call: the HTTP request and the response stream are closed. */
  signal?: AbortSignal;
  /** Merged into the request body (`temperature`, `tool_choice`, `max_tokens`, …). */
  extra?: Record<string, unknown>;
}

/** Anything that streams a chat completion: `OpenAIChatClient`, or a fake in tests. */
export interface ChatModelClient {
  stream(request: ChatStreamRequest): AsyncIterable<LlmChunk>;
}
