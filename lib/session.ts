import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import { SessionContext } from './context';
import { InvalidArgumentError } from './errors';
import type { CrewEvent } from './events';
import type { EventHandler } from './hooks';
import { SessionRuntime } from './internal/runtime';
import { CloseCodes, CrewConnection, CrewTransport, isAllowedCloseCode } from './transport';
import { AudioFormat, DEFAULT_AUDIO_FORMAT } from './audio/format';
import { toMermaid } from './graph-drawing';
import { checkedLogger, defaultLogger } from './logger';
import type { CrewNode } from './node';
import { CrewSessionOptions, SessionLimits, SessionState, sessionLimits } from './session-options';
import './catalog';

export { DEFAULT_SESSION_LIMITS } from './session-options';
export type { CrewLogger, CrewSessionOptions, SessionLimits, SessionState } from './session-options';

const defaultNow = () => performance.now();

/**
 * One conversation: the graph of nodes for one connection, its hooks, its
 * context. Events flow client → root → nodes → sink → client; every event is
 * published once on the session's bus (`events$`, `onEvent`).
 *
 * Order is kept end to end: an event sent or injected while another is being
 * delivered waits behind it (a per-session trampoline), so RxJS re-entrancy
 * never reorders what nodes or the client see.
 *
 * @example
 * const session = new CrewSession();
 * session.addNode(new Echo());
 * session.onEvent('system.user_joined', (s, e) => console.log(`${e.session_id} joined`));
 * await session.start();
 */
export class CrewSession {
  readonly id: string;
  readonly context = new SessionContext();
  /** What `CrewApp`'s `authenticate` returned for this connection (undefined without it). */
  readonly auth: unknown;
  readonly limits: Readonly<SessionLimits>;
  /** Everything that runs: lifecycle, graph, bus, transport, teardown (lib/internal/runtime.ts). */
  private readonly runtime: SessionRuntime;

  constructor(options: CrewSessionOptions = {}) {
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) {
      throw new InvalidArgumentError('CrewSession: id must be a non-empty string');
    }
    this.id = options.id ?? randomUUID();
    this.auth = options.auth;
    this.limits = sessionLimits(options.limits);
    this.runtime = new SessionRuntime(this, {
      logger: options.logger === undefined ? defaultLogger() : checkedLogger(options.logger, 'CrewSession'),
      teardownTimeout: options.teardownTimeout ?? 5000,
      limits: this.limits,
      now: options.now ?? defaultNow,
    });
  }

  /**
   * Whether this session was resumed from the app's store (a client came back
   * with its `resume_token`): same `id`, `context` and agent conversation as
   * before; `system.session.resumed` follows `start()`. See docs/scale-out.md.
   */
  get resumed(): boolean {
    return this.runtime.record?.resumed ?? false;
  }

  /** The session's event bus: every event once, as it happens. */
  get events$(): Observable<CrewEvent> {
    return this.runtime.events$;
  }

  get state(): SessionState {
    return this.runtime.state;
  }

  /**
   * The client's audio formats: PCM16 little-endian mono at these rates (Hz),
   * 16000 each way unless `system.init` declared `audio: { input_sample_rate, output_sample_rate }`.
   */
  get audioFormat(): Readonly<AudioFormat> {
    return this.runtime.existingPort?.audioFormat ?? DEFAULT_AUDIO_FORMAT;
  }

  /** The client's `system.init`, once received. */
  get init(): CrewEvent | undefined {
    return this.runtime.existingPort?.init;
  }

  /**
   * Resolves with the client's `system.init` when it arrives (at once if it has),
   * or with `undefined` after `timeout` ms or when the session ends. Setup may await
   * it before `start()` so that `system.user.joined` hooks and nodes see the
   * client's `initial_variables` in `context`; events meanwhile are buffered.
   */
  waitForInit(timeout = 1000): Promise<CrewEvent | undefined> {
    if (this.runtime.ending) return Promise.resolve(this.init);
    return this.runtime.clientPort().waitForInit(timeout);
  }

  /** Nodes added so far, in the order they were added. */
  get nodes(): readonly CrewNode[] {
    return this.runtime.nodes;
  }

  /** The graph as a Mermaid flowchart (root, nodes, edges, sink), before or after `start()`; see `toMermaid` in lib/graph-drawing.ts. */
  toMermaid(): string {
    return toMermaid({ nodes: this.nodes, children: (n) => this.runtime.childrenOf(n) });
  }

  /** Registers a node. Throws `CREW_ERR_DUPLICATE_NODE` for a repeated instance or name. */
  addNode(node: CrewNode): this {
    this.runtime.building('addNode').addNode(node);
    return this;
  }

  /** Connects two added nodes: `child` receives everything `parent` emits. */
  addEdge(parent: CrewNode, child: CrewNode): this {
    this.runtime.building('addEdge').addEdge(parent, child);
    return this;
  }

  /**
   * Calls `handler(session, event)` for each event whose type matches `pattern`
   * (an exact type, an alias, `prefix.*` or `*`; `on_event_received`: every
   * event received from the client — JSON and `user.audio`, not what nodes, the
   * runtime, `inject` or `send` make). Returns a function that removes the hook.
   */
  onEvent<E extends CrewEvent = CrewEvent>(pattern: string, handler: EventHandler<E>): () => void {
    return this.runtime.onEvent(pattern, handler as EventHandler);
  }

  /**
   * Locks and validates the graph, wires it, sends `agent.ready`, emits
   * `system.user.joined`, then delivers the client events that arrived before.
   * The work is done synchronously; a failure rejects, reports a fatal
   * `agent.error`, and closes the session (1011).
   */
  start(): Promise<void> {
    try {
      this.runtime.start();
      return Promise.resolve();
    } catch (err) {
      const rejected = Promise.reject(err);
      // the session has already reported and closed; an un-awaited start() must not crash the process
      rejected.catch(() => undefined);
      return rejected;
    }
  }

  /** Resolves when the connection has ended and teardown has run. */
  waitUntilComplete(): Promise<void> {
    return this.runtime.waitUntilComplete();
  }

  /**
   * Emits `system.user.left`, lets nodes flush, closes the connection with
   * `code` (default 1000) and tears down. Idempotent: later calls get the same promise.
   */
  stop(reason = 'session stopped', code: number = CloseCodes.NORMAL): Promise<void> {
    if (!isAllowedCloseCode(code)) {
      throw new InvalidArgumentError(`stop: close code ${code} is not allowed; use 1000, 1001, 1008, 1011, 1012, 1013 or 3000–4999`);
    }
    return this.runtime.stop(String(reason), code);
  }

  /** Reports `err` to the client as a fatal `agent.error` and ends the session with `code` (default 1011). */
  fail(err: unknown, reason = 'internal error', code: number = CloseCodes.INTERNAL_ERROR): Promise<void> {
    return this.runtime.fail(err, reason, code);
  }

  /** Sends an event to the client, through the sink (hooks see it). */
  send(e: CrewEvent): void {
    assertEvent(e, 'send');
    this.runtime.send(e);
  }

  /** Puts an event into the graph, through the root, as if the client had sent it. */
  inject(e: CrewEvent): void {
    assertEvent(e, 'inject');
    this.runtime.inject(e);
  }

  /**
   * Attaches the transport that carries this session's traffic; returns the
   * connection to feed client frames into. One transport per session.
   */
  attach(transport: CrewTransport): CrewConnection {
    return this.runtime.attach(transport);
  }
}

function assertEvent(e: unknown, method: string): asserts e is CrewEvent {
  if (typeof e !== 'object' || e === null || typeof (e as CrewEvent).type !== 'string' || (e as CrewEvent).type === '') {
    throw new InvalidArgumentError(`${method}: expected an event object with a non-empty "type" string`);
  }
}
