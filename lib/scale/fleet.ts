import { randomUUID } from 'node:crypto';
import { InvalidArgumentError } from '../errors';
import type { CrewEvent } from '../events';
import type { CrewSession } from '../session';
import type { CrewLogger } from '../session-options';
import { CloseCodes } from '../transport';
import type { RedisStore } from './redis-store';
import { recordOf } from './session-record';

/** One live session of the fleet, as `app.fleet.sessions()` lists it. */
export interface FleetSession {
  readonly id: string;
  /** The worker that holds it (`app.workerId` there). */
  readonly worker: string;
  /** When the session started, in ms since the epoch (its first start, for a resumed session). */
  readonly startedAt: number;
  /** `'running'` once started, `'created'` while its setup runs. */
  readonly state: string;
}

/** The sessions of every worker sharing the app's store (without a store: this process's). */
export interface CrewFleet {
  /** Live sessions across workers. Workers silent for their heartbeat timeout are left out. */
  sessions(): Promise<FleetSession[]>;
  /** Puts `event` into the graph of session `sessionId` on whichever worker holds it; `true` if delivered, `false` if no such live session. */
  inject(sessionId: string, event: CrewEvent): Promise<boolean>;
  /** Sends `event` to the client of session `sessionId` on whichever worker holds it; `true` if delivered, `false` if no such live session. */
  send(sessionId: string, event: CrewEvent): Promise<boolean>;
}

type Op = 'inject' | 'send' | 'release';
interface Command {
  rid: string;
  from: string;
  op: Op;
  id: string;
  event?: CrewEvent;
}

/** How long a command to another worker may take before it counts as not delivered (ms). */
const COMMAND_TIMEOUT_MS = 2000;

/**
 * `app.fleet`: the registry of live sessions and the commands between
 * workers. In Redis: `PREFIX workers` (a sorted set: worker → its last
 * heartbeat, ms), `PREFIX w:WORKER` (a hash: session id → `{startedAt,
 * state}`, expiring with the worker's heartbeat timeout), and two channels per
 * worker, `PREFIX cmd:WORKER` and `PREFIX reply:WORKER`. A command for a
 * session on another worker is published on that worker's channel; its answer
 * comes back on ours.
 */
export class Fleet implements CrewFleet {
  private timer: NodeJS.Timeout | undefined;
  /** When each live session was admitted (its first start, for a resumed one), and the state last written to the registry. */
  private readonly entries = new WeakMap<CrewSession, { startedAt: number; state: string }>();
  private readonly waiting = new Map<string, (delivered: boolean) => void>();

  constructor(
    private readonly live: ReadonlyMap<string, CrewSession>,
    readonly worker: string,
    private readonly store: RedisStore | undefined,
    private readonly logger: CrewLogger,
  ) {}

  private get prefix(): string {
    return this.store!.options.keyPrefix;
  }

  private get registryKey(): string {
    return `${this.prefix}w:${this.worker}`;
  }

  /** Connects to the store, subscribes to this worker's channels, and starts the heartbeat. */
  async start(): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    store.onMessage = (channel, message) => this.message(channel, message);
    store.onReconnect = () => this.rewrite();
    await store.connect(this.logger, [`${this.prefix}cmd:${this.worker}`, `${this.prefix}reply:${this.worker}`]);
    // a process starting under an id (a worker restarted) holds none of the sessions listed under it before
    await store.redis.del(this.registryKey).catch(store.failed);
    this.beat();
    this.timer = setInterval(() => this.beat(), store.options.heartbeatMs);
    this.timer.unref();
  }

  /** Leaves the registry and closes the store's connections (after what was written has gone out). */
  async stop(): Promise<void> {
    const store = this.store;
    if (store === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    // what still comes on our channels is not answered: the store is closing
    store.onMessage = undefined;
    store.onReconnect = undefined;
    for (const settle of this.waiting.values()) settle(false);
    this.waiting.clear();
    try {
      await Promise.all([store.redis.del(this.registryKey), store.redis.zrem(`${this.prefix}workers`, this.worker)]);
    } catch (err) {
      this.logger.warn({ err }, 'could not leave the fleet registry (it drops this worker after its heartbeat timeout)');
    }
    await store.close();
  }

  /** A session of this worker started being live: listed until it completes. */
  admitted(session: CrewSession, startedAt: number): void {
    const entry = { startedAt, state: session.state };
    this.entries.set(session, entry);
    const store = this.store;
    if (store === undefined) return;
    store.redis.hset(this.registryKey, session.id, JSON.stringify(entry)).catch(store.failed);
    void session.waitUntilComplete().then(() => {
      // a session resumed here again under the same id is listed by its new entry
      if (this.live.get(session.id) === session || !this.live.has(session.id)) store.redis.hdel(this.registryKey, session.id).catch(store.failed);
    });
  }

  async sessions(): Promise<FleetSession[]> {
    const store = this.store;
    if (store === undefined) return [...this.live.values()].map((s) => this.local(s));
    const redis = store.redis;
    const since = Date.now() - store.options.heartbeatTimeoutMs;
    const workers = await redis.zrangebyscore(`${this.prefix}workers`, since, '+inf');
    const hashes = await Promise.all(workers.map((w) => redis.hgetall(`${this.prefix}w:${w}`)));
    const byId = new Map<string, FleetSession>();
    const twice: string[] = [];
    hashes.forEach((hash, i) => {
      for (const [id, json] of Object.entries(hash)) {
        const { startedAt, state } = JSON.parse(json) as { startedAt: number; state: string };
        if (byId.has(id)) twice.push(id);
        byId.set(id, { id, worker: workers[i], startedAt, state });
      }
    });
    // a session being resumed may be listed by both workers for a moment: the one its record names holds it
    const owners = await Promise.all(twice.map((id) => redis.hget(store.sessionKey(id), 'worker')));
    twice.forEach((id, i) => {
      const owner = owners[i];
      if (owner !== null && owner !== byId.get(id)!.worker) byId.set(id, { ...byId.get(id)!, worker: owner });
    });
    return [...byId.values()];
  }

  inject(sessionId: string, event: CrewEvent): Promise<boolean> {
    return this.command('inject', sessionId, event);
  }

  send(sessionId: string, event: CrewEvent): Promise<boolean> {
    return this.command('send', sessionId, event);
  }

  /**
   * Before a session is resumed here: if another worker (or this one) still
   * holds it — its client's old connection not yet seen dead — it lets it go
   * (closes it with 1001, keeping its keys). Resolves once done or timed out: `true` if a session was let go
   * (what the store holds may have changed since it was read).
   */
  async release(sessionId: string, owner: string | undefined): Promise<boolean> {
    const here = this.live.get(sessionId);
    if (here !== undefined) {
      await here.stop('resumed on another connection', CloseCodes.GOING_AWAY);
      return true;
    }
    if (owner === undefined || owner === this.worker || !(await this.alive(owner))) return false;
    return this.publish(owner, 'release', sessionId, undefined);
  }

  private async command(op: 'inject' | 'send', sessionId: string, event: CrewEvent): Promise<boolean> {
    if (typeof sessionId !== 'string' || sessionId === '') throw new InvalidArgumentError(`fleet.${op}: sessionId must be a non-empty string`);
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string' || event.type === '') {
      throw new InvalidArgumentError(`fleet.${op}: expected an event object with a non-empty "type" string`);
    }
    if (this.deliver(op, sessionId, event)) return true;
    const store = this.store;
    if (store === undefined) return false;
    const owner = await store.redis.hget(store.sessionKey(sessionId), 'worker');
    if (owner === null || owner === this.worker || !(await this.alive(owner))) return false;
    return this.publish(owner, op, sessionId, event);
  }

  /** Runs `op` on a live session of this worker; false when there is none. */
  private deliver(op: Op, id: string, event: CrewEvent | undefined): boolean {
    const session = this.live.get(id);
    if (session === undefined || session.state === 'closed') return false;
    if (op === 'inject') session.inject(event!);
    else if (op === 'send') session.send(event!);
    // its client has gone (it reconnected): the session's end writes what it holds before the reply goes out
    else void session.stop('resumed on another worker', CloseCodes.GOING_AWAY);
    return true;
  }

  private async alive(worker: string): Promise<boolean> {
    const store = this.store!;
    const beat = await store.redis.zscore(`${this.prefix}workers`, worker);
    return beat !== null && Number(beat) >= Date.now() - store.options.heartbeatTimeoutMs;
  }

  private publish(worker: string, op: Op, id: string, event: CrewEvent | undefined): Promise<boolean> {
    const store = this.store!;
    const rid = randomUUID();
    const command: Command = { rid, from: this.worker, op, id, ...(event === undefined ? {} : { event }) };
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), COMMAND_TIMEOUT_MS);
      const settle = (delivered: boolean) => {
        clearTimeout(timer);
        this.waiting.delete(rid);
        resolve(delivered);
      };
      this.waiting.set(rid, settle);
      // nobody subscribed (a worker that died: Redis saw its connection close) answers at once
      store.redis.publish(`${this.prefix}cmd:${worker}`, JSON.stringify(command)).then(
        (receivers) => receivers === 0 && settle(false),
        (err: unknown) => {
          store.failed(err);
          settle(false);
        },
      );
    });
  }

  private message(channel: string, message: string): void {
    let parsed: Partial<Command> & { ok?: boolean };
    try {
      parsed = JSON.parse(message) as Partial<Command> & { ok?: boolean };
    } catch {
      return this.logger.warn({ channel }, 'a fleet message that is not JSON was ignored');
    }
    if (channel.endsWith(`reply:${this.worker}`)) {
      if (typeof parsed.rid === 'string') this.waiting.get(parsed.rid)?.(parsed.ok === true);
      return;
    }
    const { rid, from, op, id, event } = parsed;
    if (typeof rid !== 'string' || typeof from !== 'string' || typeof id !== 'string' || (op !== 'inject' && op !== 'send' && op !== 'release')) {
      return this.logger.warn({ channel }, 'a malformed fleet command was ignored');
    }
    let ok = false;
    try {
      ok = this.deliver(op, id, event);
    } catch (err) {
      this.logger.warn({ err, session_id: id, op }, 'a fleet command failed');
    }
    const store = this.store!;
    store.redis.publish(`${this.prefix}reply:${from}`, JSON.stringify({ rid, ok })).catch(store.failed);
  }

  private beat(): void {
    const store = this.store!;
    const now = Date.now();
    const redis = store.redis;
    redis.zadd(`${this.prefix}workers`, now, this.worker).catch(store.failed);
    redis.pexpire(this.registryKey, store.options.heartbeatTimeoutMs).catch(store.failed);
    // workers gone for ten timeouts leave the sorted set (their hashes have expired long since)
    redis.zremrangebyscore(`${this.prefix}workers`, '-inf', now - 10 * store.options.heartbeatTimeoutMs).catch(store.failed);
    const changed: string[] = [];
    for (const session of this.live.values()) {
      recordOf(session)?.keepAlive(now);
      const entry = this.entries.get(session);
      if (entry !== undefined && entry.state !== session.state) {
        entry.state = session.state;
        changed.push(session.id, JSON.stringify(entry));
      }
    }
    if (changed.length > 0) redis.hset(this.registryKey, ...changed).catch(store.failed);
  }

  /** Redis came back (maybe empty): the registry and every live session are written again. */
  private rewrite(): void {
    const store = this.store!;
    const entries: string[] = [];
    for (const session of this.live.values()) {
      recordOf(session)?.rewrite(this.worker);
      const entry = this.entries.get(session);
      if (entry !== undefined) entries.push(session.id, JSON.stringify(entry));
    }
    if (entries.length > 0) store.redis.hset(this.registryKey, ...entries).catch(store.failed);
    this.beat();
  }

  private local(session: CrewSession): FleetSession {
    return { id: session.id, worker: this.worker, startedAt: this.entries.get(session)?.startedAt ?? Date.now(), state: session.state };
  }
}
