import type { CrewEvent } from './events';

/** Where a session's outbound events go: a WebSocket, an in-memory test client, a phone bridge. */
export interface CrewTransport {
  /**
   * Sends one event to the client. Events with an `audio` buffer are audio.
   * `binary`: the client's latest JSON message came in a binary frame, so a
   * JSON event goes in one too (the Atoms platform sends JSON that way).
   * Must not throw.
   */
  send(event: CrewEvent, binary: boolean): void;
  /** Closes the connection. The transport reports the end with `connection.end()`. */
  close(code: number, reason: string): void;
  /** Told once, when the session has started (just before `agent.ready` is sent). */
  started?(): void;
  /**
   * Told of each `system.control.interrupt` as it enters the graph (after the
   * nodes): a transport that buffers audio on the far side (a phone line)
   * clears it here. Must not throw.
   */
  interrupted?(e: CrewEvent): void;
}

/** The session's side of an attached transport: feed it what the client sends. */
export interface CrewConnection {
  /** One raw frame from the client: text is JSON; binary is JSON or audio. */
  receive(data: string | Buffer, isBinary?: boolean): void;
  /** One already-decoded JSON value from the client (validated like a frame). */
  receiveValue(value: unknown): void;
  /** The connection has ended; the session emits `system.user.left` and tears down. */
  end(code: number, reason: string): void;
}

/** Close codes the runtime uses (RFC 6455). */
export const CloseCodes = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** The server is restarting (a drained worker): the client should reconnect, with its resume token when it has one. */
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
});

/** Codes an application may close with: the runtime's own, or the 3000–4999 range. */
export function isAllowedCloseCode(code: number): boolean {
  return (
    code === 1000 || code === 1001 || code === 1008 || code === 1011 || code === 1012 || code === 1013 || (Number.isInteger(code) && code >= 3000 && code <= 4999)
  );
}
