import type { CrewLogger } from '../session-options';
import type { CrewSession } from '../session';
import type { WsTransport } from './ws-transport';
import { recordOf } from '../scale/session-record';

/**
 * Resolves once `stop` (called on the first SIGINT or SIGTERM) has finished;
 * a second signal meanwhile exits the process at once with 1.
 */
export function untilSignalled(logger: CrewLogger, stop: (signal: NodeJS.Signals) => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) {
        logger.warn({ signal }, `${signal} again, exiting now`);
        process.exit(1);
      }
      signalled = true;
      void stop(signal).then(() => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve();
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** How often a drain looks whether every session has ended (ms). */
const DRAIN_POLL_MS = 100;

/** A drain's wait: `ended` resolves `true` once `live` is empty, `false` after `timeoutMs` or on `cancel()`. */
export function drained(live: ReadonlyMap<string, unknown>, timeoutMs: number): { ended: Promise<boolean>; cancel(): void } {
  let finish!: (done: boolean) => void;
  const ended = new Promise<boolean>((resolve) => {
    if (live.size === 0) return resolve(true);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const poll = setInterval(() => live.size === 0 && finish(true), DRAIN_POLL_MS);
    finish = (done) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve(done);
    };
  });
  return { ended, cancel: () => finish?.(false) };
}

/** How long a handed-over session waits for its client to answer the close before it ends anyway (ms). */
const HANDOVER_MS = 1000;

/**
 * Ends a session the server stops (a drain, a close, a resume elsewhere)
 * without losing what its client sent meanwhile: the close frame goes first,
 * and the session ends when the client has answered it — every event the
 * client sent before it has been taken in — or after `HANDOVER_MS`. With a
 * store, what the session holds is written as it was when the close went, and
 * the events that still come are kept for the holder the client resumes with
 * (they reach its graph after `system.session.resumed`). Without a socket of
 * ours (a Twilio stream), it stops at once.
 */
export function handOver(session: CrewSession, transport: WsTransport | undefined, code: number, reason: string): Promise<void> {
  if (transport === undefined || session.state === 'closed') return session.stop(reason, code);
  recordOf(session)?.handOver();
  transport.close(code, reason);
  const timer = setTimeout(() => void session.stop(reason, code), HANDOVER_MS);
  return session.waitUntilComplete().finally(() => clearTimeout(timer));
}

/** Resolves `true` once every one of `promises` has settled, or `false` after `ms`. */
export async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = Promise.allSettled(promises).then(() => true);
  try {
    return await Promise.race([settled, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
