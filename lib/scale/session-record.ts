import { CONTEXT_CHANGED, SessionContext } from '../context';
import type { CrewEvent } from '../events';
import type { CrewSession } from '../session';
import { agentError } from '../agent-error';
import { crewError, ErrorCodes } from '../errors';
import { introspect } from '../internal/introspection';
import type { RedisStore, StoredSession } from './redis-store';
import type { Admission, ResumeHost } from './resume';
import { signResumeToken } from './token';

/** What a node keeps in the store and gets back on resume (an `OutputCrewNode`: its conversation and the requests in flight). */
export type NodeSnapshot = unknown;

/**
 * One session's entry in the store: `PREFIX s:ID` (a hash: `worker`,
 * `started`, `context`, `c:NODE` per agent node) and `PREFIX s:ID:log` (a
 * list: the client events the session accepted, as JSON, audio not logged).
 * Writes are issued as things happen and go out pipelined; changes to the
 * context and the conversations of one tick are written once, at its end;
 * the log's appends go with the event-loop iteration's others (`RedisStore.append`).
 * While the session lives its keys are kept from expiring; after it ends they
 * expire `idleTtlMs` after the last write (a client may resume until then),
 * or are removed at once when it ended normally (close 1000) unless the store keeps them.
 */
export class SessionRecord {
  private readonly key: string;
  private readonly log: string;
  private readonly nodes = new Map<string, () => NodeSnapshot>();
  private dirtyContext = false;
  private dirtyNodes: Set<string> | undefined;
  private scheduled = false;
  private touchedAt: number;
  private ended = false;
  /** Client events taken in during a hand-over (as JSON), kept for the session's next holder. */
  private replay: string[] | undefined;
  private readonly openedAt = Date.now();
  /** Reported to the client right after `agent.ready`: why its `resume_token` was refused (it has a fresh session). */
  refusal: CrewEvent | undefined;

  constructor(
    private readonly store: RedisStore,
    readonly sessionId: string,
    private readonly context: SessionContext,
    /** The token `agent.ready` carries. */
    readonly token: string,
    /** What the store held when the session was resumed; `undefined` for a new session. */
    readonly restored: StoredSession | undefined,
    worker: string,
  ) {
    this.key = store.sessionKey(sessionId);
    this.log = store.logKey(sessionId);
    this.touchedAt = Date.now();
    context[CONTEXT_CHANGED] = () => this.contextChanged();
    const redis = store.redis;
    const started = String(restored?.startedAt ?? this.openedAt);
    const context_ = store.json(context.toJSON(), 'the session context') ?? '{}';
    redis.hset(this.key, 'worker', worker, 'started', started, 'context', context_).catch(store.failed);
    // this holder gives the graph what the last one took in while handing over (see start())
    if (restored !== undefined && restored.replay.length > 0) redis.hdel(this.key, 'replay').catch(store.failed);
    this.expire();
  }

  /** When the session first started (ms since the epoch): kept across resumes. */
  get startedAt(): number {
    return this.restored?.startedAt ?? this.openedAt;
  }

  get resumed(): boolean {
    return this.restored !== undefined;
  }

  /**
   * The session is being handed over (its close has been sent; its client
   * resumes elsewhere): what it holds is written now and no longer changes;
   * client events that still come are logged and kept for the next holder
   * (`handingOver`: the runtime no longer gives them to the graph).
   */
  handOver(): void {
    if (this.ended || this.replay !== undefined) return;
    this.flush();
    this.replay = [];
  }

  get handingOver(): boolean {
    return this.replay !== undefined;
  }

  /** A client event the session accepted (not audio): appended to the log (and, during a hand-over, kept for the next holder). */
  accepted(e: CrewEvent): void {
    if (this.ended) return;
    let json: string;
    try {
      json = JSON.stringify(e); // not store.json(): its description would be built for every event
    } catch (err) {
      return this.store.unserialisable(err, `a ${e.type} event`);
    }
    this.store.append(this.log, json);
    if (this.replay !== undefined) {
      this.replay.push(json);
      this.store.redis.hset(this.key, 'replay', `[${this.replay.join(',')}]`).catch(this.store.failed);
    }
  }

  /**
   * A node of the session keeps `snapshot()` in the store under its name;
   * call the returned function after each change (written at the tick's end).
   */
  keep(nodeName: string, snapshot: () => NodeSnapshot): () => void {
    this.nodes.set(nodeName, snapshot);
    return () => this.nodeChanged(nodeName);
  }

  /** Keeps the keys from expiring while the session lives (called by the fleet's heartbeat; writes only every `idleTtlMs / 4`). */
  keepAlive(now: number): void {
    if (!this.ended && now - this.touchedAt >= this.store.options.idleTtlMs / 4) this.expire(now);
  }

  /** Writes everything again (after Redis came back: it may have lost what it held). */
  rewrite(worker: string): void {
    if (this.ended || this.replay !== undefined) return;
    const fields: string[] = ['worker', worker, 'started', String(this.startedAt)];
    const context = this.store.json(this.context.toJSON(), 'the session context');
    if (context !== undefined) fields.push('context', context);
    for (const name of this.nodes.keys()) this.pushNode(fields, name);
    this.store.redis.hset(this.key, ...fields).catch(this.store.failed);
    this.expire();
  }

  /** The session ended with `code`: what changed is written; a normal end removes the keys (unless kept for audit). */
  end(code: number): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    this.context[CONTEXT_CHANGED] = undefined;
    if (code === 1000 && !this.store.options.keepClosed) {
      this.store.flushAppends(); // its last events first: a DEL before them would leave a log that never expires
      this.store.redis.del(this.key, this.log).catch(this.store.failed);
    }
  }

  private contextChanged(): void {
    this.dirtyContext = true;
    this.schedule();
  }

  private nodeChanged(name: string): void {
    (this.dirtyNodes ??= new Set()).add(name);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.ended || this.replay !== undefined) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.ended || this.replay !== undefined || (!this.dirtyContext && this.dirtyNodes === undefined)) return;
    const fields: string[] = [];
    if (this.dirtyContext) {
      const context = this.store.json(this.context.toJSON(), 'the session context');
      if (context !== undefined) fields.push('context', context);
    }
    if (this.dirtyNodes !== undefined) for (const name of this.dirtyNodes) this.pushNode(fields, name);
    this.dirtyContext = false;
    this.dirtyNodes = undefined;
    if (fields.length > 0) this.store.redis.hset(this.key, ...fields).catch(this.store.failed);
  }

  private pushNode(fields: string[], name: string): void {
    const snapshot = this.nodes.get(name);
    const json = snapshot && this.store.json(snapshot(), `node "${name}"'s conversation`);
    if (json !== undefined) fields.push(`c:${name}`, json);
  }

  private expire(now = Date.now()): void {
    this.touchedAt = now;
    const ttl = this.store.options.idleTtlMs;
    const redis = this.store.redis;
    redis.pexpire(this.key, ttl).catch(this.store.failed);
    redis.pexpire(this.log, ttl).catch(this.store.failed);
  }
}

/** The store record of `session`, when the app has a store. */
export function recordOf(session: CrewSession): SessionRecord | undefined {
  return introspect(session)?.record;
}

/**
 * Gives a new session of an app with a store its record: the restored context
 * (before setup), its token, and the refusal to report after `agent.ready`.
 */
export function recordSession(session: CrewSession, found: Admission, host: ResumeHost, worker: string, metrics?: { resume(outcome: 'resumed' | 'refused'): void }): SessionRecord {
  const { restored, refusal } = found;
  if (restored !== undefined) metrics?.resume('resumed');
  else if (refusal !== undefined) metrics?.resume('refused');
  if (restored !== undefined) for (const [key, value] of Object.entries(restored.context)) session.context.set(key, value);
  const token = signResumeToken(host.secret, session.id);
  const record = new SessionRecord(host.store, session.id, session.context, token, restored, worker);
  if (refusal !== undefined) {
    record.refusal = agentError(ErrorCodes.RESUME_REFUSED, crewError(ErrorCodes.RESUME_REFUSED, { reason: refusal }), { details: { reason: refusal } });
  }
  introspect(session)!.record = record;
  return record;
}
