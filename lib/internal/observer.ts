import type { CrewSession } from '../session';
import type { TurnMetrics } from '../turn-metrics';
import { introspect } from './introspection';

/** The kind of one frame a client sent: a JSON event, an audio frame, or one refused (bad JSON, too big, too deep, over a rate). */
export type FrameKind = 'json' | 'audio' | 'refused';

/** Why an event or a frame was not delivered. */
export type DropReason = 'rate_limited' | 'slow_client' | 'after_close' | 'prestart_overflow';

/**
 * What a session's runtime reports as it runs, for metrics and the
 * inspector. Every method is called on the session's hot path or near it:
 * an observer counts in plain numbers and does the rest when scraped.
 * Sessions made outside a `CrewApp` (or with `metrics: false` and no
 * inspector) have `NO_OBSERVER`, whose methods do nothing.
 */
export interface SessionObserver {
  /** A frame the client sent, by kind. */
  frame(kind: FrameKind): void;
  /** An event accepted from the client (`in`) or written to it (`out`). */
  event(type: string, direction: 'in' | 'out'): void;
  /** Something not delivered, and why. */
  dropped(reason: DropReason): void;
  /** A node's pipeline errored (by the node's name). */
  nodeError(node: string): void;
  /** The session ended with this close code. */
  closed(code: number): void;
  /** A `system.control.interrupt` entered the graph. */
  interrupt(): void;
  /** One agent turn's figures (`OutputCrewNode`, as sent in `agent.log` `turn.metrics`). */
  turn(metrics: Readonly<TurnMetrics>): void;
  /** After an interrupt: how long until the last agent audio was sent (ms). */
  interruptStopped(ms: number): void;
}

const nothing = (): void => {};

/** The observer of a session nobody observes. */
export const NO_OBSERVER: SessionObserver = Object.freeze({
  frame: nothing,
  event: nothing,
  dropped: nothing,
  nodeError: nothing,
  closed: nothing,
  interrupt: nothing,
  turn: nothing,
  interruptStopped: nothing,
});

/** Where a session's runtime keeps its observer (the runtime registers itself: lib/internal/introspection.ts). */
export interface Observed {
  observer: SessionObserver;
}

/** Gives `session` an observer (the app does, before setup runs). */
export function observeSession(session: CrewSession, observer: SessionObserver): void {
  const runtime = introspect(session);
  if (runtime !== undefined) runtime.observer = observer;
}

/** The observer of `session` (`NO_OBSERVER` if none), for nodes that report (turn figures). */
export function observerOf(session: CrewSession): SessionObserver {
  return introspect(session)?.observer ?? NO_OBSERVER;
}
