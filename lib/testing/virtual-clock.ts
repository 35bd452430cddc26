/** One pending callback of the virtual clock. */
interface Pending {
  readonly id: number;
  at: number;
  /** As given (for `refresh()`). */
  readonly delay: number;
  readonly fn: () => void;
  /** For `setInterval`: run again this much later. */
  readonly period: number | undefined;
  cancelled: boolean;
}

/** What `setTimeout` returns while the clock is installed: enough of Node's `Timeout` for callers. */
class VirtualTimer {
  constructor(
    readonly id: number,
    private readonly clock: VirtualClock,
  ) {}
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    this.clock.refresh(this.id);
    return this;
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

type Globals = Pick<typeof globalThis, 'setTimeout' | 'clearTimeout' | 'setInterval' | 'clearInterval' | 'setImmediate' | 'clearImmediate' | 'Date'>;
const PATCHED = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'] as const;

/** The clock installed now, if any: the globals are one per process, so one clock at a time. */
let installed: VirtualClock | undefined;

/**
 * Virtual time for a whole program, not just for RxJS schedulers: while it is
 * installed, `setTimeout`, `setInterval`, `setImmediate` (and their `clear…`),
 * `Date` (`Date.now()` and `new Date()`) and `performance.now()` read and
 * schedule on this clock, which starts at 0 and moves only when `run` fires the
 * next callback. RxJS's `asyncScheduler` uses these globals, so `delay`,
 * `debounceTime`, `timer` and the like run in virtual time without a
 * `scheduler` argument; so do plain timers in nodes and in the runtime.
 *
 * Between callbacks `run` lets the microtask queue drain (one real macrotask
 * turn), so promise-based code — async setup, async generators, `await` in a
 * hook — runs at the virtual time it was woken at, as it would in Node.
 */
export class VirtualClock {
  /** What the callbacks threw (Node would report them as uncaught). */
  readonly errors: unknown[] = [];
  private time = 0;
  private nextId = 1;
  private queue: Pending[] = [];
  private readonly byId = new Map<number, Pending>();
  private saved: { globals: Globals; performanceNow: PropertyDescriptor | undefined } | undefined;
  private realSetImmediate: typeof setImmediate = setImmediate;

  /** The virtual time in ms (the marble frame). */
  readonly now = (): number => this.time;

  /** Callbacks waiting to run. */
  get pending(): number {
    return this.queue.length;
  }

  /** Runs `fn` at `now() + delay` (a delay below 0 or not a number counts as 0: the same frame, after what is due). */
  schedule(fn: () => void, delay = 0, period?: number): VirtualTimer {
    const id = this.nextId++;
    const wait = Number.isFinite(delay) && delay > 0 ? delay : 0;
    // a period of 0 would never let time move on (Node makes it 1 ms too); a delay of 0 stays
    // in this frame, as `timer(0)` does under `TestScheduler`
    const every = period === undefined ? undefined : Math.max(1, Number.isFinite(period) ? period : 1);
    const pending: Pending = { id, at: this.time + wait, delay: wait, fn, period: every, cancelled: false };
    this.byId.set(id, pending);
    this.insert(pending);
    return new VirtualTimer(id, this);
  }

  /** Cancels what `schedule` (or a patched `setTimeout`…) returned; ignores anything else. */
  cancel(handle: unknown): void {
    const id = typeof handle === 'number' ? handle : handle instanceof VirtualTimer ? handle.id : undefined;
    const pending = id === undefined ? undefined : this.byId.get(id);
    if (pending === undefined) return;
    pending.cancelled = true;
    this.byId.delete(pending.id);
    this.queue = this.queue.filter((p) => p !== pending);
  }

  /** `timeout.refresh()`: due again a full delay from now. */
  refresh(id: number): void {
    const pending = this.byId.get(id);
    if (pending === undefined) return;
    this.queue = this.queue.filter((p) => p !== pending);
    pending.at = this.time + pending.delay;
    this.insert(pending);
  }

  /**
   * Fires callbacks in time order, letting microtasks drain after each, while
   * `more()` holds and the next one is due by `until` (virtual ms). Time stays
   * at the last callback fired.
   */
  async run(until: number, more: () => boolean = () => true): Promise<void> {
    for (;;) {
      await this.settle();
      const next = this.queue[0];
      if (!more() || next === undefined || next.at > until) return;
      this.fire(next);
    }
  }

  /** Lets the microtask queue drain: what promises woke by the last callback runs at this virtual time. */
  settle(): Promise<void> {
    return new Promise<void>((resolve) => this.realSetImmediate(resolve));
  }

  /** Puts the clock in place of the global timers and dates. Throws if another clock is installed. */
  install(): void {
    if (installed !== undefined) {
      throw new Error('a virtual clock is already installed: run one testSession at a time (await each before the next)');
    }
    installed = this;
    const g = globalThis as unknown as Globals & Record<string, unknown>;
    const globals = Object.fromEntries(PATCHED.map((name) => [name, g[name]])) as unknown as Globals;
    this.saved = { globals, performanceNow: Object.getOwnPropertyDescriptor(performance, 'now') };
    this.realSetImmediate = globals.setImmediate;
    const later = (fn: (...args: unknown[]) => void, args: unknown[]) => () => fn(...args);
    g.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => this.schedule(later(fn, args), ms)) as never;
    g.setInterval = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => this.schedule(later(fn, args), ms, ms ?? 0)) as never;
    g.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => this.schedule(later(fn, args), 0)) as never;
    g.clearTimeout = g.clearInterval = g.clearImmediate = ((handle: unknown) => this.cancel(handle)) as never;
    g.Date = virtualDate(globals.Date, this.now);
    Object.defineProperty(performance, 'now', { value: this.now, configurable: true, writable: true });
  }

  /** Puts the real timers and dates back. What is still pending is dropped (it never runs). */
  uninstall(): void {
    if (this.saved === undefined) return;
    const g = globalThis as unknown as Record<string, unknown>;
    for (const name of PATCHED) g[name] = this.saved.globals[name];
    if (this.saved.performanceNow !== undefined) Object.defineProperty(performance, 'now', this.saved.performanceNow);
    else delete (performance as { now?: unknown }).now;
    this.saved = undefined;
    this.queue = [];
    this.byId.clear();
    if (installed === this) installed = undefined;
  }

  private fire(next: Pending): void {
    this.queue.shift();
    this.time = next.at;
    if (next.period === undefined) this.byId.delete(next.id);
    try {
      next.fn();
    } catch (err) {
      this.errors.push(err);
    }
    if (next.period !== undefined && !next.cancelled) {
      next.at = this.time + next.period;
      this.insert(next);
    }
  }

  private insert(pending: Pending): void {
    // after everything due at the same time or earlier: callbacks due together run in the order scheduled
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1].at > pending.at) i--;
    this.queue.splice(i, 0, pending);
  }
}

/** A `Date` whose `now()` and argument-less `new Date()` read `now`; anything else is the real `Date`. */
function virtualDate(RealDate: DateConstructor, now: () => number): DateConstructor {
  function VirtualDate(this: unknown, ...args: unknown[]): Date | string {
    if (new.target === undefined) return new RealDate(now()).toString();
    return args.length === 0 ? new RealDate(now()) : new (RealDate as new (...a: unknown[]) => Date)(...args);
  }
  // instances are real Dates: `instanceof` holds for either constructor
  VirtualDate.prototype = RealDate.prototype;
  return Object.assign(VirtualDate, { now, parse: RealDate.parse, UTC: RealDate.UTC }) as unknown as DateConstructor;
}
