/**
 * Retry timing for the LLM client: exponential backoff with jitter, the
 * server's `Retry-After`, and an abortable sleep. Kept apart from the client so
 * tests can inject a `sleep` that returns at once and a `backoff` that is exact.
 */

/** Waits `ms`, or rejects when `signal` fires. Injectable into the client for tests. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Milliseconds to wait before retry number `retry` (1 for the first retry). */
export type Backoff = (retry: number) => number;

/** A `Retry-After` longer than this is ignored in favour of the backoff (one turn cannot wait minutes). */
export const MAX_RETRY_AFTER_MS = 60_000;

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 8_000;

/** 500 ms, 1 s, 2 s, … capped at 8 s, each reduced by up to 25 % of jitter so clients spread out. */
export const defaultBackoff: Backoff = (retry) => {
  const delay = Math.min(BASE_DELAY_MS * 2 ** (retry - 1), MAX_DELAY_MS);
  return Math.round(delay * (1 - Math.random() * 0.25));
};

/** `setTimeout` as a promise that rejects with the signal's reason when aborted. */
export const defaultSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * How long the server asked us to wait, in ms: OpenAI's `retry-after-ms`, else
 * `Retry-After` as seconds or as an HTTP date. Undefined when absent, unreadable,
 * negative or longer than `MAX_RETRY_AFTER_MS`.
 */
export function retryAfterMs(headers: Headers, now: number = Date.now()): number | undefined {
  const candidates: Array<number | undefined> = [];
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '') candidates.push(Number(ms));
  const after = headers.get('retry-after');
  if (after !== null && after.trim() !== '') {
    const seconds = Number(after);
    candidates.push(Number.isNaN(seconds) ? Date.parse(after) - now : seconds * 1000);
  }
  const wait = candidates.find((value) => value !== undefined && Number.isFinite(value));
  return wait !== undefined && wait >= 0 && wait <= MAX_RETRY_AFTER_MS ? Math.ceil(wait) : undefined;
}
