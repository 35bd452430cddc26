import { Observable } from 'rxjs';
import { CrewEvent, CrewNode, NodeContext, event } from 'rxcrew';

/** What the tracker knows about one session, kept in `ctx.context` under `stats`. */
export interface SessionStats {
  /** Events seen, by type (only what reaches the tracker: client and runtime events). */
  events: Record<string, number>;
  /** Messages the user said (`agent.transcript.update` with role `user`). */
  user_turns: number;
  /** Requests for an agent reply (`system.llm.request`). */
  llm_requests: number;
}

/** The context key the summary lives under. */
export const STATS_KEY = 'stats';

/**
 * Counts what flows through it and passes every event on unchanged, so it can
 * sit in front of the agent (tracker → agent). The running summary is in
 * `ctx.context.get('stats')`; when the user leaves it also emits an
 * `agent.log` {name: 'stats', payload} with a snapshot, which hooks and
 * `session.events$` see.
 */
export class StatsTracker extends CrewNode {
  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    // Per-session state, created when the session wires its graph. The context holds
    // the live object, so `context.get('stats')` is current without a copy per event.
    const stats: SessionStats = { events: {}, user_turns: 0, llm_requests: 0 };
    ctx.context.set(STATS_KEY, stats);

    // A pass-through that adds an event now and then needs no operator chain: one
    // Observable with one subscription to the input, all a session keeps while idle.
    return new Observable<CrewEvent>((out) =>
      input$.subscribe({
        next: (e) => {
          count(stats, e);
          // The same object goes on (no copy), so the session publishes it on the bus only once.
          out.next(e);
          if (e.type === 'system.user.left') out.next(report(stats, ctx.session.id));
        },
        error: (err: unknown) => out.error(err),
        complete: () => out.complete(),
      }),
    );
  }
}

/** Counts one event into `stats`. */
function count(stats: SessionStats, e: CrewEvent): void {
  stats.events[e.type] = (stats.events[e.type] ?? 0) + 1;
  if (e.type === 'agent.transcript.update' && e.role === 'user') stats.user_turns++;
  if (e.type === 'system.llm.request') stats.llm_requests++;
}

/** The summary as an `agent.log`. Its payload is a snapshot: later counting must not change an event already sent. */
function report(stats: SessionStats, sessionId: string): CrewEvent {
  return event('agent.log', {
    name: 'stats',
    payload: { session_id: sessionId, events: { ...stats.events }, user_turns: stats.user_turns, llm_requests: stats.llm_requests },
  });
}
