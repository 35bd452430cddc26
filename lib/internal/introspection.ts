import type { CrewEvent } from '../events';
import type { CrewSession } from '../session';
import type { Observed } from './observer';
import type { SessionRecord } from '../scale/session-record';

/** Where an event seen by a `DeliveryTap` was going: from the client, injected at the root, or to the client. */
export type TapDirection = 'in' | 'inject' | 'out';

/** What watches a session's events as they pass (the inspector, only while someone looks at the session). */
export interface DeliveryTap {
  seen(e: CrewEvent, direction: TapDirection): void;
}

/** A session's counters: per node (in wiring order), events from the client, and events written to it. */
export interface DeliveryCounts {
  readonly nodes: ReadonlyArray<{ readonly name: string; readonly received: number; readonly emitted: number }>;
  readonly fromClient: number;
  readonly toClient: number;
}

/** What the inspector may read of a session's runtime (nothing here is public API). */
export interface Introspectable {
  /** Per-node and edge counters, copied. */
  counts(): DeliveryCounts;
  /** Sets (or, with `undefined`, removes) what sees every event entering or leaving the graph. */
  setTap(tap: DeliveryTap | undefined): void;
}

/** The session's entry in the app's store (lib/scale/session-record.ts), when the app has one. */
export interface Recorded {
  record: SessionRecord | undefined;
}

/** What of a session's runtime the app, its store and its inspector reach, by the session (one registry for all). */
export type RegisteredRuntime = Introspectable & Observed & Recorded;

const runtimes = new WeakMap<CrewSession, RegisteredRuntime>();

/** Called by the runtime when it is made. */
export function registerRuntime(session: CrewSession, runtime: RegisteredRuntime): void {
  runtimes.set(session, runtime);
}

/** The runtime of `session` (for the inspector, and for `observeSession`/`observerOf`). */
export function introspect(session: CrewSession): RegisteredRuntime | undefined {
  return runtimes.get(session);
}
