import { Subscription, take } from 'rxjs';
import { Fanout } from '../../lib/internal/fanout';

/** Subscribes and records what arrives: values, then `|` for complete. */
function record<T>(fanout: Fanout<T>): { seen: Array<T | '|'>; subscription: Subscription } {
  const seen: Array<T | '|'> = [];
  const subscription = fanout.subscribe({ next: (v) => seen.push(v), complete: () => seen.push('|') });
  return { seen, subscription };
}

describe('Fanout', () => {
  it('pushes nothing anywhere with no subscriber, and is not observed', () => {
    const f = new Fanout<number>();
    expect(f.observed).toBe(false);
    expect(() => f.push(1)).not.toThrow();
  });

  it('delivers each value to every subscriber, in subscription order', () => {
    const f = new Fanout<number>();
    const order: string[] = [];
    f.subscribe((v) => order.push(`a${v}`));
    f.subscribe((v) => order.push(`b${v}`));
    f.push(1);
    f.push(2);
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2']);
    expect(f.observed).toBe(true);
  });

  it('is hot: a late subscriber gets only what is pushed after it subscribed', () => {
    const f = new Fanout<number>();
    const early = record(f);
    f.push(1);
    const late = record(f);
    f.push(2);
    expect(early.seen).toEqual([1, 2]);
    expect(late.seen).toEqual([2]);
  });

  it('does not give the value being pushed to a subscriber added during the push (as a Subject)', () => {
    const f = new Fanout<number>();
    const late: number[] = [];
    let added = false;
    f.subscribe((v) => {
      if (!added) {
        added = true;
        f.subscribe((w) => late.push(w));
      }
    });
    f.push(1);
    f.push(2);
    expect(late).toEqual([2]);
  });

  it('skips a subscriber that unsubscribed, also one that leaves during a push', () => {
    const f = new Fanout<number>();
    const b: number[] = [];
    let second: Subscription | undefined;
    f.subscribe((v) => {
      if (v === 2) second?.unsubscribe(); // the next subscriber leaves while 2 is being pushed
    });
    second = f.subscribe((v) => b.push(v));
    f.push(1);
    f.push(2);
    f.push(3);
    expect(b).toEqual([1]);
    const c = record(f);
    f.push(4);
    expect(c.seen).toEqual([4]);
    c.subscription.unsubscribe();
    expect(f.observed).toBe(true); // the first subscriber is still there
  });

  it('drops unsubscribed subscribers, so churn does not grow it', () => {
    const f = new Fanout<number>();
    for (let i = 0; i < 1000; i++) f.subscribe(() => undefined).unsubscribe();
    const kept = (f as unknown as { subscribers?: unknown[] }).subscribers;
    expect(kept === undefined || kept.length <= 1).toBe(true);
    f.push(1);
    expect(f.observed).toBe(false);
  });

  it('completes every subscriber once; a later subscriber completes at once and pushes are ignored', () => {
    const f = new Fanout<number>();
    const a = record(f);
    f.push(1);
    f.complete();
    f.complete();
    f.push(2);
    const late = record(f);
    expect(a.seen).toEqual([1, '|']);
    expect(late.seen).toEqual(['|']);
    expect(late.subscription.closed).toBe(true);
  });

  it('works under operators: take(2) unsubscribes itself and is skipped afterwards', () => {
    const f = new Fanout<number>();
    const got: Array<number | '|'> = [];
    f.pipe(take(2)).subscribe({ next: (v) => got.push(v), complete: () => got.push('|') });
    f.push(1);
    f.push(2);
    f.push(3);
    expect(got).toEqual([1, 2, '|']);
    expect(f.observed).toBe(false);
  });
});
