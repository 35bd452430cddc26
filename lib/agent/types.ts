import type { Observable } from 'rxjs';
import type { CrewSession } from '../session';

/** One tool call the model asked for (OpenAI chat-completions shape). */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One message of the conversation (OpenAI chat-completions shape). */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  name?: string;
}

/** A tool as the model sees it: OpenAI's `tools[]` entry. */
export interface ToolSpec {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** The model asks for tools: the node runs them and calls `generateResponse` again. */
export interface ToolCallRequest {
  tool_calls: ToolCall[];
}

/** What `generateResponse` yields: text to stream to the client, or tool calls to run. */
export type TurnOutput = string | ToolCallRequest;

/** One turn of the conversation, as `generateResponse` receives it. */
export interface Turn {
  /** The conversation so far (system prompt first), including tool results of this turn. */
  messages: ChatMessage[];
  /** Fires when the turn is interrupted (or the session ends). */
  signal: AbortSignal;
  requestId: string;
  session: CrewSession;
  /** The node's tools, for the model (empty when it has none). */
  tools: ToolSpec[];
  /** `system.llm.request`'s `extra_params`, if any. */
  extraParams?: Record<string, unknown>;
}

/** Produces a turn's output: an async iterable (an `async function*`) or an Observable. */
export type Responder = (turn: Turn) => AsyncIterable<TurnOutput> | Observable<TurnOutput>;

/** Token counts a model reports for one call. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}
