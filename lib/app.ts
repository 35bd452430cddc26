import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { InvalidArgumentError } from './errors';
import { WsTransport } from './internal/ws-transport';
import { CrewLogger, CrewSession } from './session';
import { CloseCodes } from './transport';

/** Called once per connection with that connection's new session. */
export type SetupHandler = (session: CrewSession) => void | Promise<void>;

/**
 * Serves extra HTTP routes (a page, an API). Return `true` when the request
 * was answered; otherwise the built-in routes answer it.
 */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface CrewAppOptions {
  /** Builds each connection's graph. Required. */
  setup: SetupHandler;
  /** Default: `$PORT`, else 8080. 0 picks a free port. */
  port?: number;
  /** Default `0.0.0.0`. */
  host?: string;
  /** WebSocket path. Default `/ws`. */
  path?: string;
  /** Largest accepted frame, in bytes (`ws` `maxPayload`). Default 65536. */
  maxPayload?: number;
  /** How long `close()` waits for sessions to finish before terminating them (ms). Default 10000. */
  closeTimeout?: number;
  /** Extra HTTP routes, tried before the built-in ones. */
  http?: HttpHandler;
  /** Default `console`. */
  logger?: CrewLogger;
}

const DEFAULTS = { host: '0.0.0.0', path: '/ws', maxPayload: 64 * 1024, closeTimeout: 10_000 };

/**
 * The WebSocket server: one isolated `CrewSession` per connection, built by
 * `setup`, speaking the Atoms wire protocol.
 *
 * @example
 * const app = new CrewApp({ setup: (session) => { session.addNode(new EchoNode()); } });
 * await app.run();
 */
export class CrewApp {
  private readonly options: Required<Omit<CrewAppOptions, 'http'>> & Pick<CrewAppOptions, 'http'>;
  private readonly live = new Map<string, CrewSession>();
  private readonly transports = new Map<string, WsTransport>();
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private accepting = false;
  private closing: Promise<void> | undefined;

  constructor(options: CrewAppOptions) {
    if (options === null || typeof options !== 'object' || typeof options.setup !== 'function') {
      throw new InvalidArgumentError('CrewApp: options.setup must be a function (session) => void | Promise<void>');
    }
    const port = options.port ?? portFromEnv();
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new InvalidArgumentError(`CrewApp: port must be an integer from 0 to 65535, got ${String(port)}`);
    }
    const path = options.path ?? DEFAULTS.path;
    if (typeof path !== 'string' || !path.startsWith('/')) {
      throw new InvalidArgumentError(`CrewApp: path must start with "/", got ${String(path)}`);
    }
    const maxPayload = options.maxPayload ?? DEFAULTS.maxPayload;
    if (!Number.isInteger(maxPayload) || maxPayload < 1) {
      throw new InvalidArgumentError(`CrewApp: maxPayload must be a positive integer, got ${String(maxPayload)}`);
    }
    this.options = {
      setup: options.setup,
      port,
      host: options.host ?? DEFAULTS.host,
      path,
      maxPayload,
      closeTimeout: options.closeTimeout ?? DEFAULTS.closeTimeout,
      http: options.http,
      logger: options.logger ?? console,
    };
  }

  /** Live sessions, by id: one per open connection. */
  get sessions(): ReadonlyMap<string, CrewSession> {
    return this.live;
  }

  /** Whether new connections are accepted (`/ready` answers 200). */
  get ready(): boolean {
    return this.accepting;
  }

  /** Starts the HTTP and WebSocket server. Port 0 picks a free port; the chosen one is returned. */
  async listen(): Promise<{ port: number; host: string }> {
    if (this.server !== undefined) throw new InvalidArgumentError('listen: the app is already listening');
    const server = createServer((req, res) => void this.handleHttp(req, res));
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxPayload, perMessageDeflate: false });
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
    const sessions = [...this.live.values()];
    const ended = Promise.allSettled(sessions.map((s) => s.stop('server shutting down', CloseCodes.GOING_AWAY)));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.closeTimeout)));
    const result = await Promise.race([ended, deadline]);
    clearTimeout(timer);
    if (result === 'timeout') this.options.logger.warn('rxcrew: close timed out; terminating remaining connections');
    for (const t of this.transports.values()) t.terminate();
    for (const client of this.wss?.clients ?? []) client.terminate();
    if (this.server?.listening) {
      await new Promise<void>((resolve) => {
        this.server!.close(() => resolve());
        this.server!.closeAllConnections();
      });
    }
    this.wss?.close();
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const pathname = pathOf(req);
    if (pathname !== this.options.path) return refuseUpgrade(socket, 404, 'Not Found');
    if (!this.accepting) return refuseUpgrade(socket, 503, 'Service Unavailable');
    this.wss!.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    const { logger, setup } = this.options;
    const session = new CrewSession({ logger });
    const transport = new WsTransport(ws);
    this.live.set(session.id, session);
    this.transports.set(session.id, transport);
    transport.bind(session.attach(transport), (err) => logger.warn(`rxcrew: session ${session.id}: socket error:`, err.message));
    void session.waitUntilComplete().then(() => {
      this.live.delete(session.id);
      this.transports.delete(session.id);
    });
    let result: void | Promise<void>;
    try {
      result = setup(session);
    } catch (err) {
      void session.fail(err, 'setup failed');
      return;
    }
    Promise.resolve(result).then(
      () => {
        if (session.state === 'created') void session.start();
      },
      (err: unknown) => void session.fail(err, 'setup failed'),
    );
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

function portFromEnv(): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return 8080;
  return Number(raw);
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
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
