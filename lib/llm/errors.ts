import { CrewError, ErrorCodes } from '../errors';

/**
 * Errors of the LLM client. Every failure of `OpenAIChatClient.stream()` is an
 * `LlmError` with a stable `code`, so callers (and the node that reports it as
 * `agent.error`) can tell a rate limit from a bad request or a stalled stream.
 */

/** The codes of `LlmError`, one per failure kind: a subset of `ErrorCodes` (the registry in lib/errors.ts). Documented in `docs/llm.md`. */
export const LlmErrorCodes = Object.freeze({
  /** The server answered with an error status (`status` is set). */
  HTTP: ErrorCodes.LLM_HTTP,
  /** The connection failed or broke (DNS, refused, reset). */
  NETWORK: ErrorCodes.LLM_NETWORK,
  /** No first byte within `timeoutMs`, or a gap longer than `idleTimeoutMs` mid-stream. */
  TIMEOUT: ErrorCodes.LLM_TIMEOUT,
  /** The caller's `signal` fired, or it was already aborted. */
  ABORTED: ErrorCodes.LLM_ABORTED,
  /** The server sent something that is not a chat-completions stream. */
  BAD_RESPONSE: ErrorCodes.LLM_BAD_RESPONSE,
  /** The server reported an error inside the stream (`data: {"error": ...}`). */
  STREAM: ErrorCodes.LLM_STREAM,
});

export type LlmErrorCode = (typeof LlmErrorCodes)[keyof typeof LlmErrorCodes];

export interface LlmErrorOptions {
  status?: number;
  retryable?: boolean;
  /** Milliseconds the server asked to wait (`Retry-After` / `retry-after-ms`). */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * A failed model call. `code` is stable; `status` is the HTTP status when there
 * was one; `retryable` says whether trying again could help (the client has
 * already retried `attempts - 1` times when it throws). An aborted call has
 * `code` `CREW_ERR_LLM_ABORTED` and `name` `'AbortError'`, like an aborted `fetch`.
 */
export class LlmError extends CrewError {
  declare readonly code: LlmErrorCode;
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  /** How many HTTP requests were made for this call (set by the client). */
  attempts = 1;

  constructor(code: LlmErrorCode, message: string, options: LlmErrorOptions = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = code === LlmErrorCodes.ABORTED ? 'AbortError' : 'LlmError';
    this.status = options.status;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** True for statuses worth retrying: 408 (timeout), 409 (lock), 429 (rate limit) and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** True for anything thrown because of an abort: our `LlmError`, `fetch`'s `DOMException`, etc. */
export function isAbortError(err: unknown): boolean {
  // Not `instanceof Error`: a DOMException may come from another realm.
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}

/**
 * The server's own explanation from an error body: OpenAI's `{"error": {"message"}}`,
 * or the `message` / `detail` / `error` string other compatible servers use, or the
 * first 200 characters of a non-JSON body.
 */
export function serverErrorMessage(body: string): string {
  const text = body.trim();
  try {
    const json: unknown = JSON.parse(text);
    if (json && typeof json === 'object') {
      const record = json as Record<string, unknown>;
      const error = record.error;
      if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
        return (error as { message: string }).message;
      }
      for (const key of ['error', 'message', 'detail']) {
        if (typeof record[key] === 'string') return record[key] as string;
      }
    }
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
