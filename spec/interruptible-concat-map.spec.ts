import { map, Observable, Subject, tap } from 'rxjs';
import { interruptibleConcatMap } from 'rxcrew/operators';
import { createNodeTestScheduler } from 'rxcrew/testing';

const scheduler = () => createNodeTestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('interruptibleConcatMap', () => {
  it('works one value at a time, in order, like concatMap', () => {
    scheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-b-----|');
      const inner = cold('-x-y|');
      const result = source.pipe(interruptibleConcatMap((v) => inner.pipe(map((i) => `${v}${i}`)), hot('-')));
      expectObservable(result).toBe('--u-v-w-z|', { u: 'ax', v: 'ay', w: 'bx', z: 'by' });
      expectSubscriptions(inner.subscriptions).toBe(['-^---!', '-----^---!']);
    });
  });

  it('cuts the work in flight at an interrupt, drops the queue, closes with onInterrupt, then goes on', () => {
    scheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const source = hot('-a-bc-------d-------|');
      const interrupt = hot('-----i');
      const inner = cold('-x---y|');
      const result = source.pipe(
        interruptibleConcatMap((v) => inner.pipe(map((i) => `${v}${i}`)), interrupt, { onInterrupt: (v) => [`${v}!`] }),
      );
      // b and c were queued behind a when the interrupt came: dropped
      expectObservable(result).toBe('--u--z-------v---w--|', { u: 'ax', z: 'a!', v: 'dx', w: 'dy' });
      expectSubscriptions(inner.subscriptions).toBe(['-^---!', '------------^-----!']);
    });
  });

  it('fires the AbortSignal synchronously at the interrupt', () => {
    const aborted: number[] = [];
    scheduler().run(({ hot, cold, expectObservable }) => {
      const source = hot('-a');
      const interrupt = hot('---i');
      const result = source.pipe(
        interruptibleConcatMap(
          (_v, signal) => {
            signal.addEventListener('abort', () => aborted.push(Date.now()));
            return cold('-----x');
          },
          interrupt,
        ),
      );
      expectObservable(result).toBe('-');
    });
    expect(aborted).toHaveLength(1);
  });

  it('ignores an interrupt with nothing in flight, and interrupts twice in a row', () => {
    scheduler().run(({ hot, cold, expectObservable }) => {
      const source = hot('-----a---b--|');
      const interrupt = hot('-i----ii-----');
      const result = source.pipe(interruptibleConcatMap(() => cold('--x|'), interrupt, { onInterrupt: () => ['z'] }));
      expectObservable(result).toBe('------z----x|');
    });
  });

  it('handles an inner that completes synchronously', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const source = hot('-a-b|');
      const result = source.pipe(interruptibleConcatMap((v) => [v], hot('-')));
      expectObservable(result).toBe('-a-b|');
    });
  });

  it('waits for the work in flight before completing, and passes errors through', () => {
    scheduler().run(({ hot, cold, expectObservable }) => {
      expectObservable(hot('-a|').pipe(interruptibleConcatMap(() => cold('---x|'), hot('-')))).toBe('----x|');
      expectObservable(hot('-a').pipe(interruptibleConcatMap(() => cold('-#'), hot('-')))).toBe('--#');
      expectObservable(hot('-#').pipe(interruptibleConcatMap(() => cold('-x'), hot('-')))).toBe('-#');
      expectObservable(hot('|').pipe(interruptibleConcatMap(() => cold('-x'), hot('-')))).toBe('|');
      expectObservable(hot('-').pipe(interruptibleConcatMap(() => cold('-x'), hot('-')))).toBe('-');
    });
  });

  it('drops what an inner emits after an interrupt that came while it was being subscribed', () => {
    const interrupt = new Subject<void>();
    const source = new Subject<string>();
    const seen: string[] = [];
    let lateNext: ((value: string) => void) | undefined;
    let torndown = false;
    source
      .pipe(
        interruptibleConcatMap(
          (v, signal) =>
            new Observable<string>((s) => {
              signal.addEventListener('abort', () => s.error(signal.reason));
              s.next(`${v}1`); // its receiver interrupts, synchronously
              s.next(`${v}2`);
              lateNext = (value) => s.next(value);
              return () => (torndown = true);
            }),
          interrupt,
          { onInterrupt: (v) => [`${v}!`] },
        ),
      )
      .subscribe({
        next: (value) => {
          seen.push(value);
          if (value === 'a1') interrupt.next();
        },
        error: (err) => seen.push(`error: ${String(err)}`),
      });
    source.next('a');
    expect(torndown).toBe(true);
    lateNext?.('a3');
    source.next('b');
    expect(seen).toEqual(['a1', 'a!', 'b1', 'b2']);
  });

  it('reports a throwing project as an error', () => {
    scheduler().run(({ hot, expectObservable }) => {
      const result = hot('-a').pipe(
        interruptibleConcatMap((): Observable<string> => {
          throw new Error('boom');
        }, hot('-')),
      );
      expectObservable(result).toBe('-#', undefined, new Error('boom'));
    });
  });

  it('aborts and unsubscribes the work in flight on early unsubscribe', () => {
    let signal: AbortSignal | undefined;
    scheduler().run(({ hot, cold, expectObservable, expectSubscriptions }) => {
      const inner = cold('----x');
      const result = hot('-a').pipe(
        interruptibleConcatMap((_v, s) => {
          signal = s;
          return inner;
        }, hot('-')),
        tap(),
      );
      expectObservable(result, '^--!').toBe('-');
      expectSubscriptions(inner.subscriptions).toBe('-^-!');
    });
    expect(signal?.aborted).toBe(true);
  });
});
