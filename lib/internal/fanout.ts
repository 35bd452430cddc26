import { Observable, Subscriber } from 'rxjs';

/**
 * A hot Observable the runtime pushes into: what a `Subject` does for a
 * node's input, `interrupt$` and `events$`, at a fraction of its size and
 * per-value cost. It keeps its subscribers in one array and nothing per
 * subscriber (no teardown closure): a subscriber that unsubscribes is skipped
 * and dropped at the next push or subscribe. An idle session holds one of
 * these per node, so the saving counts per session, not per event.
 *
 * Like a `Subject`: a value goes to the subscribers present when `push`
 * started; a subscriber that arrives after `complete()` completes at once.
 * Unlike one, it has no `next`/`error` for its consumers to call: they see an
 * `Observable`. Built on the public `Observable` constructor (its subscribe
 * function), not on RxJS's protected `_subscribe`.
 */
export class Fanout<T> extends Observable<T> {
  private subscribers: Subscriber<T>[] | undefined;
  private done = false;

  constructor() {
    // `this` cannot be named before super(): the subscribe function reaches it through `self`
    let self: Fanout<T> | undefined = undefined;
    super((subscriber) => self!.add(subscriber));
    self = this;
  }

  /** Whether anyone is subscribed (closed subscribers not yet dropped may count). */
  get observed(): boolean {
    return this.subscribers !== undefined && this.subscribers.length > 0;
  }

  /** Delivers `value` to each current subscriber, in subscription order. */
  push(value: T): void {
    const subscribers = this.subscribers;
    if (subscribers === undefined) return;
    // a subscriber added during this push is in a new array: it does not get `value`
    let closed = 0;
    for (let i = 0; i < subscribers.length; i++) {
      const s = subscribers[i];
      if (s.closed) closed++;
      else s.next(value);
    }
    if (closed > 0) this.prune();
  }

  /** Completes every subscriber; later subscribers complete at once. */
  complete(): void {
    if (this.done) return;
    this.done = true;
    const subscribers = this.subscribers;
    this.subscribers = undefined;
    if (subscribers !== undefined) for (const s of subscribers) if (!s.closed) s.complete();
  }

  private add(subscriber: Subscriber<T>): void {
    if (this.done) {
      subscriber.complete();
      return;
    }
    // copy on write: a push in progress keeps iterating the array it started with
    this.subscribers = live(this.subscribers, subscriber);
  }

  private prune(): void {
    this.subscribers = live(this.subscribers, undefined);
  }
}

/**
 * The open subscribers of `list`, plus `added`, in an array of exactly that
 * length (a pushed-to array reserves room for 16), or undefined for none.
 */
function live<T>(list: Subscriber<T>[] | undefined, added: Subscriber<T> | undefined): Subscriber<T>[] | undefined {
  let n = added === undefined ? 0 : 1;
  if (list !== undefined) for (const s of list) if (!s.closed) n++;
  if (n === 0) return undefined;
  const out = new Array<Subscriber<T>>(n);
  let i = 0;
  if (list !== undefined) for (const s of list) if (!s.closed) out[i++] = s;
  if (added !== undefined) out[i] = added;
  return out;
}
