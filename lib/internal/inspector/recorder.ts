import type { CrewEvent } from '../../events';
import type { DeliveryTap, TapDirection } from '../introspection';
import { TURN_METRICS_LOG } from '../../turn-metrics';

/** One line of a session's recent events: a summary, never the event (audio is counted in bytes). */
export interface RecentEvent {
  /** When the last of these was seen (ms since the epoch). */
  t: number;
  type: string;
  dir: TapDirection;
  /** How many in a row (consecutive events of one type and direction are folded into one line). */
  n: number;
  /** Audio bytes, for events that carry an `audio` buffer. */
  bytes?: number;
  /** An `agent.log`'s name (a node's label, not user text; at most 64 characters). */
  name?: string;
}

/** How many lines of recent events a watched session keeps. */
export const RECENT_EVENTS = 50;
/** How many `turn.metrics` payloads a watched session keeps. */
export const RECENT_TURNS = 20;

/**
 * What the inspector keeps of one watched session: a ring of recent event
 * summaries and the last turn metrics. It is the session's delivery tap only
 * while someone watches (sessions nobody looks at have no recorder at all).
 */
export class SessionRecorder implements DeliveryTap {
  private readonly ring: RecentEvent[] = [];
  private head = 0;
  private readonly turnList: unknown[] = [];
  /** Bumped on every change, so the feed can tell whether there is anything new. */
  version = 0;

  seen(e: CrewEvent, dir: TapDirection): void {
    this.version++;
    const name = e.type === 'agent.log' && typeof e.name === 'string' ? e.name.slice(0, 64) : undefined;
    if (name === TURN_METRICS_LOG) {
      if (this.turnList.length === RECENT_TURNS) this.turnList.shift();
      this.turnList.push(e.payload);
    }
    const audio = e.audio;
    const bytes = audio instanceof Uint8Array ? audio.byteLength : undefined;
    const last = this.ring.length === 0 ? undefined : this.ring[(this.head + this.ring.length - 1) % RECENT_EVENTS];
    const t = Date.now();
    if (last !== undefined && last.type === e.type && last.dir === dir && last.name === name) {
      last.n++;
      last.t = t;
      if (bytes !== undefined) last.bytes = (last.bytes ?? 0) + bytes;
      return;
    }
    const line: RecentEvent = { t, type: e.type, dir, n: 1 };
    if (bytes !== undefined) line.bytes = bytes;
    if (name !== undefined) line.name = name;
    if (this.ring.length < RECENT_EVENTS) this.ring.push(line);
    else {
      this.ring[this.head] = line;
      this.head = (this.head + 1) % RECENT_EVENTS;
    }
  }

  /** The recent events, oldest first. */
  recent(): RecentEvent[] {
    return [...this.ring.slice(this.head), ...this.ring.slice(0, this.head)];
  }

  /** The `turn.metrics` payloads seen, oldest first. */
  turns(): unknown[] {
    return this.turnList.slice();
  }
}
