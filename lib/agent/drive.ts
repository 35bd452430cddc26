import { isObservable, Observable, Subscription } from 'rxjs';
import { InvalidArgumentError } from '../errors';

/**
 * Consumes what a responder produced (an async iterable or an Observable) until
 * it ends or `signal` fires. On abort it stops at once: an Observable is
 * unsubscribed, an iterator is returned (`return()`, not awaited, since a
 * generator stuck in an await cannot return before it wakes) and its later
 * values are ignored. Rejects with what the source threw.
 */
export function forEachOutput<T>(
  output: AsyncIterable<T> | Observable<T>,
  signal: AbortSignal,
  onValue: (value: T) => void,
): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  if (isObservable(output)) return forEachOfObservable(output, signal, onValue);
  if (output != null && typeof (output as AsyncIterable<T>)[Symbol.asyncIterator] === 'function') {
    return forEachOfIterable(output as AsyncIterable<T>, signal, onValue);
  }
  return Promise.reject(
    new InvalidArgumentError('generateResponse must return an AsyncIterable (e.g. an async generator) or an Observable'),
  );
}

function forEachOfObservable<T>(output: Observable<T>, signal: AbortSignal, onValue: (value: T) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let subscription: Subscription | undefined;
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      subscription?.unsubscribe();
      if (err === undefined) resolve();
      else reject(err);
    };
    const onAbort = () => settle();
    signal.addEventListener('abort', onAbort, { once: true });
    subscription = output.subscribe({
      next: (value) => {
        if (settled) return;
        try {
          onValue(value);
        } catch (err) {
          settle(err ?? new Error('onValue threw'));
        }
      },
      error: (err) => settle(err ?? new Error('the response failed')),
      complete: () => settle(),
    });
    if (settled) subscription.unsubscribe();
  });
}

async function forEachOfIterable<T>(output: AsyncIterable<T>, signal: AbortSignal, onValue: (value: T) => void): Promise<void> {
  const iterator = output[Symbol.asyncIterator]();
  // Settles the wait for the pending next() at once. A fresh promise per value,
  // not a race with one long-lived "aborted" promise, which would keep a
  // reaction (and the value) per chunk until the turn ends.
  let wake: (() => void) | undefined;
  const onAbort = () => {
    // return the iterator now; a pending next() settles whenever it can
    void Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => undefined);
    wake?.();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    while (!signal.aborted) {
      // a next() left pending by an abort is handled here, so it cannot reject unhandled
      const step = await new Promise<IteratorResult<T> | undefined>((resolve, reject) => {
        wake = () => resolve(undefined);
        iterator.next().then(resolve, reject);
      });
      if (step === undefined || signal.aborted || step.done) return;
      try {
        onValue(step.value);
      } catch (err) {
        await iterator.return?.();
        throw err;
      }
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
