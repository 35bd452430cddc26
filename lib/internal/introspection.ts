import type { CrewEvent } from '../events';
import type { CrewSession } from '../session';

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

const runtimes = new WeakMap<CrewSession, Introspectable>();

/** Called by the runtime when it is made. */
export function registerIntrospectable(session: CrewSession, runtime: Introspectable): void {
  runtimes.set(session, runtime);
}

/** The runtime of `session`, for the inspector. */
export function introspect(session: CrewSession): Introspectable | undefined {
  return runtimes.get(session);
}
