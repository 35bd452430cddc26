/**
 * What a test helper has received, in order, with `next()` to await the
 * first one not yet read (optionally: the first matching, skipping the rest).
 * `TestClient` and `TwilioCaller` keep their received events in one.
 */
export class Inbox<T> {
  /** Everything received, in order, read or not. */
  readonly items: T[] = [];
  private cursor = 0;
  private waiters: Array<() => void> = [];
  private ended: string | undefined;

  constructor(
    /** Who is waiting, for error messages: `TestClient`, `TwilioCaller`. */
    private readonly owner: string,
    /** How an item is named in "received: …". */
    private readonly nameOf: (item: T) => string,
  ) {}

  /** Adds `item`; `announce` runs once it is in `items` and before any `next()` hears of it. */
  push(item: T, announce?: (item: T) => void): void {
    this.items.push(item);
    announce?.(item);
    for (const w of [...this.waiters]) w();
  }

  /**
   * No more will come (`why`, e.g. "the stream closed"): a `next()` still
   * waiting, or called later, rejects at once when nothing left matches.
   */
  end(why: string): void {
    if (this.ended !== undefined) return;
    this.ended = why;
    for (const w of [...this.waiters]) w();
  }

  /** The next item not yet read that passes `test`; rejects after `timeout` ms, listing what was received. */
  next<U extends T = T>(test: (item: T) => boolean, timeout: number, described: string): Promise<U> {
    return new Promise<U>((resolve, reject) => {
      const attempt = (): boolean => {
        while (this.cursor < this.items.length) {
          const item = this.items[this.cursor++];
          if (test(item)) {
            resolve(item as U);
            return true;
          }
        }
        if (this.ended === undefined) return false;
        reject(new Error(`${this.owner}.next(${described}): nothing matched before ${this.ended}; received: ${this.summary()}`));
        return true;
      };
      if (attempt()) return;
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.owner}.next(${described}): nothing matched within ${timeout} ms; received: ${this.summary()}`));
      }, timeout);
      const waiter = () => {
        if (attempt()) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== waiter);
        }
      };
      this.waiters.push(waiter);
    });
  }

  private summary(): string {
    return this.items.map(this.nameOf).join(', ') || 'nothing';
  }
}
