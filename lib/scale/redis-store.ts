import type { Redis, RedisOptions } from 'ioredis';
import { InvalidArgumentError } from '../errors';
import type { CrewLogger } from '../session-options';

/** Options of `redisStore()`. */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). Required. */
  url: string;
  /** Put before every key and channel, so that several apps can share one Redis. Default `rxcrew:`. */
  keyPrefix?: string;
  /** A session's keys expire after this long without a write (ms); a client may resume until then. Default 600000 (10 min). */
  idleTtlMs?: number;
  /** Keep a call's keys after it ended normally (close 1000), until they expire, for audit. Default `false`: removed at its end. */
  keepClosed?: boolean;
  /** Client events kept in a session's log, the latest ones. Default 10000. */
  maxLogEvents?: number;
  /** How often a worker renews its place in the fleet registry (ms). Default 1000. */
  heartbeatMs?: number;
  /** A worker silent this long is dropped from the registry (ms). Default 3 × `heartbeatMs`. */
  heartbeatTimeoutMs?: number;
}

/** A session as the store keeps it. */
export interface StoredSession {
  readonly id: string;
  /** The worker that last held it. */
  readonly worker: string | undefined;
  readonly startedAt: number;
  readonly context: Record<string, unknown>;
  /** Each `OutputCrewNode`'s conversation, by node name. */
  readonly conversations: Record<string, unknown>;
  /** Client events taken in while the session was being handed over (after its close was sent), given to the graph on resume. */
  readonly replay: readonly Record<string, unknown>[];
}

/** What a store's failures add up to (a Redis down, a value that is not JSON). */
export interface StoreStats {
  /** Writes that failed: what they carried is not in the store. */
  failedWrites: number;
  /** Values that could not be saved as JSON (a context value that is a function, a cycle). */
  unserialisable: number;
  /** Times the connection came back after a loss; each time every live session is written again. */
  reconnects: number;
}

type Resolved = Required<Omit<RedisStoreOptions, 'heartbeatTimeoutMs'>> & { heartbeatTimeoutMs: number };

/**
 * The event-log appends of one event-loop iteration, in one command: each
 * value RPUSHed onto its list (KEYS[i] ← ARGV[i + 2]); a list this creates
 * expires after ARGV[1] ms; a list longer than ARGV[2] is trimmed to its latest.
 */
const APPEND_LOGS = `local ttl, max = ARGV[1], tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local n = redis.call('RPUSH', key, ARGV[i + 2])
  if n == 1 then redis.call('PEXPIRE', key, ttl) end
  if n > max then redis.call('LTRIM', key, -max, -1) end
end
return #KEYS`;
/** Appends per script call, at most (a busier iteration is sent in several). */
const APPEND_BATCH = 1000;

type AppendLogs = (numKeys: number, ...args: Array<string | number>) => Promise<number>;

/**
 * A session store on Redis, for `new CrewApp({ store })` (docs/scale-out.md).
 * Writes go out pipelined (ioredis's auto-pipelining: the commands of one tick
 * leave in one write; the event logs' appends of one event-loop iteration go
 * as one script call) and nothing on a session's path waits for them; a write
 * that fails is logged and counted (`stats`). The connection is opened when the
 * app listens and closed when it closes.
 */
export class RedisStore {
  readonly options: Readonly<Resolved>;
  readonly stats: StoreStats = { failedWrites: 0, unserialisable: 0, reconnects: 0 };
  private client: Redis | undefined;
  private subscriber: Redis | undefined;
  private logger: CrewLogger | undefined;
  private warnedAt = -Infinity;
  private lost = false;
  /** Log appends waiting for the end of this event-loop iteration: list keys and values, pairwise. */
  private appends: { keys: string[]; values: string[] } | undefined;
  /** Told when the connection is back after a loss (the app writes every live session again). */
  onReconnect: (() => void) | undefined;
  /** Told of each message on a subscribed channel. */
  onMessage: ((channel: string, message: string) => void) | undefined;
  readonly failed = (err: unknown): void => {
    this.stats.failedWrites++;
    this.warn(err, 'a write to the session store failed; what it carried is not persisted');
  };

  constructor(options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object' || typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) {
      throw new InvalidArgumentError('redisStore: url must be a redis:// or rediss:// URL');
    }
    const heartbeatMs = options.heartbeatMs ?? 1000;
    const resolved: Resolved = {
      url: options.url,
      keyPrefix: options.keyPrefix ?? 'rxcrew:',
      idleTtlMs: options.idleTtlMs ?? 600_000,
      keepClosed: options.keepClosed ?? false,
      maxLogEvents: options.maxLogEvents ?? 10_000,
      heartbeatMs,
      heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 3 * heartbeatMs,
    };
    if (typeof resolved.keyPrefix !== 'string') throw new InvalidArgumentError('redisStore: keyPrefix must be a string');
    for (const key of ['idleTtlMs', 'maxLogEvents', 'heartbeatMs', 'heartbeatTimeoutMs'] as const) {
      if (!Number.isInteger(resolved[key]) || resolved[key] < 1) throw new InvalidArgumentError(`redisStore: ${key} must be a positive integer, got ${String(resolved[key])}`);
    }
    if (resolved.heartbeatTimeoutMs <= resolved.heartbeatMs) throw new InvalidArgumentError('redisStore: heartbeatTimeoutMs must be longer than heartbeatMs');
    this.options = Object.freeze(resolved);
  }

  /** The command connection (opened by `connect`). */
  get redis(): Redis {
    if (this.client === undefined) throw new InvalidArgumentError('redisStore: not connected (the app connects it when it listens)');
    return this.client;
  }

  /** Opens the connections (idempotent); resolves once Redis answered, or at once if it is not up yet (commands wait for it). */
  async connect(logger: CrewLogger, channels: readonly string[]): Promise<void> {
    if (this.client !== undefined) return;
    this.logger = logger;
    // loaded here: an app without a store never loads the client
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Redis: Client } = require('ioredis') as typeof import('ioredis');
    const options: RedisOptions = {
      enableAutoPipelining: true,
      lazyConnect: true,
      // commands wait (in order) while Redis is away, up to the retries; reconnection backs off to 1 s
      maxRetriesPerRequest: 20,
      retryStrategy: (times) => Math.min(50 * times, 1000),
    };
    const client = (this.client = new Client(this.options.url, options));
    client.defineCommand('rxcrewAppendLogs', { lua: APPEND_LOGS }); // EVALSHA, loaded again after a restart
    const subscriber = (this.subscriber = new Client(this.options.url, { ...options, enableAutoPipelining: false }));
    client.on('error', (err: Error) => this.connectionError(err));
    subscriber.on('error', () => undefined); // reported by the command connection
    client.on('close', () => (this.lost = true));
    client.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      this.stats.reconnects++;
      this.logger?.info({}, 'session store reconnected; writing every live session again');
      this.onReconnect?.();
    });
    subscriber.on('message', (channel: string, message: string) => this.onMessage?.(channel, message));
    await Promise.all([client.connect(), subscriber.connect()]).catch((err: unknown) => this.connectionError(err));
    if (channels.length > 0) await subscriber.subscribe(...channels).catch((err: unknown) => this.connectionError(err));
    this.lost = false;
  }

  /** Closes the connections, after what was written has gone out. */
  async close(): Promise<void> {
    this.flushAppends();
    const { client, subscriber } = this;
    this.client = this.subscriber = undefined;
    await Promise.allSettled([client?.quit(), subscriber?.quit()]);
    client?.disconnect();
    subscriber?.disconnect();
  }

  sessionKey(id: string): string {
    return `${this.options.keyPrefix}s:${id}`;
  }

  logKey(id: string): string {
    return `${this.options.keyPrefix}s:${id}:log`;
  }

  /**
   * Appends `json` to the list `key` (a session's event log) at the end of this
   * event-loop iteration, with every other append of the iteration: one command
   * for all of them (the cost of a command each, not of the events, is what a
   * busy worker would pay). A new list gets the idle expiry; a list over
   * `maxLogEvents` keeps its latest.
   */
  append(key: string, json: string): void {
    let batch = this.appends;
    if (batch === undefined) {
      batch = this.appends = { keys: [], values: [] };
      setImmediate(this.flushAppends);
    }
    batch.keys.push(key);
    batch.values.push(json);
  }

  /** Sends the waiting appends now (before a command that must come after them: a DEL, a read). */
  readonly flushAppends = (): void => {
    const batch = this.appends;
    if (batch === undefined) return;
    this.appends = undefined;
    const client = this.client as (Redis & { rxcrewAppendLogs: AppendLogs }) | undefined;
    if (client === undefined) return this.failed(new Error(`the store is closed: ${batch.keys.length} logged event(s) not written`));
    const { idleTtlMs, maxLogEvents } = this.options;
    for (let i = 0; i < batch.keys.length; i += APPEND_BATCH) {
      const keys = batch.keys.slice(i, i + APPEND_BATCH);
      client.rxcrewAppendLogs(keys.length, ...keys, idleTtlMs, maxLogEvents, ...batch.values.slice(i, i + APPEND_BATCH)).catch(this.failed);
    }
  };

  /** The stored session `id`, or `undefined` when its keys are gone (ended, expired, never there). Rejects after `timeoutMs`. */
  async load(id: string, timeoutMs: number): Promise<StoredSession | undefined> {
    this.flushAppends();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the session store did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const fields = await Promise.race([this.redis.hgetall(this.sessionKey(id)), timeout]);
      if (fields.started === undefined) return undefined;
      const conversations: Record<string, unknown> = {};
      for (const [field, value] of Object.entries(fields)) if (field.startsWith('c:')) conversations[field.slice(2)] = JSON.parse(value);
      return {
        id,
        worker: fields.worker,
        startedAt: Number(fields.started),
        context: fields.context === undefined ? {} : (JSON.parse(fields.context) as Record<string, unknown>),
        conversations,
        replay: fields.replay === undefined ? [] : (JSON.parse(fields.replay) as Record<string, unknown>[]),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The session's logged client events, oldest first (for audits and tests). */
  async eventLog(id: string): Promise<unknown[]> {
    this.flushAppends();
    return (await this.redis.lrange(this.logKey(id), 0, -1)).map((s) => JSON.parse(s) as unknown);
  }

  /** `value` as JSON, or `undefined` (counted and logged) when it cannot be. */
  json(value: unknown, what: string): string | undefined {
    try {
      return JSON.stringify(value);
    } catch (err) {
      return this.unserialisable(err, what);
    }
  }

  /** Counts and logs a value (`what`) that could not be saved as JSON. */
  unserialisable(err: unknown, what: string): undefined {
    this.stats.unserialisable++;
    this.warn(err, `${what} could not be saved as JSON`);
    return undefined;
  }

  private connectionError(err: unknown): void {
    this.warn(err, 'session store connection error');
  }

  /** Logs at most once a second: a Redis that is down fails every write. */
  private warn(err: unknown, message: string): void {
    const now = Date.now();
    if (now - this.warnedAt < 1000) return;
    this.warnedAt = now;
    this.logger?.warn({ err, failed_writes: this.stats.failedWrites }, message);
  }
}

/**
 * A session store on Redis (`new CrewApp({ setup, store: redisStore({ url }) })`):
 * sessions survive their worker, clients resume on any worker with their token,
 * and `app.fleet` reaches sessions across workers. See docs/scale-out.md.
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
