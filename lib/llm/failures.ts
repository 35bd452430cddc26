import { ClientTimeout, raceSignal, type Attempt } from './attempt';
import { isRetryableStatus, LlmError, LlmErrorCodes, serverErrorMessage } from './errors';
import { retryAfterMs } from './retry';

/**
 * Turns whatever a request threw into an `LlmError`: the caller's abort wins,
 * then the client's own timeouts, then network failures. Failures before the
 * body started (`bodyStarted` false) may be retried; later ones may not, since
 * part of the reply was already handed out.
 */
export function requestFailure(
  err: unknown,
  attempt: Attempt | undefined,
  signal: AbortSignal | undefined,
  url: string,
  bodyStarted: boolean,
  attempts: number = attempt?.number ?? 1,
): LlmError {
  let error: LlmError;
  const reason: unknown = attempt?.controller.signal.reason;
  if (signal?.aborted) {
    error = err instanceof LlmError && err.code === LlmErrorCodes.ABORTED
      ? err
      : new LlmError(LlmErrorCodes.ABORTED, `model request aborted (POST ${url})`, { cause: signal.reason });
  } else if (err instanceof LlmError) {
    error = err;
  } else if (attempt?.controller.signal.aborted && reason instanceof ClientTimeout) {
    error = new LlmError(LlmErrorCodes.TIMEOUT, reason.describe(url), { retryable: !bodyStarted });
  } else {
    error = new LlmError(LlmErrorCodes.NETWORK, `model request failed: ${describeNetworkError(err)} (POST ${url})`, {
      retryable: !bodyStarted,
      cause: err,
    });
  }
  error.attempts = attempts;
  return error;
}

/** An `LlmError` for a non-2xx response, with the server's message from its body. */
export async function readHttpError(response: Response, attempt: Attempt, url: string): Promise<LlmError> {
  let body = '';
  try {
    body = await raceSignal(response.text(), attempt.controller.signal);
  } catch {
    // The error body timed out or broke: the status alone still says what happened.
  }
  const server = serverErrorMessage(body);
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  return new LlmError(
    LlmErrorCodes.HTTP,
    `model request failed with HTTP ${status}${server ? `: ${server}` : ''} (POST ${url})`,
    {
      status: response.status,
      retryable: isRetryableStatus(response.status),
      retryAfterMs: retryAfterMs(response.headers),
    },
  );
}

/** `fetch failed (connect ECONNREFUSED 127.0.0.1:9)`: undici hides the useful part in `cause`. */
function describeNetworkError(err: unknown): string {
  // Duck-typed: errors from Node's own fetch may come from another realm (e.g. under jest).
  const message = (value: unknown): string | undefined =>
    typeof value === 'object' && value !== null && typeof (value as Error).message === 'string'
      ? (value as Error).message
      : undefined;
  const outer = message(err) ?? String(err);
  const inner = message((err as { cause?: unknown } | null)?.cause);
  return inner && inner !== outer ? `${outer} (${inner})` : outer;
}
