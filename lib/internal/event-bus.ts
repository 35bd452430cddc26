import type { Observable } from 'rxjs';
import { describeError, ErrorCodes, errorClass } from '../errors';
import { CrewEvent, event } from '../events';
import { EventHandler, Hook, HookRegistry } from '../hooks';
import type { CrewLogger, CrewSession } from '../session';
import { Fanout } from './fanout';

/**
 * A session's bus: every event is published once (per object), to the hooks
 * that match its type, then to `events$` subscribers. A publication made
 * while another is running waits for it, so hooks see events in order. A
 * failing hook is reported through `report` (an `agent.error`), and one that
 * fails on such a report is only logged. Async hooks are tracked so that
 * teardown can wait for them.
 *
 * One bus per session, most of them idle: everything but the hooks is created
 * on first use.
 */
export class EventBus {
  private readonly hooks = new HookRegistry();
  private readonly subject = new Fanout<CrewEvent>();
  private seen: WeakSet<object> | undefined;
  private publishing = false;
  private backlog: CrewEvent[] | undefined;
  private reports: WeakSet<object> | undefined;
  private pending: Set<Promise<unknown>> | undefined;
  /** After teardown, failures are only logged. */
  private quiet = false;

  constructor(
    private readonly session: CrewSession,
    private readonly logger: CrewLogger,
  ) {}

  /** Every event once, as it happens (what `session.events$` is). */
  get events$(): Observable<CrewEvent> {
    return this.subject;
  }

  on(pattern: string, handler: EventHandler): () => void {
    return this.hooks.add(pattern, handler);
  }

  publish(e: CrewEvent): void {
    const hooks = this.hooks.match(e.type);
    const observed = this.subject.observed;
    // nobody listens for this type: skip even the once-per-object bookkeeping
    if (hooks.length === 0 && !observed) return;
    const seen = (this.seen ??= new WeakSet());
    if (seen.has(e)) return;
    seen.add(e);
    if (this.publishing) {
      (this.backlog ??= []).push(e);
      return;
    }
    this.publishing = true;
    try {
      this.run(hooks, e, observed);
      const backlog = this.backlog;
      while (backlog !== undefined && backlog.length > 0) {
        const next = backlog.shift()!;
        this.run(this.hooks.match(next.type), next, this.subject.observed);
      }
    } finally {
      this.publishing = false;
    }
  }

  /** From now on a failing hook is only logged (the session can no longer send). */
  silence(): void {
    this.quiet = true;
  }

  /** Waits for hooks still running, up to `timeout` ms; then ends `events$` and drops the hooks. */
  async close(timeout: number): Promise<void> {
    if (this.pending !== undefined && this.pending.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeout);
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...this.pending]), deadline]);
      clearTimeout(timer);
    }
    this.subject.complete();
    this.hooks.clear();
  }

  private run(hooks: readonly Hook[], e: CrewEvent, observed: boolean): void {
    for (let i = 0; i < hooks.length; i++) {
      const hook = hooks[i];
      try {
        const result = hook.handler(this.session, e);
        if (result !== undefined && result !== null && typeof (result as Promise<void>).then === 'function') {
          this.track(result as Promise<void>, hook, e);
        }
      } catch (err) {
        this.failed(hook, e, err);
      }
    }
    if (observed) this.subject.push(e);
  }

  private track(promise: Promise<void>, hook: Hook, e: CrewEvent): void {
    const tracked = promise.then(
      () => undefined,
      (err: unknown) => this.failed(hook, e, err),
    );
    const pending = (this.pending ??= new Set());
    pending.add(tracked);
    void tracked.finally(() => pending.delete(tracked));
  }

  private failed(hook: Hook, e: CrewEvent, err: unknown): void {
    if (this.reports?.has(e) || this.quiet) {
      this.logger.error(`rxcrew: session ${this.session.id}: hook "${hook.pattern}" failed on "${e.type}":`, err);
      return;
    }
    const report = event('agent.error', {
      message: `hook "${hook.pattern}" failed on "${e.type}": ${describeError(err)}`,
      severity: 'warning',
      payload: {
        code: ErrorCodes.HOOK_FAILED,
        pattern: hook.pattern,
        event_type: e.type,
        error_class: errorClass(err),
        message: describeError(err),
      },
    });
    (this.reports ??= new WeakSet()).add(report);
    this.session.send(report);
  }
}
