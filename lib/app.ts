import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import WebSocket from 'ws';
import { CrewAppOptions, resolveAppOptions, ResolvedAppOptions } from './app-options';
import { agentError } from './agent-error';
import { closeCodeOf, crewError, ErrorCodes, InvalidArgumentError } from './errors';
import { runSetup } from './internal/run-setup';
import { checkEvery, Sweeps } from './internal/sweeps';
import { UpgradeGate } from './internal/upgrade-gate';
import { handleHttp, HttpRoutesHost } from './internal/http-routes';
import { drained, handOver, settledWithin, untilSignalled } from './internal/lifecycle';
import { SendLimits, TransportOwner, WsTransport } from './internal/ws-transport';
import { observeSession } from './internal/observer';
import { CrewMetrics } from './internal/metrics';
import { Inspector } from './internal/inspector/inspector';
import { Fleet, CrewFleet } from './scale/fleet';
import { admission, Admission, ResumeHost } from './scale/resume';
import { recordOf, recordSession } from './scale/session-record';
import { CrewSession } from './session';
import { TwilioStats, TwilioStream, twilioStreamHost, TwilioStreamHost } from './telephony/twilio-stream';
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
  private readonly routes: HttpRoutesHost;
  /** Ends a drain's wait at once (while one waits). */
  private endDrain: (() => void) | undefined;

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
    const store = this.options.store;
    const source = { activeSessions: () => this.live.size, sendQueueBytes: () => this.sendQueueBytes(), storeStats: store && (() => store.stats) };
    this.crewMetrics = this.options.metrics ? new CrewMetrics(source) : undefined;
    this.transportOwner = {
      droppedAudio: () => this.crewMetrics?.dropped('slow_client'),
      overflow: (transport) => this.slowConsumer(transport),
      socketError: (transport, err) => this.options.logger.warn({ session_id: transport.sessionId, err }, `socket error: ${err.message}`),
      started: (transport) => this.sweeps.setupDone(transport.sessionId),
    };
    this.twilioHost = this.options.twilio && twilioStreamHost(this.options, {
      admit: () => this.accepting && this.live.size < this.options.maxSessions,
      opened: (session) => {
        this.admitted(session);
        void session.waitUntilComplete().then(() => this.live.get(session.id) === session && this.live.delete(session.id));
      },
    });
    this.inspector = this.options.inspector ? new Inspector(this.live, (req) => this.gate!.allows(req)) : undefined;
    const { secret, logger } = this.options;
    this.crewFleet = new Fleet(this.live, this.workerId, store, logger);
    this.resumeHost = store && { store, secret: secret!, fleet: this.crewFleet, logger };
    this.routes = {
      options: this.options,
      accepting: () => this.accepting,
      activeSessions: () => this.live.size,
      workerId: this.workerId,
      metrics: this.crewMetrics,
      inspector: this.inspector,
      allows: (req) => this.gate!.allows(req),
    };
  }

  /**
   * The live sessions of every worker that shares this app's store, and a way to reach
   * one wherever it runs (`inject`, `send`); see docs/scale-out.md. Without a store: this process's.
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
    const server = createServer({ connectionsCheckingInterval }, (req, res) => void handleHttp(this.routes, req, res));
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

  /**
   * Listens, logs the URL, and stops on a signal: SIGTERM drains (`drain()`:
   * what a deploy or an orchestrator sends), SIGINT closes (`close()`). A
   * second signal exits at once. Resolves once closed.
   */
  async run(): Promise<void> {
    const { port, host } = await this.listen();
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    const { logger, path, drainTimeout } = this.options;
    logger.info({ port, host }, `rxcrew listening on http://${shown}:${port}/ (WebSocket ws://${shown}:${port}${path})`);
    await untilSignalled(logger, (signal) => {
      const sessions = this.live.size;
      if (signal === 'SIGTERM') {
        logger.info({ signal, sessions, drain_timeout_ms: drainTimeout }, `${signal}, draining ${sessions} session(s) for up to ${drainTimeout} ms`);
        return this.drain();
      }
      logger.info({ signal, sessions }, `${signal}, closing ${sessions} session(s)`);
      return this.close();
    });
  }

  /**
   * Stops accepting (`/ready` answers 503), closes every session with 1001
   * (their `system.user.left` hooks run), terminates what has not finished by
   * `closeTimeout`, then closes the server. Idempotent; during a drain it ends
   * the drain's wait at once (the sessions close with the drain's 1012).
   */
  close(): Promise<void> {
    this.endDrain?.();
    this.closing ??= this.shutdown(CloseCodes.GOING_AWAY);
    return this.closing;
  }

  /**
   * A graceful stop for a deploy: stops accepting (`/ready` answers 503, new
   * upgrades 503) and lets live sessions go on until they end or
   * `drainTimeout` passes, then closes the rest with 1012 (service restart) —
   * with a store, their clients resume on another worker — and closes as
   * `close()` does. Idempotent.
   */
  drain(): Promise<void> {
    this.closing ??= this.drainThenShutdown();
    return this.closing;
  }

  private async drainThenShutdown(): Promise<void> {
    this.accepting = false;
    this.gate?.refuseWaiting();
    const { drainTimeout, logger } = this.options;
    const wait = drained(this.live, drainTimeout);
    this.endDrain = wait.cancel;
    if (!(await wait.ended)) logger.info({ sessions: this.live.size, drain_timeout_ms: drainTimeout }, `drain: closing ${this.live.size} session(s) with 1012`);
    this.endDrain = undefined;
    return this.shutdown(CloseCodes.SERVICE_RESTART);
  }

  private async shutdown(code: number): Promise<void> {
    this.accepting = false;
    this.gate?.refuseWaiting();
    this.sweeps.stop();
    this.inspector?.close();
    const sessions = [...this.live.values()];
    const reason = code === CloseCodes.SERVICE_RESTART ? 'server restarting' : 'server shutting down';
    const stopped = sessions.map((s) => handOver(s, this.transports.get(s.id), code, reason));
    // a connection is done once its client has read what was queued for it and the close
    const sockets = [...(this.gate?.wss.clients ?? [])].map(
      (ws) => new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once('close', () => resolve()))),
    );
    if (!(await settledWithin([...stopped, ...sockets], this.options.closeTimeout))) {
      this.options.logger.warn({ close_timeout_ms: this.options.closeTimeout }, 'close timed out; terminating remaining connections');
    }
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
    // with a store, the client may be coming back: its session is looked up first (a drain or close
    // begun meanwhile has handed the live sessions over: this client goes elsewhere too, with 1012)
    admission(ws, req, host).then(
      (found) => found && (this.accepting ? this.open(ws, auth, found, host) : ws.close(CloseCodes.SERVICE_RESTART, 'server restarting')),
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
    if (found !== undefined) recordSession(session, found, host!, this.workerId, this.crewMetrics);
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

  /** A client that reads too slowly to keep up: close it (1013) and let it go, whatever it still has queued. */
  private slowConsumer(transport: WsTransport): void {
    const session = this.live.get(transport.sessionId);
    if (session === undefined) return;
    this.options.logger.warn({ session_id: session.id, send_hard_limit: this.options.sendHardLimit }, `client too slow (over ${this.options.sendHardLimit} bytes waiting); closing`);
    void session.stop('client too slow', CloseCodes.TRY_AGAIN_LATER);
    const kill = setTimeout(() => transport.terminate(), 1000);
    kill.unref();
  }
}

/** The Atoms SDK's name for `CrewApp`. */
export const AtomsCrewApp = CrewApp;
export type AtomsCrewApp = CrewApp;
