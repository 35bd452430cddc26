import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { ResolvedAppOptions } from '../app-options';

/**
 * The way in: an HTTP upgrade request becomes a WebSocket only if its path is
 * the app's, the app is accepting, its `Origin` is allowed and `authenticate`
 * (when given) answers in time with a value — all before `ws` makes a
 * WebSocket, so a refused client costs no session. Refusals are plain HTTP
 * answers: 404, 503, 403, 401.
 */
export class UpgradeGate {
  /** The `ws` server (no HTTP server of its own): its `clients` are every open connection. */
  readonly wss: WebSocketServer;
  /** Upgrade requests waiting for `authenticate`: answered 503 by `refuseWaiting()`, which must not wait for them. */
  private readonly authenticating = new Map<Duplex, NodeJS.Timeout | undefined>();

  /**
   * @param accepting whether new connections are accepted (refused with 503 when not)
   * @param accept called with each WebSocket let in and what `authenticate` returned
   */
  constructor(
    private readonly options: ResolvedAppOptions,
    private readonly accepting: () => boolean,
    private readonly accept: (ws: WebSocket, auth: unknown, req: IncomingMessage) => void,
    /** The Twilio stream's path and what takes its sockets (no Origin or `authenticate` check: Twilio cannot answer them). */
    private readonly twilio?: { path: string; accept: (ws: WebSocket) => void },
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      // frames up to 4× the limit are read, so that the session can say why it closes
      maxPayload: options.maxPayload * 4,
      perMessageDeflate: options.perMessageDeflate,
      // agree on 'rxcrew' whenever it is offered, so that a credential offered
      // beside it as a subprotocol (bearer.TOKEN) is never echoed back
      handleProtocols: (offered: Set<string>) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : (offered.values().next().value ?? false)),
    });
  }

  /** The HTTP server's `upgrade` listener. */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignore); // a peer that resets mid-upgrade is not our error
    const pathname = pathOf(req);
    if (this.twilio !== undefined && pathname === this.twilio.path) return this.twilioUpgrade(req, socket, head, this.twilio.accept);
    if (pathname !== this.options.path) return refuseUpgrade(socket, 404, 'Not Found');
    if (!this.accepting()) return refuseUpgrade(socket, 503, 'Service Unavailable');
    const origin = req.headers.origin;
    if (this.options.allowedOrigins && origin !== undefined && !this.options.allowedOrigins.includes(origin)) {
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    const { authenticate, authenticateTimeout, logger } = this.options;
    // a socket waiting for its verdict; whoever takes it out of `authenticating` answers it
    const settle = (): boolean => {
      const waiting = this.authenticating.has(socket);
      clearTimeout(this.authenticating.get(socket));
      this.authenticating.delete(socket);
      // the listener shares this scope, which holds the request: it must not stay with the connection
      socket.off('close', settle);
      return waiting && !socket.destroyed;
    };
    const timer =
      authenticate !== undefined && authenticateTimeout > 0
        ? setTimeout(() => {
            if (!settle()) return;
            logger.warn({ authenticate_timeout_ms: authenticateTimeout }, `authenticate did not answer within ${authenticateTimeout} ms; refusing the connection (503)`);
            refuseUpgrade(socket, 503, 'Service Unavailable');
          }, authenticateTimeout)
        : undefined;
    timer?.unref();
    this.authenticating.set(socket, timer);
    socket.once('close', settle);
    void this.authenticate(req).then((auth) => {
      if (!settle()) return; // gone, answered by refuseWaiting(), or timed out
      if (auth === REFUSED) return refuseUpgrade(socket, 401, 'Unauthorized');
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        socket.off('error', ignore); // the WebSocket listens for errors now
        this.accept(ws, auth, req);
      });
    });
  }

  private twilioUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, accept: (ws: WebSocket) => void): void {
    if (!this.accepting()) return refuseUpgrade(socket, 503, 'Service Unavailable');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignore);
      accept(ws);
    });
  }

  /** The app is closing: every upgrade still waiting for `authenticate` gets 503 now. */
  refuseWaiting(): void {
    for (const [socket, timer] of this.authenticating) {
      clearTimeout(timer);
      refuseUpgrade(socket, 503, 'Service Unavailable');
    }
    this.authenticating.clear();
  }

  /** Whether `authenticate` lets this HTTP request in (always, without `authenticate`). */
  async allows(req: IncomingMessage): Promise<boolean> {
    return (await this.authenticate(req)) !== REFUSED;
  }

  private async authenticate(req: IncomingMessage): Promise<unknown> {
    if (this.options.authenticate === undefined) return undefined;
    try {
      const auth = await this.options.authenticate(req);
      return auth === false || auth === null || auth === undefined ? REFUSED : auth;
    } catch (err) {
      this.options.logger.warn({ err }, 'authenticate threw; refusing the connection (401)');
      return REFUSED;
    }
  }
}

const REFUSED = Symbol('refused');
const ignore = () => undefined;
/** The WebSocket subprotocol the server agrees on when a client offers it. */
const SUBPROTOCOL = 'rxcrew';

/** The path of a request's URL, without its query. */
export function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  // destroy once the answer is out: a peer that keeps its side open must not hold the socket (nor close())
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
