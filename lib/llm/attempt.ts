/**
 * One HTTP attempt of the LLM client: its own AbortController, tied to the
 * caller's signal and to the client's timers, so that an abort, a timeout or
 * the end of iteration all close the request the same way — by aborting it.
 */

/** The reason the client gives when it aborts its own request on a timer. */
export class ClientTimeout {
  constructor(
    readonly phase: 'first-byte' | 'idle',
    readonly ms: number,
  ) {}

  describe(url: string): string {
    return this.phase === 'idle'
      ? `model stream stalled: no data for ${this.ms} ms (idleTimeoutMs) (POST ${url})`
      : `model did not start answering within ${this.ms} ms (timeoutMs) (POST ${url})`;
  }
}

export interface Attempt {
  /** 1 for the first request, 2 for the first retry, … */
  readonly number: number;
  readonly controller: AbortController;
  /** Stops the first-byte deadline (the body has started). */
  clearDeadline(): void;
  /** Aborts the attempt if nothing arrives within `ms`; clear the returned timer when something does. */
  idleTimer(ms: number): ReturnType<typeof setTimeout>;
  /** Stops the first-byte deadline and lets go of the caller's signal, leaving the request open. Idempotent. */
  release(): void;
  /** `release()`, and aborts the request if still open. Idempotent. */
  close(): void;
}

/** Starts an attempt: the first-byte deadline runs from now. */
export function openAttempt(number: number, timeoutMs: number, signal: AbortSignal | undefined): Attempt {
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  const deadline = setTimeout(() => controller.abort(new ClientTimeout('first-byte', timeoutMs)), timeoutMs);

  const release = (): void => {
    clearTimeout(deadline);
    signal?.removeEventListener('abort', onAbort);
  };
  return {
    number,
    controller,
    clearDeadline: () => clearTimeout(deadline),
    idleTimer: (ms) => setTimeout(() => controller.abort(new ClientTimeout('idle', ms)), ms),
    release,
    close: () => {
      release();
      controller.abort();
    },
  };
}

/** How long the rest of a body after `[DONE]` may take to arrive before the connection is dropped. */
const DRAIN_MS = 1000;

/**
 * Reads what follows `[DONE]` (usually just the end of the chunked body) in the
 * background, so the connection goes back to the pool for the next turn instead
 * of being torn down; a server that keeps the stream open is cut off after `ms`.
 */
export function drainInBackground(reader: ReadableStreamDefaultReader<Uint8Array>, attempt: Attempt, ms = DRAIN_MS): void {
  const timer = setTimeout(() => attempt.close(), ms);
  void (async () => {
    try {
      for (;;) {
        const { done } = await raceSignal(reader.read(), attempt.controller.signal);
        if (done) break;
      }
    } catch {
      reader.cancel().catch(() => undefined);
    } finally {
      clearTimeout(timer);
    }
  })();
}

/**
 * `promise`, or a rejection with `signal.reason` as soon as `signal` fires.
 * An injected `fetch` or body may ignore the signal; this makes every wait of
 * the client end on abort regardless.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
