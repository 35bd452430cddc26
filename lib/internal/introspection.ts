import type { CrewSession } from '../session';
import type { DeliveryCounts, DeliveryTap } from './delivery';

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
