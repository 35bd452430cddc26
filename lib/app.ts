import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { CrewAppOptions, resolveAppOptions, ResolvedAppOptions } from './app-options';
import { agentError } from './agent-error';
import { closeCodeOf, crewError, ErrorCodes, InvalidArgumentError } from './errors';
import { runSetup } from './internal/run-setup';
import { SendLimits, TransportOwner, WsTransport } from './internal/ws-transport';
import { CrewSession } from './session';
import { CloseCodes } from './transport';

export type { Authenticate, CrewAppOptions, HttpHandler, SetupHandler } from './app-options';

/**
 * The WebSocket server: one isolated `CrewSession` per connection, built by
 * `setup`, speaking the Atoms wire protocol.
 *
 * @example
 * const app = new CrewApp({ setup: (session) => { session.addNode(new EchoNode()); } });
 * await app.run();
 */
export class CrewApp {
  private readonly options: ResolvedAppOptions;
  private readonly live = new Map<string, CrewSession>();
  private readonly transports = new Map<string, WsTransport>();
  /** Upgrade requests waiting for `authenticate`: answered 503 by `close()`, which must not wait for them. */
  private readonly authenticating = new Map<Duplex, NodeJS.Timeout | undefined>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private accepting = false;
  private closing: Promise<void> | undefined;

  private timers: NodeJS.Timeout[] = [];
  /**
   * Sessions not started yet (by id), with when they were accepted: the setup
   * sweep fails those past `setupTimeout`. It runs exactly while this is not empty.
   */
  private readonly unstarted = new Map<string, number>();
  private setupSweep: NodeJS.Timeout | undefined;
  // shared by every connection (nothing is allocated per session for them)
  private readonly sendLimits: SendLimits;
  private readonly transportOwner: TransportOwner;

  constructor(options: CrewAppOptions) {
    this.options = resolveAppOptions(options);
    this.sendLimits = Object.freeze({ softLimit: this.options.sendSoftLimit, hardLimit: this.options.sendHardLimit });
    this.transportOwner = {
      overflow: (transport) => this.slowConsumer(transport),
      socketError: (transport, err) => this.options.logger.warn(`rxcrew: session ${transport.sessionId}: socket error:`, err.message),
      started: (transport) => this.setupDone(transport.sessionId),
    };
  }

  /** Live sessions, by id: one per open connection. */
  get sessions(): ReadonlyMap<string, CrewSession> {
    return this.live;
  }

  /**
   * What the server holds for one live session's client: bytes waiting to be
   * sent (socket buffer and queue) and audio dropped for a slow reader.
   * `undefined` once the session has ended (or for an unknown id).
   */
  transportStats(sessionId: string): { pendingBytes: number; droppedAudioFrames: number; droppedAudioBytes: number } | undefined {
    const transport = this.transports.get(sessionId);
    return transport && { pendingBytes: transport.pendingBytes, ...transport.stats };
  }

  /** Whether new connections are accepted (`/ready` answers 200). */
  get ready(): boolean {
    return this.accepting;
  }

  /** Starts the HTTP and WebSocket server. Port 0 picks a free port; the chosen one is returned. */
  async listen(): Promise<{ port: number; host: string }> {
    if (this.server !== undefined) throw new InvalidArgumentError('listen: the app is already listening');
    const { headersTimeout } = this.options;
    // Node enforces headersTimeout only when it checks, every connectionsCheckingInterval
    // (30 s by default): check often enough that a slow upgrade request is cut on time
    const connectionsCheckingInterval = headersTimeout > 0 ? checkEvery(headersTimeout / 4) : 30_000;
    const server = createServer({ connectionsCheckingInterval }, (req, res) => void this.handleHttp(req, res));
    server.headersTimeout = headersTimeout;
    server.requestTimeout = Math.max(headersTimeout, 30_000);
    const wss = new WebSocketServer({
      noServer: true,
      // frames up to 4× the limit are read, so that the session can say why it closes
      maxPayload: this.options.maxPayload * 4,
      perMessageDeflate: this.options.perMessageDeflate,
      // agree on 'rxcrew' whenever it is offered, so that a credential offered
      // beside it as a subprotocol (bearer.TOKEN) is never echoed back
      handleProtocols: (offered: Set<string>) => (offered.has(SUBPROTOCOL) ? SUBPROTOCOL : (offered.values().next().value ?? false)),
    });
    server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
    this.server = server;
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.options.logger.error('rxcrew: server error:', err));
    this.startTimers();
    this.accepting = true;
    const address = server.address() as AddressInfo;
    return { port: address.port, host: address.address };
  }

  /** Listens, logs the URL, and closes gracefully on SIGINT/SIGTERM. Resolves once closed. */
  async run(): Promise<void> {
    const { port, host } = await this.listen();
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    this.options.logger.info(`rxcrew listening on http://${shown}:${port}/ (WebSocket ws://${shown}:${port}${this.options.path})`);
    await new Promise<void>((resolve) => {
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled) {
          this.options.logger.warn(`rxcrew: ${signal} again, exiting now`);
          process.exit(1);
        }
        signalled = true;
        this.options.logger.info(`rxcrew: ${signal}, closing ${this.live.size} session(s)`);
        void this.close().then(() => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
  }

  /**
   * Stops accepting (`/ready` answers 503), closes every session with 1001
   * (their `system.user.left` hooks run), terminates what has not finished by
   * `closeTimeout`, then closes the server. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.accepting = false;
    for (const [socket, timer] of this.authenticating) {
      clearTimeout(timer);
      refuseUpgrade(socket, 503, 'Service Unavailable');
    }
    this.authenticating.clear();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    clearInterval(this.setupSweep);
    this.setupSweep = undefined;
    this.unstarted.clear();
    const sessions = [...this.live.values()];
    const stopped = sessions.map((s) => s.stop('server shutting down', CloseCodes.GOING_AWAY));
    // a connection is done once its client has read what was queued for it and the close
    const sockets = [...(this.wss?.clients ?? [])].map(
      (ws) => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve()))),
    );
    const ended = Promise.allSettled([...stopped, ...sockets]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.closeTimeout)));
    const result = await Promise.race([ended, deadline]);
    clearTimeout(timer);
    if (result === 'timeout') this.options.logger.warn('rxcrew: close timed out; terminating remaining connections');
    for (const t of this.transports.values()) t.terminate();
    for (const client of this.wss?.clients ?? []) client.terminate();
    // sessions whose teardown still waits on hooks are no longer live calls
    this.live.clear();
    this.transports.clear();
    if (this.server?.listening) {
      await new Promise<void>((resolve) => {
        this.server!.close(() => resolve());
        this.server!.closeAllConnections();
      });
    }
    this.wss?.close();
  }

  /** Ping every client; terminate those silent since the last ping. Close idle sessions. */
  private startTimers(): void {
    const { heartbeatInterval, idleTimeout } = this.options;
    if (heartbeatInterval > 0) {
      this.timers.push(
        setInterval(() => {
          for (const t of this.transports.values()) {
            if (!t.alive) t.terminate();
            else {
              t.alive = false;
              t.ping();
            }
          }
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

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', ignore); // a peer that resets mid-upgrade is not our error
    const pathname = pathOf(req);
    if (pathname !== this.options.path) return refuseUpgrade(socket, 404, 'Not Found');
    if (!this.accepting) return refuseUpgrade(socket, 503, 'Service Unavailable');
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
            logger.warn(`rxcrew: authenticate did not answer within ${authenticateTimeout} ms; refusing the connection (503)`);
            refuseUpgrade(socket, 503, 'Service Unavailable');
          }, authenticateTimeout)
        : undefined;
    timer?.unref();
    this.authenticating.set(socket, timer);
    socket.once('close', settle);
    void this.authenticate(req).then((auth) => {
      if (!settle()) return; // gone, answered by close(), or timed out
      if (auth === REFUSED) return refuseUpgrade(socket, 401, 'Unauthorized');
      this.wss!.handleUpgrade(req, socket, head, (ws) => {
        socket.off('error', ignore); // the WebSocket listens for errors now
        this.accept(ws, auth);
      });
    });
  }

  private async authenticate(req: IncomingMessage): Promise<unknown> {
    if (this.options.authenticate === undefined) return undefined;
    try {
      const auth = await this.options.authenticate(req);
      return auth === false || auth === null || auth === undefined ? REFUSED : auth;
    } catch (err) {
      this.options.logger.warn('rxcrew: authenticate threw; refusing the connection:', err);
      return REFUSED;
    }
  }

  private accept(ws: WebSocket, auth: unknown): void {
    const { logger, setup, limits } = this.options;
    if (this.live.size >= this.options.maxSessions || !this.accepting) {
      const full = crewError(ErrorCodes.SERVER_FULL, { maxSessions: this.options.maxSessions, closing: !this.accepting });
      ws.send(JSON.stringify(agentError(ErrorCodes.SERVER_FULL, full)));
      ws.close(closeCodeOf(ErrorCodes.SERVER_FULL), 'try again later');
      return;
    }
    const session = new CrewSession({ logger, auth, limits });
    const transport = new WsTransport(ws, session.id, this.sendLimits, this.transportOwner);
    this.live.set(session.id, session);
    this.transports.set(session.id, transport);
    transport.bind(session.attach(transport));
    // 0 turns the setup timeout off, as it does the heartbeat and the idle timeout
    if (this.options.setupTimeout > 0) this.watchSetup(session);
    void session.waitUntilComplete().then(() => {
      this.setupDone(session.id);
      this.live.delete(session.id);
      this.transports.delete(session.id);
      if (transport.stats.droppedAudioFrames > 0) {
        logger.warn(`rxcrew: session ${session.id}: dropped ${transport.stats.droppedAudioFrames} audio frame(s) for a slow client`);
      }
    });
    runSetup(setup, session);
  }

  /**
   * Fails `session` if setup has not started it within `setupTimeout`. One
   * sweep for all sessions, running while any waits (a timer per session
   * would stay with it for its whole life).
   */
  private watchSetup(session: CrewSession): void {
    this.unstarted.set(session.id, Date.now());
    if (this.setupSweep !== undefined) return;
    const { setupTimeout } = this.options;
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
  private setupDone(id: string): void {
    if (!this.unstarted.delete(id) || this.unstarted.size > 0) return;
    clearInterval(this.setupSweep);
    this.setupSweep = undefined;
  }

  /** A client that reads too slowly to keep up: close it (1013) and let it go, whatever it still has queued. */
  private slowConsumer(transport: WsTransport): void {
    const session = this.live.get(transport.sessionId);
    if (session === undefined) return;
    this.options.logger.warn(`rxcrew: session ${session.id}: client too slow (over ${this.options.sendHardLimit} bytes waiting); closing`);
    void session.stop('client too slow', CloseCodes.TRY_AGAIN_LATER);
    const kill = setTimeout(() => transport.terminate(), 1000);
    kill.unref();
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (this.options.http && (await this.options.http(req, res))) return;
      const pathname = pathOf(req);
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
      if (pathname === '/') {
        return json(res, 200, { status: this.accepting ? 'ok' : 'closing', ready: this.accepting, active_sessions: this.live.size });
      }
      if (pathname === '/health') return json(res, 200, { status: 'ok' });
      if (pathname === '/ready') return json(res, this.accepting ? 200 : 503, { ready: this.accepting });
      return json(res, 404, { error: 'not found' });
    } catch (err) {
      this.options.logger.error('rxcrew: http handler failed:', err);
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }
}

/** The Atoms SDK's name for `CrewApp`. */
export const AtomsCrewApp = CrewApp;
export type AtomsCrewApp = CrewApp;

const REFUSED = Symbol('refused');
const ignore = () => undefined;
/** The WebSocket subprotocol the server agrees on when a client offers it. */
const SUBPROTOCOL = 'rxcrew';

/** How often a sweep checks a deadline: `ms`, kept between 10 ms and 1 s. */
function checkEvery(ms: number): number {
  return Math.max(10, Math.min(1000, ms));
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  // destroy once the answer is out: a peer that keeps its side open must not hold the socket (nor close())
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
