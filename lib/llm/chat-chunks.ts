import type { ToolCall, Usage } from '../agent/types';
import { LlmError, LlmErrorCodes, serverErrorMessage } from './errors';
import type { LlmChunk } from './types';

/** A tool call being put together from its deltas. */
interface PartialCall {
  id: string;
  name: string;
  arguments: string;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;

/**
 * Turns the parsed `data:` payloads of a chat-completions stream into
 * `LlmChunk`s. Text deltas pass straight through; tool-call deltas are joined by
 * their `index` (the first delta of a call carries its `id` and name, the
 * `arguments` JSON arrives in many pieces) and come out as one `tool_calls`
 * chunk when the choice finishes, or at `[DONE]` / the end of the stream.
 *
 * Only choice 0 is read: the client never asks for `n > 1`.
 */
export class ChatChunkAccumulator {
  private readonly calls = new Map<number, PartialCall>();
  private lastIndex = -1;
  /** True once a `finish_reason` was seen. */
  finished = false;

  /** Reads one parsed `data:` payload. Throws `LlmError` for an error the server streamed. */
  push(payload: unknown): LlmChunk[] {
    if (!isObject(payload)) {
      throw new LlmError(LlmErrorCodes.BAD_RESPONSE, `model stream: expected a JSON object, got ${JSON.stringify(payload)}`);
    }
    if (payload.error !== undefined && payload.error !== null) {
      const message = serverErrorMessage(JSON.stringify(payload));
      throw new LlmError(LlmErrorCodes.STREAM, `model stream reported an error: ${message}`);
    }
    const out: LlmChunk[] = [];
    const choices = Array.isArray(payload.choices) ? payload.choices : [];
    for (const choice of choices) {
      if (!isObject(choice) || (typeof choice.index === 'number' && choice.index !== 0)) continue;
      const delta = isObject(choice.delta) ? choice.delta : {};
      if (typeof delta.content === 'string' && delta.content !== '') out.push({ type: 'text', text: delta.content });
      if (Array.isArray(delta.tool_calls)) for (const call of delta.tool_calls) this.addCallDelta(call);
      if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') {
        out.push(...this.flushCalls(), { type: 'finish', reason: choice.finish_reason });
        this.finished = true;
      }
    }
    const usage = readUsage(payload.usage);
    if (usage) out.push({ type: 'usage', usage });
    return out;
  }

  /** At `[DONE]` or the end of the body: tool calls whose choice never reported a finish. */
  end(): LlmChunk[] {
    return this.flushCalls();
  }

  private addCallDelta(delta: unknown): void {
    if (!isObject(delta)) return;
    const fn = isObject(delta.function) ? delta.function : {};
    const id = typeof delta.id === 'string' ? delta.id : '';
    // Some compatible servers leave out `index`; then a new `id` starts a new call.
    let index: number;
    if (typeof delta.index === 'number') index = delta.index;
    else if (id !== '' && ![...this.calls.values()].some((c) => c.id === id)) index = this.lastIndex + 1;
    else index = Math.max(this.lastIndex, 0);
    this.lastIndex = Math.max(this.lastIndex, index);

    let call = this.calls.get(index);
    if (!call) {
      call = { id: '', name: '', arguments: '' };
      this.calls.set(index, call);
    }
    if (id !== '') call.id = id;
    // OpenAI sends the whole name once; some servers repeat it in every delta.
    if (typeof fn.name === 'string' && fn.name !== call.name) call.name += fn.name;
    if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
  }

  private flushCalls(): LlmChunk[] {
    if (this.calls.size === 0) return [];
    const calls: ToolCall[] = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => ({
        id: call.id || `call_${index}`,
        type: 'function' as const,
        function: { name: call.name, arguments: call.arguments },
      }));
    this.calls.clear();
    this.lastIndex = -1;
    return [{ type: 'tool_calls', calls }];
  }
}

/** `usage` as the server reported it, or undefined when absent (`null` before the last chunk). */
function readUsage(value: unknown): Usage | undefined {
  if (!isObject(value)) return undefined;
  const count = (key: string): number => (typeof value[key] === 'number' ? (value[key] as number) : 0);
  const prompt = count('prompt_tokens');
  const completion = count('completion_tokens');
  const total = typeof value.total_tokens === 'number' ? value.total_tokens : prompt + completion;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: total };
}
