import { closeCodeOf, crewError, ErrorCodes } from '../errors';
import type { CrewSession } from '../session';
import type { WsTransport } from './ws-transport';

/** A connection the heartbeat watches besides the app's WebSocket transports (a Twilio stream). */
export interface Heartbeat {
  /** Set by the connection on every message and pong; cleared by the heartbeat before each ping. */
  alive: boolean;
  ping(): void;
  terminate(): void;
}

/** The deadlines the sweeps enforce (ms; 0 turns one off). */
export interface SweepOptions {
  readonly heartbeatInterval: number;
  readonly idleTimeout: number;
  readonly setupTimeout: number;
}

/**
 * The app's timers that watch live connections, one interval per concern for
 * all sessions (a timer per session would stay with it for its whole life):
 * the heartbeat (ping every client, terminate one silent since the last ping),
 * the idle check (fail a session quiet for `idleTimeout`), and the setup sweep
 * (fail a session not started within `setupTimeout`; it runs exactly while a
 * session waits for its start). Every timer is unref'd.
 */
export class Sweeps {
  private timers: NodeJS.Timeout[] = [];
  /** Sessions not started yet (by id), with when they were accepted. */
  private readonly unstarted = new Map<string, number>();
  private setupSweep: NodeJS.Timeout | undefined;
  /** Other connections the heartbeat watches (Twilio streams). */
  private readonly others = new Set<Heartbeat>();

  constructor(
    private readonly options: SweepOptions,
    private readonly transports: ReadonlyMap<string, WsTransport>,
    private readonly live: ReadonlyMap<string, CrewSession>,
  ) {}

  /** Starts the heartbeat and the idle check (those not turned off). */
  start(): void {
    const { heartbeatInterval, idleTimeout } = this.options;
    if (heartbeatInterval > 0) {
      this.timers.push(
        setInterval(() => {
          for (const t of this.transports.values()) beat(t);
          for (const h of this.others) beat(h);
        }, heartbeatInterval),
      );
    }
    if (idleTimeout > 0) {
      this.timers.push(
        setInterval(() => {
          const now = Date.now();
          for (const [id, t] of this.transports) {
            if (t.messages !== t.seenMessages) {
              t.seenMessages = t.messages;
              t.quietSince = now;
              continue;
            }
            if (now - t.quietSince < idleTimeout) continue;
            const idle = crewError(ErrorCodes.IDLE_TIMEOUT, { ms: idleTimeout });
            void this.live.get(id)?.fail(idle, 'idle timeout', closeCodeOf(ErrorCodes.IDLE_TIMEOUT));
          }
        }, checkEvery(idleTimeout / 4)),
      );
    }
    for (const t of this.timers) t.unref();
  }

  /** Watches `h` with the heartbeat until `unwatch(h)` (it must call that when it closes). */
  watch(h: Heartbeat): void {
    this.others.add(h);
  }

  unwatch(h: Heartbeat): void {
    this.others.delete(h);
  }

  /** Fails `session` if setup has not started it within `setupTimeout` (unless that is 0). */
  watchSetup(session: CrewSession): void {
    const { setupTimeout } = this.options;
    // 0 turns the setup timeout off, as it does the heartbeat and the idle timeout
    if (setupTimeout <= 0) return;
    this.unstarted.set(session.id, Date.now());
    if (this.setupSweep !== undefined) return;
    this.setupSweep = setInterval(() => {
      const now = Date.now();
      for (const [id, since] of this.unstarted) {
        if (now - since < setupTimeout) continue;
        const late = crewError(ErrorCodes.SETUP_TIMEOUT, { ms: setupTimeout });
        const session = this.live.get(id);
        this.setupDone(id);
        void session?.fail(late, 'setup timed out');
      }
    }, checkEvery(setupTimeout / 10));
    this.setupSweep.unref();
  }

  /** Session `id` started or ended: setup no longer watched; the sweep stops with the last one. */
  setupDone(id: string): void {
    if (!this.unstarted.delete(id) || this.unstarted.size > 0) return;
    clearInterval(this.setupSweep);
    this.setupSweep = undefined;
  }

  /** Stops every timer (the app is closing). */
  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearInterval(this.setupSweep);
    this.setupSweep = undefined;
    this.unstarted.clear();
  }
}

/** How often a sweep checks a deadline: `ms`, kept between 10 ms and 1 s. */
export function checkEvery(ms: number): number {
  return Math.max(10, Math.min(1000, ms));
}

/** One heartbeat for one connection: terminate it if nothing came since the last ping, else ping again. */
function beat(h: Heartbeat): void {
  if (!h.alive) return h.terminate();
  h.alive = false;
  h.ping();
}
