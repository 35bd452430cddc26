import WebSocket from 'ws';
import type { CrewEvent } from '../events';
import { CloseCodes } from '../transport';

/*
 * The socket side of `rxcrew chat`: JSON events in and out of a `ws` client,
 * a ping round trip as an ordering barrier, and a close that cannot hang.
 */

export interface ConnectionHandlers {
  open(): void;
  /** A JSON event, from a text frame or a binary frame holding JSON (audio is skipped). */
  event(e: CrewEvent): void;
  /** A failure; `close` follows. */
  error(err: Error): void;
  close(code: number, reason: string): void;
}

export interface ConnectionOptions {
  /** How long to wait for the server to answer our close frame before dropping the socket (ms). */
  closeTimeout: number;
  /** How long `afterPong` waits for a pong before going on without it (ms). */
  pongTimeout: number;
}

/** One WebSocket connection to an agent. The constructor throws for a URL `ws` refuses. */
export class AgentConnection {
  private readonly socket: WebSocket;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    url: string,
    handlers: ConnectionHandlers,
    private readonly options: ConnectionOptions,
  ) {
    this.socket = new WebSocket(url, { perMessageDeflate: false });
    this.socket.on('open', () => handlers.open());
    this.socket.on('message', (data: Buffer, isBinary: boolean) => {
      const e = parseEvent(data, isBinary);
      if (e) handlers.event(e);
    });
    this.socket.on('error', (err) => handlers.error(err));
    this.socket.on('close', (code, reason) => {
      this.clearTimers();
      handlers.close(code, reason.toString());
    });
  }

  /** Sends `e` as one JSON text frame; nothing when the socket is not open. */
  send(e: CrewEvent): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(e));
  }

  /**
   * Runs `next` once the server has answered a ping: every frame it wrote before
   * reading the ping (a greeting along with agent.ready, agent.end_call right after
   * a reply) has been handled by then. A server that ignores pings costs `pongTimeout`.
   */
  afterPong(next: () => void): void {
    const run = () => {
      this.socket.off('pong', run);
      clearTimeout(fallback);
      this.timers.delete(fallback);
      next();
    };
    const fallback = this.later(run, this.options.pongTimeout);
    this.socket.once('pong', run);
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  /** Closes with 1000 (or drops a socket still connecting); `close` is reported either way. */
  close(): void {
    this.clearTimers();
    if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.close(CloseCodes.NORMAL, 'client done');
      // a server that never answers the close frame must not hold the terminal
      this.later(() => this.socket.terminate(), this.options.closeTimeout);
    } else {
      this.socket.terminate();
    }
  }

  /** Drops the socket without a close frame (the server sees 1006: a session it keeps for a resume); `close` is reported. */
  drop(): void {
    this.clearTimers();
    this.socket.terminate();
  }

  private later(fn: () => void, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private clearTimers(): void {
    this.timers.forEach(clearTimeout);
    this.timers.clear();
  }
}

/** A JSON event from a text frame or a binary frame holding JSON; anything else (audio) is undefined. */
function parseEvent(data: Buffer, isBinary: boolean): CrewEvent | undefined {
  if (isBinary && data[0] !== 0x7b) return undefined; // not "{": audio
  try {
    const value: unknown = JSON.parse(data.toString('utf8'));
    const ok = value !== null && typeof value === 'object' && typeof (value as CrewEvent).type === 'string';
    return ok ? (value as CrewEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** A short reason for a connection failure: an errno code, an HTTP status, or the message. */
export function describeError(err: unknown): string {
  const e = err as (NodeJS.ErrnoException & { errors?: Array<{ code?: string }> }) | undefined;
  const status = /^Unexpected server response: (\d+)/.exec(e?.message ?? '');
  if (status) return `HTTP ${status[1]} instead of a WebSocket upgrade (is the path right?)`;
  // e.g. "localhost" tried on IPv6 and IPv4: an AggregateError whose parts have the code
  const code = e?.code ?? e?.errors?.find((inner) => inner?.code)?.code;
  if (code) return code;
  return e?.message || String(err);
}
