import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError } from './errors';
import { checkedLogger, defaultLogger } from './logger';
import { RedisStore, redisStore } from './scale/redis-store';
import type { CrewSession } from './session';
import type { CrewLogger, SessionLimits } from './session-options';
import { DEFAULT_SESSION_LIMITS } from './session-options';

/** Called once per connection with that connection's new session. */
export type SetupHandler = (session: CrewSession) => void | Promise<void>;

/**
 * Serves extra HTTP routes (a page, an API). Return `true` when the request
 * was answered; otherwise the built-in routes answer it.
 */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/**
 * Decides who may connect, from the HTTP upgrade request, before a WebSocket
 * exists (may be async). Return any other value to accept (it becomes
 * `session.auth`); `false`, `null`, `undefined`, a throw or a rejection refuses with 401.
 */
export type Authenticate = (req: IncomingMessage) => unknown;

/** The Twilio Media Streams transport (`twilio: true` takes every default). */
export interface TwilioOptions {
  /** The stream's WebSocket path; the TwiML webhook is `${path}/voice`. Default `/twilio`. */
  path?: string;
  /** The public base URL put in the TwiML (`https://agent.example.com`); default: from `X-Forwarded-Host`, else `Host`. */
  publicUrl?: string;
  /** Twilio's auth token: webhook requests whose `X-Twilio-Signature` does not verify get 403. Default: not checked. */
  authToken?: string;
}

export interface CrewAppOptions extends Partial<Omit<SessionLimits, 'maxFrameBytes'>> {
  /** Builds each connection's graph. Required. */
  setup: SetupHandler;
  /** Default: `$PORT`, else 8080. 0 picks a free port. */
  port?: number;
  /** Default `0.0.0.0`. */
  host?: string;
  /** WebSocket path. Default `/ws`. */
  path?: string;
  /**
   * Largest accepted frame, in bytes. A bigger one gets a fatal `agent.error`
   * (`CREW_ERR_FRAME_TOO_BIG`) and closes with 1009; past four times this, `ws`
   * closes with 1009 before reading the frame. Default 65536.
   */
  maxPayload?: number;
  /** Live sessions per process; one more is closed with 1013. Default 10000. */
  maxSessions?: number;
  /** Bytes waiting to be sent to one client above which audio is dropped oldest-first. Default 262144. */
  sendSoftLimit?: number;
  /** Bytes waiting to be sent to one client above which it is closed with 1013. Default 2097152. */
  sendHardLimit?: number;
  /** Ping interval (ms); a peer silent for two intervals is terminated. 0 turns it off. Default 30000. */
  heartbeatInterval?: number;
  /** Close a session whose client sent nothing for this long (ms). 0 turns it off. Default 0. */
  idleTimeout?: number;
  /** Close a connection whose session setup has not started within this long (ms). 0 turns it off. Default 10000. */
  setupTimeout?: number;
  /** How long `close()` waits for sessions to finish before terminating them (ms). Default 10000. */
  closeTimeout?: number;
  /**
   * How long a drain (`app.drain()`, SIGTERM under `run()`) lets live sessions go on before
   * closing the rest with 1012 (service restart) so that their clients resume elsewhere (ms). Default 30000.
   */
  drainTimeout?: number;
  /** Time allowed for an upgrade request's headers (ms), against slowloris. Default 10000. */
  headersTimeout?: number;
  /** Who may connect; see `Authenticate`. Default: everyone. */
  authenticate?: Authenticate;
  /** How long `authenticate` may take (ms); later, the upgrade is refused with 503. 0 turns it off. Default 10000. */
  authenticateTimeout?: number;
  /** `Origin` values allowed to open a WebSocket (403 otherwise). Requests without `Origin` (non-browser) pass. Default: any. */
  allowedOrigins?: readonly string[];
  /** `ws`'s per-message deflate. Default `false` (no gain on PCM, costs CPU and memory). */
  perMessageDeflate?: boolean;
  /** Extra HTTP routes, tried before the built-in ones. */
  http?: HttpHandler;
  /** Phone calls over Twilio Media Streams, on the same setup (docs/telephony.md). Default off. */
  twilio?: boolean | TwilioOptions;
  /** Serve Prometheus metrics at `GET /metrics` (docs/observability.md). Default `true`. */
  metrics?: boolean;
  /** Whether `GET /metrics` must pass `authenticate` too (401 otherwise). Default `false`: scrapers usually reach it on a private network. */
  metricsAuth?: boolean;
  /**
   * Serves the session inspector: `GET /inspector` (a page listing live sessions, one
   * session's graph with per-node event counts, its recent events and turn metrics) and
   * its feed `GET /inspector/feed` (server-sent events), both behind `authenticate`
   * (401 when it refuses). See docs/observability.md. Default `false`.
   */
  inspector?: boolean;
  /** Where the app and its sessions log (pino-compatible; docs/observability.md#logs). Default: one shared `jsonLogger()` (JSON lines on stderr). */
  logger?: CrewLogger;
  /**
   * The session store that lets sessions outlive their worker (`redisStore({ url })`;
   * docs/scale-out.md). Default: `redisStore({ url: $REDIS_URL })` when `REDIS_URL`
   * is set, else none (one process, nothing stored).
   */
  store?: RedisStore;
  /** This process's id in the fleet (`app.workerId`). Default `$RXCREW_WORKER_ID`, else `HOST-PID`. */
  workerId?: string;
  /** The key that signs resume tokens; required with a store, the same on every worker. Default `$RXCREW_SECRET`. */
  secret?: string;
}

export type ResolvedTwilioOptions = Required<Pick<TwilioOptions, 'path'>> & Pick<TwilioOptions, 'publicUrl' | 'authToken'>;

export type ResolvedAppOptions = Required<Omit<CrewAppOptions, 'http' | 'authenticate' | 'allowedOrigins' | 'twilio' | 'store' | 'secret' | 'workerId'>> &
  Pick<CrewAppOptions, 'http' | 'authenticate' | 'allowedOrigins' | 'store' | 'secret' | 'workerId'> & { limits: SessionLimits; twilio: ResolvedTwilioOptions | undefined };

export const APP_DEFAULTS = Object.freeze({
  host: '0.0.0.0',
  path: '/ws',
  maxPayload: 64 * 1024,
  maxSessions: 10_000,
  sendSoftLimit: 256 * 1024,
  sendHardLimit: 2 * 1024 * 1024,
  heartbeatInterval: 30_000,
  idleTimeout: 0,
  setupTimeout: 10_000,
  closeTimeout: 10_000,
  drainTimeout: 30_000,
  headersTimeout: 10_000,
  authenticateTimeout: 10_000,
  perMessageDeflate: false,
  metrics: true,
  metricsAuth: false,
  inspector: false,
});

/** Merges `options` over the documented defaults, checking each (a bad one throws `CREW_ERR_INVALID_ARGUMENT`). */
export function resolveAppOptions(options: CrewAppOptions): ResolvedAppOptions {
  if (options === null || typeof options !== 'object' || typeof options.setup !== 'function') {
    throw new InvalidArgumentError('CrewApp: options.setup must be a function (session) => void | Promise<void>');
  }
  const merged = { ...APP_DEFAULTS, ...DEFAULT_SESSION_LIMITS, ...defined(options) };
  const port = options.port ?? portFromEnv();
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError(`CrewApp: port must be an integer from 0 to 65535, got ${String(port)}`);
  }
  if (typeof merged.path !== 'string' || !merged.path.startsWith('/')) {
    throw new InvalidArgumentError(`CrewApp: path must start with "/", got ${String(merged.path)}`);
  }
  const positive = ['maxPayload', 'maxSessions', 'sendSoftLimit', 'sendHardLimit', 'maxJsonDepth', 'maxEventsPerSecond', 'maxAudioFramesPerSecond', 'maxPrestartEvents'] as const;
  for (const key of positive) {
    if (!Number.isInteger(merged[key]) || merged[key] < 1) {
      throw new InvalidArgumentError(`CrewApp: ${key} must be a positive integer, got ${String(merged[key])}`);
    }
  }
  const durations = ['heartbeatInterval', 'idleTimeout', 'setupTimeout', 'closeTimeout', 'drainTimeout', 'headersTimeout', 'authenticateTimeout'] as const;
  for (const key of durations) {
    if (!Number.isFinite(merged[key]) || merged[key] < 0) {
      throw new InvalidArgumentError(`CrewApp: ${key} must be a number of milliseconds ≥ 0, got ${String(merged[key])}`);
    }
  }
  if (merged.sendHardLimit < merged.sendSoftLimit) {
    throw new InvalidArgumentError('CrewApp: sendHardLimit must be at least sendSoftLimit');
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw new InvalidArgumentError('CrewApp: authenticate must be a function (request) => unknown');
  }
  for (const key of ['metrics', 'metricsAuth', 'perMessageDeflate', 'inspector'] as const) {
    if (typeof merged[key] !== 'boolean') throw new InvalidArgumentError(`CrewApp: ${key} must be true or false, got ${String(merged[key])}`);
  }
  if (options.metricsAuth === true && options.authenticate === undefined) {
    throw new InvalidArgumentError('CrewApp: metricsAuth needs authenticate (it decides who may read /metrics)');
  }
  if (options.allowedOrigins !== undefined && !Array.isArray(options.allowedOrigins)) {
    throw new InvalidArgumentError('CrewApp: allowedOrigins must be an array of origins such as "https://example.com"');
  }
  const store = options.store ?? (process.env.REDIS_URL ? redisStore({ url: process.env.REDIS_URL }) : undefined);
  if (store !== undefined && !(store instanceof RedisStore)) throw new InvalidArgumentError('CrewApp: store must be made by redisStore({ url })');
  if (options.workerId !== undefined && (typeof options.workerId !== 'string' || !/^[\w.@-]{1,100}$/.test(options.workerId))) {
    throw new InvalidArgumentError('CrewApp: workerId must be 1 to 100 letters, digits, "_", ".", "@" or "-"');
  }
  const secret = options.secret ?? (process.env.RXCREW_SECRET || undefined);
  if (secret !== undefined && (typeof secret !== 'string' || secret.length < 16)) {
    throw new InvalidArgumentError('CrewApp: secret (or RXCREW_SECRET) must be a string of at least 16 characters');
  }
  if (store !== undefined && secret === undefined) {
    throw new InvalidArgumentError('CrewApp: a store needs a secret to sign resume tokens: set RXCREW_SECRET (the same on every worker) or the secret option');
  }
  return {
    ...merged,
    store,
    secret,
    twilio: resolveTwilio(options.twilio, merged.path),
    port,
    logger: options.logger === undefined ? defaultLogger() : checkedLogger(options.logger, 'CrewApp'),
    // frozen and complete: every session shares this one object
    limits: Object.freeze({
      maxFrameBytes: merged.maxPayload,
      maxJsonDepth: merged.maxJsonDepth,
      maxEventsPerSecond: merged.maxEventsPerSecond,
      maxAudioFramesPerSecond: merged.maxAudioFramesPerSecond,
      maxPrestartEvents: merged.maxPrestartEvents,
    }),
  } as ResolvedAppOptions;
}

function resolveTwilio(twilio: CrewAppOptions['twilio'], wsPath: string): ResolvedTwilioOptions | undefined {
  if (twilio === undefined || twilio === false) return undefined;
  if (twilio !== true && (twilio === null || typeof twilio !== 'object')) {
    throw new InvalidArgumentError('CrewApp: twilio must be true or { path?, publicUrl?, authToken? }');
  }
  const { path = '/twilio', publicUrl, authToken } = twilio === true ? {} : twilio;
  if (typeof path !== 'string' || !path.startsWith('/') || path === wsPath) {
    throw new InvalidArgumentError(`CrewApp: twilio.path must start with "/" and differ from path (${wsPath}), got ${String(path)}`);
  }
  for (const [name, value] of [['publicUrl', publicUrl], ['authToken', authToken]] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new InvalidArgumentError(`CrewApp: twilio.${name} must be a non-empty string`);
  }
  return Object.freeze({ path, publicUrl, authToken });
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function portFromEnv(): number {
  const raw = process.env.PORT;
  if (raw === undefined || raw === '') return 8080;
  return Number(raw);
}
