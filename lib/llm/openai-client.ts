import type { ChatMessage } from '../agent/types';
import { InvalidArgumentError } from '../errors';
import { ChatChunkAccumulator } from './chat-chunks';
import { checkBaseURL, checkCount, OPENAI_CLIENT_DEFAULTS, type OpenAIChatClientOptions } from './client-options';
import { LlmError, LlmErrorCodes } from './errors';
import { drainInBackground, openAttempt, raceSignal, type Attempt } from './attempt';
import { type Backoff, defaultBackoff, defaultSleep, type Sleep } from './retry';
import { readHttpError, requestFailure } from './failures';
import { SseParser } from './sse';
import type { ChatModelClient, ChatStreamRequest, LlmChunk } from './types';

/**
 * A streaming client for any OpenAI-compatible `POST /chat/completions`
 * endpoint (OpenAI, Azure-style proxies, vLLM, Ollama, llama.cpp, LM Studio, …),
 * written on `fetch`. See `docs/llm.md`.
 */
export class OpenAIChatClient implements ChatModelClient {
  readonly model: string;
  readonly baseURL: string;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxRetries: number;
  /** The endpoint every request goes to. */
  readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: Sleep;
  private readonly backoff: Backoff;

  constructor(options: OpenAIChatClientOptions) {
    if (!options || typeof options.model !== 'string' || options.model.trim() === '') {
      throw new InvalidArgumentError('new OpenAIChatClient: option "model" must be a non-empty string, e.g. "gpt-4o-mini"');
    }
    this.model = options.model;
    this.baseURL = checkBaseURL(options.baseURL ?? OPENAI_CLIENT_DEFAULTS.baseURL);
    this.url = `${this.baseURL}/chat/completions`;
    this.timeoutMs = checkCount('timeoutMs', options.timeoutMs ?? OPENAI_CLIENT_DEFAULTS.timeoutMs, 1);
    this.idleTimeoutMs = checkCount('idleTimeoutMs', options.idleTimeoutMs ?? OPENAI_CLIENT_DEFAULTS.idleTimeoutMs, 1);
    this.maxRetries = checkCount('maxRetries', options.maxRetries ?? OPENAI_CLIENT_DEFAULTS.maxRetries, 0);
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') {
      throw new InvalidArgumentError('new OpenAIChatClient: no global fetch (Node ≥ 18 has one); pass options.fetch');
    }
    // Called as a plain function: some fetch implementations reject any other `this`.
    this.fetchImpl = (input, init) => fetchImpl(input, init);
    this.sleep = options.sleep ?? defaultSleep;
    this.backoff = options.backoff ?? defaultBackoff;
    this.headers = {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      ...options.headers,
    };
  }

  /**
   * Streams one chat completion. Nothing is sent until the first `next()`.
   * Ending the iteration early (`break`, `return()`) or firing `request.signal`
   * closes the HTTP request; an abort rejects with an `LlmError` named
   * `'AbortError'` (code `CREW_ERR_LLM_ABORTED`). Other failures reject with an
   * `LlmError` after the retries allowed.
   */
  async *stream(request: ChatStreamRequest): AsyncGenerator<LlmChunk, void, undefined> {
    const opened = await this.open(JSON.stringify(this.body(request)), request.signal);
    yield* this.read(opened, request.signal);
  }

  private body(request: ChatStreamRequest): Record<string, unknown> {
    return {
      model: this.model,
      messages: request.messages.map(toWireMessage),
      ...(request.tools && request.tools.length > 0 ? { tools: request.tools } : {}),
      stream_options: { include_usage: true },
      ...request.extra,
      stream: true,
    };
  }

  /**
   * Sends the request until a 2xx response delivers its first piece of body,
   * retrying what may be retried: up to then nothing was handed out, so a retry
   * cannot repeat part of a reply.
   */
  private async open(body: string, signal: AbortSignal | undefined): Promise<Opened> {
    for (let number = 1; ; number++) {
      const attempt = openAttempt(number, this.timeoutMs, signal);
      let error: LlmError;
      try {
        const init = { method: 'POST', headers: this.headers, body, signal: attempt.controller.signal };
        const response = await raceSignal(this.fetchImpl(this.url, init), attempt.controller.signal);
        if (response.ok && response.body) {
          const reader = response.body.getReader();
          try {
            const first = await raceSignal(reader.read(), attempt.controller.signal);
            attempt.clearDeadline();
            return { attempt, response, reader, first };
          } catch (err) {
            reader.cancel().catch(() => undefined);
            throw err;
          }
        }
        error = response.ok
          ? new LlmError(LlmErrorCodes.BAD_RESPONSE, `model response ${response.status} had no body (POST ${this.url})`)
          : await readHttpError(response, attempt, this.url);
      } catch (err) {
        error = requestFailure(err, attempt, signal, this.url, false);
      }
      attempt.close();
      if (signal?.aborted) error = requestFailure(error, attempt, signal, this.url, false);
      error.attempts = number;
      if (!error.retryable || number > this.maxRetries) throw error;
      await this.wait(error.retryAfterMs ?? this.backoff(number), signal, number);
    }
  }

  private async wait(ms: number, signal: AbortSignal | undefined, attempts: number): Promise<void> {
    try {
      await this.sleep(ms, signal);
    } catch (err) {
      if (!signal?.aborted) throw err;
    }
    if (signal?.aborted) throw requestFailure(signal.reason, undefined, signal, this.url, false, attempts);
  }

  /** Reads the SSE body of a successful attempt, yielding chunks as they complete. */
  private async *read(opened: Opened, signal: AbortSignal | undefined): AsyncGenerator<LlmChunk, void, undefined> {
    const { attempt, response, reader } = opened;
    const decoder = new TextDecoder();
    const parser = new SseParser();
    const chunks = new ChatChunkAccumulator();
    let result = opened.first;
    let sawDone = false;
    let failed = false;
    try {
      for (;;) {
        const events = result.done
          ? [...parser.feed(decoder.decode()), ...parser.end()]
          : parser.feed(decoder.decode(result.value, { stream: true }));
        for (const event of events) {
          if (event.data === '[DONE]') {
            sawDone = true;
            break;
          }
          for (const chunk of chunks.push(parseData(event.data))) yield chunk;
        }
        if (result.done || sawDone) break;
        const idle = attempt.idleTimer(this.idleTimeoutMs);
        try {
          result = await raceSignal(reader.read(), attempt.controller.signal);
        } finally {
          clearTimeout(idle);
        }
      }
      for (const chunk of chunks.end()) yield chunk;
      if (!sawDone && !chunks.finished) {
        const type = response.headers.get('content-type') ?? 'none';
        throw new LlmError(
          LlmErrorCodes.BAD_RESPONSE,
          `model stream ended before "data: [DONE]" or a finish_reason (content-type: ${type}); is this a streaming chat-completions endpoint?`,
        );
      }
    } catch (err) {
      failed = true;
      throw requestFailure(err, attempt, signal, this.url, true);
    } finally {
      if (result.done) {
        attempt.release();
      } else if (sawDone && !failed) {
        // All was said: let the connection finish and be reused by the next turn.
        attempt.release();
        drainInBackground(reader, attempt);
      } else {
        // Stopped early, aborted or failed: close the HTTP stream now.
        attempt.close();
        reader.cancel().catch(() => undefined);
      }
    }
  }
}

/** A 2xx response whose body has started: its first read is in `first`. */
interface Opened {
  attempt: Attempt;
  response: Response;
  reader: ReadableStreamDefaultReader<Uint8Array>;
  first: Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;
}

function parseData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    const shown = data.length > 120 ? `${data.slice(0, 120)}…` : data;
    throw new LlmError(LlmErrorCodes.BAD_RESPONSE, `model stream sent data that is not JSON: ${shown}`);
  }
}

/** OpenAI wants `content: null`, not `""`, on an assistant message that only calls tools. */
function toWireMessage(message: ChatMessage): object {
  if (message.role === 'assistant' && message.tool_calls?.length && message.content === '') {
    return { ...message, content: null };
  }
  return message; // serialized at once: no copy needed
}
