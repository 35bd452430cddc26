import type { Observable } from 'rxjs';
import { agentError } from '../agent-error';
import { ErrorCodes } from '../errors';
import type { CrewEvent } from '../events';
import { EventHandler, Hook, HookRegistry } from '../hooks';
import type { CrewSession } from '../session';
import type { CrewLogger } from '../session-options';
import { Fanout } from './fanout';

/** What a bus reports to: the runtime of its session. */
export interface BusOwner {
  /** The session hooks are called with. */
  readonly session: CrewSession;
  readonly logger: CrewLogger;
  /** Sends a hook's failure report (an `agent.error`) to the client. */
  report(e: CrewEvent): void;
}

/**
 * A session's bus: every event is published once (per object), to the hooks
 * that match its type, then to `events$` subscribers. A publication made
 * while another is running waits for it, so hooks see events in order. A
 * failing hook is reported through `report` (an `agent.error`), and one that
 * fails on such a report is only logged. Async hooks are tracked so that
 * teardown can wait for them.
 *
 * A session makes its bus when the first hook is added or `events$` is read
 * (most sessions of a server have neither), and what the bus keeps is made on first use.
 */
export class EventBus {
  private readonly hooks = new HookRegistry();
  private readonly subject = new Fanout<CrewEvent>();
  private seen: WeakSet<object> | undefined;
  /** The object published last (also in `seen`): checked before the WeakSet. */
  private last: CrewEvent | undefined;
  private publishing = false;
  private backlog: CrewEvent[] | undefined;
  private backlogFromClient: boolean[] | undefined;
  private reports: WeakSet<object> | undefined;
  private pending: Set<Promise<unknown>> | undefined;
  /** After teardown, failures are only logged. */
  private quiet = false;

  constructor(private readonly owner: BusOwner) {}

  /** Every event once, as it happens (what `session.events$` is). */
  get events$(): Observable<CrewEvent> {
    return this.subject;
  }

  on(pattern: string, handler: EventHandler): () => void {
    return this.hooks.add(pattern, handler);
  }

  /** Publishes `e` (once per object); `fromClient`: it came from the client (`on_event_received` hooks see it). */
  publish(e: CrewEvent, fromClient: boolean): void {
    // a pass-through node forwards the object it was given: the one just published
    if (e === this.last) return;
    const hooks = this.hooks.match(e.type, fromClient);
    const observed = this.subject.observed;
    // nobody listens for this type: skip even the once-per-object bookkeeping
    if (hooks.length === 0 && !observed) return;
    const seen = (this.seen ??= new WeakSet());
    if (seen.has(e)) return;
    seen.add(e);
    this.last = e;
    if (this.publishing) {
      (this.backlog ??= []).push(e);
      (this.backlogFromClient ??= []).push(fromClient);
      return;
    }
    this.publishing = true;
    try {
      this.run(hooks, e, observed);
      const backlog = this.backlog;
      const backlogFromClient = this.backlogFromClient;
      while (backlog !== undefined && backlog.length > 0) {
        const next = backlog.shift()!;
        this.run(this.hooks.match(next.type, backlogFromClient!.shift()!), next, this.subject.observed);
      }
    } finally {
      this.publishing = false;
    }
  }

  /**
   * The session has closed: from now on a failing hook is only logged (nothing
   * can be sent). Waits for hooks still running, up to `timeout` ms; then ends
   * `events$` and drops the hooks.
   */
  async close(timeout: number): Promise<void> {
    this.quiet = true;
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
        const result = hook.handler(this.owner.session, e);
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
      this.owner.logger.error({ event_type: e.type, pattern: hook.pattern, err }, `hook "${hook.pattern}" failed on "${e.type}"`);
      return;
    }
    const report = agentError(ErrorCodes.HOOK_FAILED, err, { details: { pattern: hook.pattern, event_type: e.type } });
    (this.reports ??= new WeakSet()).add(report);
    this.owner.report(report);
  }
}
