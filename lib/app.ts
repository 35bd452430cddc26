import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import WebSocket from 'ws';
import { CrewAppOptions, resolveAppOptions, ResolvedAppOptions } from './app-options';
import { agentError } from './agent-error';
import { closeCodeOf, crewError, ErrorCodes, InvalidArgumentError } from './errors';
import { runSetup } from './internal/run-setup';
import { checkEvery, Sweeps } from './internal/sweeps';
import { pathOf, UpgradeGate } from './internal/upgrade-gate';
import { SendLimits, TransportOwner, WsTransport } from './internal/ws-transport';
import { observeSession } from './internal/observer';
import { CrewMetrics } from './internal/metrics';
import { Inspector } from './internal/inspector/inspector';
import { Fleet, CrewFleet } from './scale/fleet';
import { admission, Admission, ResumeHost } from './scale/resume';
import { recordOf, recordSession } from './scale/session-record';
import { CrewSession } from './session';
import { TwilioStats, TwilioStream, TwilioStreamHost } from './telephony/twilio-stream';
import { answerTwilioVoice } from './telephony/twilio-webhook';
import { CloseCodes } from './transport';

export type { Authenticate, CrewAppOptions, HttpHandler, SetupHandler, TwilioOptions } from './app-options';
export type { TwilioStats } from './telephony/twilio-stream';

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
  private server: Server | undefined;
  /** Upgrade requests, authentication, and the `ws` server (made by `listen`). */
  private gate: UpgradeGate | undefined;
  /** Heartbeat, idle and setup timeouts (lib/internal/sweeps.ts). */
  private readonly sweeps: Sweeps;
  private accepting = false;
  private closing: Promise<void> | undefined;

  // shared by every connection (nothing is allocated per session for them)
  private readonly sendLimits: SendLimits;
  private readonly transportOwner: TransportOwner;
  /** What every Twilio stream shares (undefined without the `twilio` option). */
  private readonly twilioHost: TwilioStreamHost | undefined;
  /** The Prometheus metrics and every session's observer (undefined with `metrics: false`). */
  private readonly crewMetrics: CrewMetrics | undefined;
  /** `GET /inspector` and its feed (undefined without the `inspector` option). */
  private readonly inspector: Inspector | undefined;
  /** The registry and the commands across workers (this process's sessions only, without a store). */
  private readonly crewFleet: Fleet;
  /** What resuming needs (undefined without a store). */
  private readonly resumeHost: ResumeHost | undefined;

  /**
   * This process's id in a fleet: the `workerId` option, else `$RXCREW_WORKER_ID`, else `HOST-PID`. The
   * status JSON (`GET /`) carries it as `worker`; the fleet registry lists sessions under it.
   */
  readonly workerId: string;

  constructor(options: CrewAppOptions) {
    this.options = resolveAppOptions(options);
    this.workerId = this.options.workerId ?? (process.env.RXCREW_WORKER_ID || `${hostname()}-${process.pid}`);
    this.sendLimits = Object.freeze({ softLimit: this.options.sendSoftLimit, hardLimit: this.options.sendHardLimit });
    this.sweeps = new Sweeps(this.options, this.transports, this.live);
    this.crewMetrics = this.options.metrics ? new CrewMetrics({ activeSessions: () => this.live.size, sendQueueBytes: () => this.sendQueueBytes() }) : undefined;
    this.transportOwner = {
      droppedAudio: () => this.crewMetrics?.dropped('slow_client'),
      overflow: (transport) => this.slowConsumer(transport),
      socketError: (transport, err) => this.options.logger.warn({ session_id: transport.sessionId, err }, `socket error: ${err.message}`),
      started: (transport) => this.sweeps.setupDone(transport.sessionId),
    };
    this.twilioHost = this.options.twilio && this.makeTwilioHost();
    this.inspector = this.options.inspector ? new Inspector(this.live, (req) => this.gate!.allows(req)) : undefined;
    const { store, secret, logger } = this.options;
    this.crewFleet = new Fleet(this.live, this.workerId, store, logger);
    this.resumeHost = store && { store, secret: secret!, fleet: this.crewFleet, logger };
  }

  /**
   * The live sessions of every worker that shares this app's store, and a way
   * to reach one wherever it runs (`inject`, `send`); see docs/scale-out.md.
   * Without a store: this process's sessions.
   */
  get fleet(): CrewFleet {
    return this.crewFleet;
  }

  /** What the Twilio transport refused or ignored so far, over all calls (undefined without `twilio`). */
  get twilioStats(): Readonly<TwilioStats> | undefined {
    return this.twilioHost && { ...this.twilioHost.stats };
  }

  /**
   * The registry `GET /metrics` serves (prom-client's `Registry`): register the
   * app's own metrics on it to have them scraped with rxcrew's. Undefined with `metrics: false`.
   */
  get metrics(): Registry | undefined {
    return this.crewMetrics?.registry;
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
    const twilioHost = this.twilioHost;
    const twilio = twilioHost && {
      path: this.options.twilio!.path,
      accept: (ws: WebSocket) => {
        // the heartbeat drops a stream whose peer went silent without closing (its close ends the call)
        const stream = new TwilioStream(ws, twilioHost);
        this.sweeps.watch(stream);
        ws.once('close', () => this.sweeps.unwatch(stream));
      },
    };
    const gate = new UpgradeGate(this.options, () => this.accepting, (ws, auth, req) => this.accept(ws, auth, req), twilio);
    server.on('upgrade', (req, socket, head) => gate.handle(req, socket, head));
    this.server = server;
    this.gate = gate;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.options.logger.error({ err }, 'server error'));
    // with a store: connected (or connecting: commands wait for Redis) before the first session
    await this.crewFleet.start();
    this.sweeps.start();
    this.accepting = true;
    const address = server.address() as AddressInfo;
    return { port: address.port, host: address.address };
  }

  /** Listens, logs the URL, and closes gracefully on SIGINT/SIGTERM. Resolves once closed. */
  async run(): Promise<void> {
    const { port, host } = await this.listen();
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    this.options.logger.info({ port, host }, `rxcrew listening on http://${shown}:${port}/ (WebSocket ws://${shown}:${port}${this.options.path})`);
    await new Promise<void>((resolve) => {
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (signalled) {
          this.options.logger.warn({ signal }, `${signal} again, exiting now`);
          process.exit(1);
        }
        signalled = true;
        this.options.logger.info({ signal, sessions: this.live.size }, `${signal}, closing ${this.live.size} session(s)`);
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
    this.gate?.refuseWaiting();
    this.sweeps.stop();
    this.inspector?.close();
    const sessions = [...this.live.values()];
    const stopped = sessions.map((s) => s.stop('server shutting down', CloseCodes.GOING_AWAY));
    // a connection is done once its client has read what was queued for it and the close
    const sockets = [...(this.gate?.wss.clients ?? [])].map(
      (ws) => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve()))),
    );
    const ended = Promise.allSettled([...stopped, ...sockets]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.options.closeTimeout)));
    const result = await Promise.race([ended, deadline]);
    clearTimeout(timer);
    if (result === 'timeout') this.options.logger.warn({ close_timeout_ms: this.options.closeTimeout }, 'close timed out; terminating remaining connections');
    for (const t of this.transports.values()) t.terminate();
    for (const client of this.gate?.wss.clients ?? []) client.terminate();
    // sessions whose teardown still waits on hooks are no longer live calls
    this.live.clear();
    this.transports.clear();
    if (this.server?.listening) {
      await new Promise<void>((resolve) => {
        this.server!.close(() => resolve());
        this.server!.closeAllConnections();
      });
    }
    this.gate?.wss.close();
    // the sessions' last writes go out before the store's connections close
    await this.crewFleet.stop();
  }

  private accept(ws: WebSocket, auth: unknown, req: IncomingMessage): void {
    if (this.live.size >= this.options.maxSessions || !this.accepting) {
      const full = crewError(ErrorCodes.SERVER_FULL, { maxSessions: this.options.maxSessions, closing: !this.accepting });
      ws.send(JSON.stringify(agentError(ErrorCodes.SERVER_FULL, full)));
      ws.close(closeCodeOf(ErrorCodes.SERVER_FULL), 'try again later');
      return;
    }
    const host = this.resumeHost;
    if (host === undefined) return this.open(ws, auth, undefined);
    // with a store, the client may be coming back: its session is looked up first
    admission(ws, req, host).then(
      (found) => found && this.open(ws, auth, found, host),
      (err: unknown) => {
        this.options.logger.error({ err }, 'admitting a connection failed');
        ws.close(CloseCodes.INTERNAL_ERROR, 'internal error');
      },
    );
  }

  /** A session for a new connection (with a store: resumed, or new with its record). */
  private open(ws: WebSocket, auth: unknown, found: Admission | undefined, host?: ResumeHost): void {
    const { logger, setup, limits } = this.options;
    const restored = found?.restored;
    const session = new CrewSession({ logger, auth, limits, ...(restored && { id: restored.id }) });
    if (found !== undefined) recordSession(session, found, host!, this.workerId);
    this.admitted(session);
    const transport = new WsTransport(ws, session.id, this.sendLimits, this.transportOwner);
    this.transports.set(session.id, transport);
    transport.bind(session.attach(transport));
    if (found !== undefined) for (const frame of found.frames) transport.messageReceived(frame.data, frame.isBinary);
    this.sweeps.watchSetup(session);
    void session.waitUntilComplete().then(() => {
      this.sweeps.setupDone(session.id);
      // a session resumed here under the same id has taken the entries
      if (this.live.get(session.id) !== session) return;
      this.live.delete(session.id);
      this.transports.delete(session.id);
      if (transport.stats.droppedAudioFrames > 0) {
        logger.warn({ session_id: session.id, event_type: 'agent.audio', dropped: transport.stats.droppedAudioFrames }, `dropped ${transport.stats.droppedAudioFrames} audio frame(s) for a slow client`);
      }
    });
    runSetup(setup, session);
  }

  private makeTwilioHost(): TwilioStreamHost {
    const { setup, logger, limits, setupTimeout } = this.options;
    return {
      setup,
      logger,
      limits,
      startTimeout: setupTimeout,
      transport: { leadMs: TWILIO_LEAD_MS, endCallTimeoutMs: TWILIO_END_CALL_TIMEOUT_MS, logger },
      stats: { calls: 0, malformed: 0, unknownEvents: 0, binaryFrames: 0, ignored: 0 },
      admit: () => this.accepting && this.live.size < this.options.maxSessions,
      opened: (session) => {
        this.admitted(session);
        void session.waitUntilComplete().then(() => this.live.get(session.id) === session && this.live.delete(session.id));
      },
    };
  }

  /** A new session of either transport, before its setup runs: live, observed by the metrics, known to the inspector. */
  private admitted(session: CrewSession): void {
    this.live.set(session.id, session);
    this.crewFleet.admitted(session, recordOf(session)?.startedAt ?? Date.now());
    if (this.crewMetrics !== undefined) {
      observeSession(session, this.crewMetrics);
      this.crewMetrics.sessionStarted();
    }
    this.inspector?.opened(session);
  }

  private sendQueueBytes(): number {
    let bytes = 0;
    for (const t of this.transports.values()) bytes += t.pendingBytes;
    return bytes;
  }

  /** `GET /metrics`: the Prometheus exposition, behind `authenticate` when `metricsAuth` is set. */
  private async serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: CrewMetrics): Promise<void> {
    if (this.options.metricsAuth && !(await this.gate!.allows(req))) return json(res, 401, { error: 'unauthorized' });
    const text = await metrics.exposition();
    res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  /** A client that reads too slowly to keep up: close it (1013) and let it go, whatever it still has queued. */
  private slowConsumer(transport: WsTransport): void {
    const session = this.live.get(transport.sessionId);
    if (session === undefined) return;
    this.options.logger.warn({ session_id: session.id, send_hard_limit: this.options.sendHardLimit }, `client too slow (over ${this.options.sendHardLimit} bytes waiting); closing`);
    void session.stop('client too slow', CloseCodes.TRY_AGAIN_LATER);
    const kill = setTimeout(() => transport.terminate(), 1000);
    kill.unref();
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (this.options.http && (await this.options.http(req, res))) return;
      const pathname = pathOf(req);
      if (this.inspector !== undefined && (await this.inspector.handle(req, res, pathname))) return;
      const twilio = this.options.twilio;
      if (twilio !== undefined && pathname === `${twilio.path}/voice`) return await answerTwilioVoice(req, res, twilio);
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
      if (pathname === '/') {
        return json(res, 200, { status: this.accepting ? 'ok' : 'closing', ready: this.accepting, active_sessions: this.live.size, worker: this.workerId });
      }
      if (pathname === '/metrics' && this.crewMetrics !== undefined) return await this.serveMetrics(req, res, this.crewMetrics);
      if (pathname === '/health') return json(res, 200, { status: 'ok' });
      if (pathname === '/ready') return json(res, this.accepting ? 200 : 503, { ready: this.accepting });
      return json(res, 404, { error: 'not found' });
    } catch (err) {
      this.options.logger.error({ err, method: req.method, path: pathOf(req) }, 'http handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    }
  }
}

/** How far ahead of a caller's playback the Twilio transport sends audio (ms). */
const TWILIO_LEAD_MS = 100;
/** How long `agent.end_call` waits for the marks of the audio sent before the stream closes anyway (ms). */
const TWILIO_END_CALL_TIMEOUT_MS = 5000;

/** The Atoms SDK's name for `CrewApp`. */
export const AtomsCrewApp = CrewApp;
export type AtomsCrewApp = CrewApp;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
