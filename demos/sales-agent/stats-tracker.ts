import { Observable, mergeMap, tap } from 'rxjs';
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

    const count = (e: CrewEvent): void => {
      stats.events[e.type] = (stats.events[e.type] ?? 0) + 1;
      if (e.type === 'agent.transcript.update' && e.role === 'user') stats.user_turns++;
      if (e.type === 'system.llm.request') stats.llm_requests++;
    };

    // The payload is a snapshot: later counting must not change an event already sent.
    const report = (): CrewEvent =>
      event('agent.log', {
        name: 'stats',
        payload: { session_id: ctx.session.id, events: { ...stats.events }, user_turns: stats.user_turns, llm_requests: stats.llm_requests },
      });

    return input$.pipe(
      tap(count),
      // The same object goes on (no copy), so the session publishes it on the bus only once.
      mergeMap((e) => (e.type === 'system.user.left' ? [e, report()] : [e])),
    );
  }
}
