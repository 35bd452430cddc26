import { CloseCodes } from '../transport';

/*
 * When and where `rxcrew chat` reconnects after losing its connection: the
 * backoff between attempts, the bound on the whole outage, and the URL that
 * carries the resume token.
 */

export interface ReconnectPolicy {
  /** Attempts after one loss before giving up. */
  maxAttempts: number;
  /** How long after the loss the last attempt may start (ms). */
  maxOutageMs: number;
  /** The wait before the first retry, doubled each time (ms). */
  baseDelayMs: number;
  /** The longest wait between attempts (ms). */
  maxDelayMs: number;
}

/** The defaults: 10 attempts within 30 s, waits of 100 ms doubling up to 2 s. */
export const RECONNECT: Readonly<ReconnectPolicy> = Object.freeze({
  maxAttempts: 10,
  maxOutageMs: 30_000,
  baseDelayMs: 100,
  maxDelayMs: 2_000,
});

/**
 * The wait before attempt `attempt` (0 = the first) after a loss with close code
 * `code`. A drained worker (1012) closed on purpose, with its session saved:
 * the first attempt goes at once. Otherwise 100 ms, 200 ms, … up to `maxDelayMs`,
 * each between half and all of that ("equal jitter"), so that clients dropped
 * together do not come back together.
 */
export function reconnectDelay(attempt: number, code: number, policy: ReconnectPolicy = RECONNECT, random: () => number = Math.random): number {
  const step = code === CloseCodes.SERVICE_RESTART ? attempt - 1 : attempt;
  if (step < 0) return 0;
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(step, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** `url` with `resume=token` in its query, other parameters kept. */
export function resumeUrl(url: string, token: string): string {
  const target = new URL(url);
  target.searchParams.set('resume', token);
  return target.toString();
}
