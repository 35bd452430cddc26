import type { CrewEvent } from '../events';

/*
 * What `rxcrew chat` keeps track of between events (lib/cli/chat.ts), and how
 * it describes a lost connection and a refused resume.
 */

/** `waiting`: the connection is lost and the next attempt is due. */
export type Phase = 'connecting' | 'open' | 'joining' | 'ready' | 'waiting' | 'closing' | 'closed';

/** A reply in flight: requested by us, or started by the agent. */
export interface Reply {
  /** What the user has seen of it. */
  text: string;
  interrupted: boolean;
  /** The user's line it answers (when we asked for it). */
  line: string | undefined;
  /** `agent.llm.response.start` (or a chunk) has come: the agent has the request. */
  started: boolean;
}

/** A lost connection, from the loss until a new one is joined or we give up. */
export interface Outage {
  readonly code: number;
  readonly since: number;
  /** Attempts made so far. */
  attempts: number;
  /** Why the last attempt failed. */
  problem: string | undefined;
  /** The session to get back. */
  readonly sessionId: string | undefined;
  /** The reply the loss cut short. */
  readonly cut: Reply | undefined;
  /** Why the server would not resume (`CREW_ERR_RESUME_REFUSED`). */
  refusal: string | undefined;
}

/** `1012 server restart`, or the code with what the socket reported (`1006 ECONNRESET`). */
export function describeClose(code: number, reason: string, problem: string | undefined): string {
  const why = reason || problem;
  return why ? `${code} ${why}` : String(code);
}

export function errorCode(e: CrewEvent): unknown {
  const payload = e.payload as { code?: unknown } | undefined;
  return payload?.code;
}

/** What a `CREW_ERR_RESUME_REFUSED` says: `payload.reason`, else its message. */
export function refusalReason(e: CrewEvent): string {
  const reason = (e.payload as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' && reason !== '' ? reason : String(e.message ?? 'refused');
}
