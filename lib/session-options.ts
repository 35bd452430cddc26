import type { CrewLogger } from './logger';

export type { CrewLogger };

export interface CrewSessionOptions {
  /** Default: a random UUID. */
  id?: string;
  /** Default: one shared `jsonLogger()` (JSON lines on stderr). */
  logger?: CrewLogger;
  /** How long teardown waits for hooks still running (ms). Default 5000. */
  teardownTimeout?: number;
  /** Limits on what the client may send; see `DEFAULT_SESSION_LIMITS`. */
  limits?: Partial<SessionLimits>;
  /** Who the client is, as `CrewApp`'s `authenticate` found (available as `session.auth`). */
  auth?: unknown;
  /** The clock for rate limits (ms). Default `performance.now`. */
  now?: () => number;
}

/** Limits on what one client may send. Documented in docs/api.md and docs/security.md. */
export interface SessionLimits {
  /** Largest frame, in bytes; a bigger one is reported and closes the connection (1009). */
  maxFrameBytes: number;
  /** Deepest nesting of objects and arrays in a JSON event. */
  maxJsonDepth: number;
  /** JSON events per second (a second's worth may come at once). */
  maxEventsPerSecond: number;
  /** Audio frames per second, counted apart from events. */
  maxAudioFramesPerSecond: number;
  /** Client events held before `start()`; one more closes the connection (1008). */
  maxPrestartEvents: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxJsonDepth: 32,
  maxEventsPerSecond: 100,
  maxAudioFramesPerSecond: 200,
  maxPrestartEvents: 1024,
});

export type SessionState = 'created' | 'running' | 'closed';

/** The limits as given, when complete and frozen (as `CrewApp` passes them to each session), else a frozen copy. */
export function sessionLimits(limits: Partial<SessionLimits> | undefined): Readonly<SessionLimits> {
  if (limits === undefined) return DEFAULT_SESSION_LIMITS;
  if (Object.isFrozen(limits) && (Object.keys(DEFAULT_SESSION_LIMITS) as Array<keyof SessionLimits>).every((k) => limits[k] !== undefined)) {
    return limits as Readonly<SessionLimits>;
  }
  return Object.freeze({ ...DEFAULT_SESSION_LIMITS, ...limits });
}
