import { from, Observable, ObservableInput, OperatorFunction, Subscription } from 'rxjs';
import { InterruptedError } from './errors';

export interface InterruptibleConcatMapOptions<T, R> {
  /**
   * Values to emit when the work in flight for `value` is interrupted (for
   * example the event that closes a turn). Called once per interruption.
   */
  onInterrupt?: (value: T) => Iterable<R>;
}

/**
 * Like `concatMap`, one value at a time in arrival order, but `interrupt$` cuts
 * the work short: the inner in flight is unsubscribed and its `AbortSignal`
 * fires (synchronously, at the interrupt; its reason an `InterruptedError`),
 * queued values are dropped, `onInterrupt` may close the work with values of
 * its own, and the next value is handled normally. No interrupt leaves it
 * wedged, whenever it comes. Unsubscribing aborts the work in flight too.
 *
 * ```
 * source:     -a-bc-------d-------|
 * project:    v => -x---y|  (emits vx, vy)
 * interrupt$: -----i
 * output:     --u--z-------v---w--|   u = ax, z = onInterrupt(a), v = dx, w = dy
 * ```
 * (b and c were queued when the interrupt came, so they are dropped.)
 *
 * @example
 * requests$.pipe(interruptibleConcatMap((req, signal) => streamReply(req, signal), ctx.interrupt$))
 *
 * @param project Makes the work for one value; gets a signal that fires on interrupt.
 * @param interrupt$ Each emission interrupts the work in flight and drops the queue.
 * @param options `onInterrupt`.
 */
export function interruptibleConcatMap<T, R>(
  project: (value: T, signal: AbortSignal, index: number) => ObservableInput<R>,
  interrupt$: Observable<unknown>,
  options: InterruptibleConcatMapOptions<T, R> = {},
): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      const queue: T[] = [];
      let active: Work<T> | undefined;
      let sourceDone = false;
      let index = 0;

      const completeIfDone = () => {
        if (sourceDone && active === undefined && queue.length === 0) subscriber.complete();
      };

      const startNext = () => {
        while (active === undefined && queue.length > 0 && !subscriber.closed) {
          const value = queue.shift()!;
          const entry: Work<T> = { value, controller: new AbortController() };
          active = entry;
          let inner: Observable<R>;
          try {
            inner = from(project(value, entry.controller.signal, index++));
          } catch (err) {
            subscriber.error(err);
            return;
          }
          entry.subscription = inner.subscribe({
            // an interrupt may come while the inner is still being subscribed: what it emits later is dropped
            next: (r) => {
              if (active === entry) subscriber.next(r);
            },
            error: (err) => {
              if (active === entry) subscriber.error(err);
            },
            complete: () => {
              if (active !== entry) return;
              active = undefined; // loop continues with the next queued value
              if (entry.subscription !== undefined) startNext();
            },
          });
          // interrupted while being subscribed, when it could not be unsubscribed yet
          if (entry.controller.signal.aborted) entry.subscription.unsubscribe();
          // an inner that completed while being subscribed left `active` empty: keep looping
        }
        completeIfDone();
      };

      const interruption = interrupt$.subscribe(() => {
        queue.length = 0;
        const current = active;
        if (current === undefined) return;
        active = undefined;
        current.controller.abort(new InterruptedError());
        current.subscription?.unsubscribe();
        if (options.onInterrupt) for (const r of options.onInterrupt(current.value)) subscriber.next(r);
        completeIfDone();
      });

      const upstream = source.subscribe({
        next: (value) => {
          queue.push(value);
          startNext();
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          completeIfDone();
        },
      });

      return () => {
        interruption.unsubscribe();
        upstream.unsubscribe();
        queue.length = 0;
        const current = active;
        active = undefined;
        if (current) {
          current.controller.abort(new InterruptedError('unsubscribed'));
          current.subscription?.unsubscribe();
        }
      };
    });
}

/** The work in flight for one value. */
interface Work<T> {
  value: T;
  controller: AbortController;
  /** Undefined while the inner is being subscribed. */
  subscription?: Subscription;
}
