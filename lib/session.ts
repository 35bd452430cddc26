import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import { SessionContext } from './context';
import {
  AlreadyStartedError,
  CrewError,
  describeError,
  ErrorCodes,
  errorClass,
  GraphLockedError,
  InvalidArgumentError,
  SessionClosedError,
} from './errors';
import { CrewEvent, event } from './events';
import { Graph } from './graph';
import { EventHandler } from './hooks';
import { Delivery, ROOT, SINK } from './internal/delivery';
import { EventBus } from './internal/event-bus';
import { ClientPort, ClientPortSink } from './internal/client-port';
import { Fanout } from './internal/fanout';
import { CloseCodes, CrewConnection, CrewTransport, isAllowedCloseCode } from './transport';
import { AudioFormat, DEFAULT_AUDIO_FORMAT } from './audio/format';
import { CrewNode, NodeContext } from './node';
import { CrewLogger, CrewSessionOptions, SessionState, sessionLimits, SessionLimits } from './session-options';
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
 * delivered waits behind it (a per-session trampoline, in `Delivery`), so RxJS
 * re-entrancy never reorders what nodes or the client see.
 */
export class CrewSession {
  readonly id: string;
  readonly context = new SessionContext();
  /** What `CrewApp`'s `authenticate` returned for this connection (undefined without it). */
  readonly auth: unknown;
  readonly limits: Readonly<SessionLimits>;
  private readonly now: () => number;

  // Most of a server's sessions are idle at any moment, so what a session holds
  // is kept small: containers are created when first needed, the graph's build
  // state is dropped once wired, and inputs are `Fanout`s rather than Subjects.
  /** Until wired; then `wiredNodes` keeps the node list. */
  private graph: Graph | undefined = new Graph();
  private wiredNodes: readonly CrewNode[] = [];
  private readonly bus: EventBus;
  /** The graph at run time: the trampoline, the nodes' wiring, the way out to the client. */
  private readonly delivery: Delivery;
  private readonly logger: CrewLogger;
  private readonly teardownTimeout: number;

  private currentState: SessionState = 'created';
  private port: ClientPort | undefined;
  private prestart: CrewEvent[] | undefined;
  private format: Readonly<AudioFormat> = DEFAULT_AUDIO_FORMAT;
  private initEvent: CrewEvent | undefined;
  private initWaiters: Array<(init: CrewEvent | undefined) => void> | undefined;

  private completion: Promise<void> | undefined;
  private complete: (() => void) | undefined;
  private completed = false;
  private endPromise: Promise<void> | undefined;

  private readonly nodeContext: NodeContext;

  constructor(options: CrewSessionOptions = {}) {
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) {
      throw new InvalidArgumentError('CrewSession: id must be a non-empty string');
    }
    this.id = options.id ?? randomUUID();
    this.logger = options.logger ?? console;
    this.teardownTimeout = options.teardownTimeout ?? 5000;
    this.auth = options.auth;
    this.limits = sessionLimits(options.limits);
    this.now = options.now ?? defaultNow;
    this.bus = new EventBus(this, this.logger);
    const interrupts = new Fanout<CrewEvent>();
    this.delivery = new Delivery(this, this.bus, interrupts, this.logger);
    this.nodeContext = Object.freeze({ session: this, context: this.context, interrupt$: interrupts });
  }

  /** The session's event bus: every event once, as it happens. */
  get events$(): Observable<CrewEvent> {
    this.delivery.listened = true;
    return this.bus.events$;
  }

  get state(): SessionState {
    return this.currentState;
  }

  /** Whether the session is ending or has ended (a closed session ended first). */
  private get ending(): boolean {
    return this.delivery.stopped;
  }

  /**
   * The client's audio formats: PCM16 little-endian mono at these rates (Hz),
   * 16000 each way unless `system.init` declared `audio: { input_sample_rate, output_sample_rate }`.
   */
  get audioFormat(): Readonly<AudioFormat> {
    return this.format;
  }

  /** The client's `system.init`, once received. */
  get init(): CrewEvent | undefined {
    return this.initEvent;
  }

  /**
   * Resolves with the client's `system.init` when it arrives (at once if it has),
   * or with `undefined` after `timeout` ms or when the session ends. Setup may await
   * it before `start()` so that `system.user.joined` hooks and nodes see the
   * client's `initial_variables` in `context`; events meanwhile are buffered.
   */
  waitForInit(timeout = 1000): Promise<CrewEvent | undefined> {
    if (this.initEvent !== undefined || this.ending) {
      return Promise.resolve(this.initEvent);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(undefined), timeout);
      timer.unref();
      const settle = (init: CrewEvent | undefined) => {
        clearTimeout(timer);
        this.initWaiters = this.initWaiters?.filter((w) => w !== settle);
        resolve(init);
      };
      (this.initWaiters ??= []).push(settle);
    });
  }

  /** Nodes added so far, in the order they were added. */
  get nodes(): readonly CrewNode[] {
    return this.graph?.nodes ?? this.wiredNodes;
  }

  /** Registers a node. Throws `CREW_ERR_DUPLICATE_NODE` for a repeated instance or name. */
  addNode(node: CrewNode): this {
    this.building('addNode').addNode(node);
    return this;
  }

  /** Connects two added nodes: `child` receives everything `parent` emits. */
  addEdge(parent: CrewNode, child: CrewNode): this {
    this.building('addEdge').addEdge(parent, child);
    return this;
  }

  /**
   * Calls `handler(session, event)` for each event whose type matches `pattern`
   * (an exact type, an alias, `prefix.*` or `*`). Returns a function that removes the hook.
   */
  onEvent<E extends CrewEvent = CrewEvent>(pattern: string, handler: EventHandler<E>): () => void {
    const off = this.bus.on(pattern, handler as EventHandler);
    this.delivery.listened = true;
    return off;
  }

  /**
   * Locks and validates the graph, wires it, sends `agent.ready`, emits
   * `system.user.joined`, then delivers the client events that arrived before.
   * The work is done synchronously; a failure rejects, reports a fatal
   * `agent.error`, and closes the session (1011).
   */
  start(): Promise<void> {
    try {
      this.startNow();
      return Promise.resolve();
    } catch (err) {
      const rejected = Promise.reject(err);
      // the session has already reported and closed; an un-awaited start() must not crash the process
      rejected.catch(() => undefined);
      return rejected;
    }
  }

  private startNow(): void {
    if (this.currentState === 'running' || (this.currentState === 'created' && (this.graph === undefined || this.graph.locked))) {
      throw new AlreadyStartedError();
    }
    if (this.ending) throw new SessionClosedError('start');
    const graph = this.graph!;
    try {
      this.delivery.wire(graph, this.nodeContext);
    } catch (err) {
      this.delivery.abandon();
      this.logger.error(`rxcrew: session ${this.id}: start failed:`, err);
      void this.fail(err, 'start failed');
      throw err;
    }
    // the graph's maps are for building; a running session keeps only its node list
    this.wiredNodes = graph.nodes.slice(); // sized exactly
    this.graph = undefined;
    this.currentState = 'running';
    this.delivery.open(event('agent.ready', { session_id: this.id }));
    this.delivery.enter(ROOT, event('system.user.joined', { session_id: this.id }));
    const buffered = this.prestart;
    this.prestart = undefined;
    if (buffered !== undefined) for (const e of buffered) this.delivery.enter(ROOT, e);
  }

  /** Resolves when the connection has ended and teardown has run. */
  waitUntilComplete(): Promise<void> {
    if (this.completion === undefined) {
      this.completion = this.completed ? Promise.resolve() : new Promise<void>((resolve) => (this.complete = resolve));
    }
    return this.completion;
  }

  /**
   * Emits `system.user.left`, lets nodes flush, closes the connection with
   * `code` (default 1000) and tears down. Idempotent: later calls get the same promise.
   */
  stop(reason = 'session stopped', code: number = CloseCodes.NORMAL): Promise<void> {
    if (!isAllowedCloseCode(code)) {
      throw new InvalidArgumentError(`stop: close code ${code} is not allowed; use 1000, 1001, 1008, 1011, 1013 or 3000–4999`);
    }
    return this.end(code, String(reason), true);
  }

  /** Sends an event to the client, through the sink (hooks see it). */
  send(e: CrewEvent): void {
    assertEvent(e, 'send');
    if (this.currentState === 'closed') return;
    this.delivery.enter(SINK, e);
  }

  /** Puts an event into the graph, through the root, as if the client had sent it. */
  inject(e: CrewEvent): void {
    assertEvent(e, 'inject');
    if (this.ending) return;
    if (this.currentState === 'created') {
      (this.prestart ??= []).push(e);
      return;
    }
    this.delivery.enter(ROOT, e);
  }

  /**
   * Attaches the transport that carries this session's traffic; returns the
   * connection to feed client frames into. One transport per session.
   */
  attach(transport: CrewTransport): CrewConnection {
    if (this.delivery.transport !== undefined) throw new InvalidArgumentError('attach: this session already has a transport');
    if (this.currentState === 'closed') throw new SessionClosedError('attach');
    this.delivery.transport = transport;
    this.delivery.transportOpen = true;
    this.port = new ClientPort(this.limits, new SessionSink(this, transport), this.now);
    return this.port;
  }

  // ---- inbound (what the port hands on, through SessionSink) ------------

  private clientAudio(audio: Buffer): void {
    this.clientEvent({ type: 'user.audio', audio, sample_rate: this.format.inputSampleRate });
  }

  private refuse(error: CrewError): void {
    this.send(event('agent.error', { message: error.message, severity: 'warning', payload: errorPayload(error) }));
  }

  private transportEnded(code: number, reason: string): void {
    this.delivery.transportOpen = false;
    void this.end(code, reason, false);
  }

  /** The client broke a limit it cannot go on breaking: report (fatal) and close with `code`. */
  private violate(error: CrewError, code: number): void {
    if (this.ending) return;
    this.send(event('agent.error', { message: error.message, severity: 'fatal', payload: errorPayload(error) }));
    void this.end(code, error.message, true);
  }

  private clientEvent(e: CrewEvent): void {
    if (this.currentState === 'created') {
      const prestart = (this.prestart ??= []);
      if (prestart.length >= this.limits.maxPrestartEvents) {
        const limit = this.limits.maxPrestartEvents;
        return this.violate(new CrewError(ErrorCodes.BUFFER_FULL, `more than ${limit} events arrived before the session started`), CloseCodes.POLICY_VIOLATION);
      }
      if (e.type === 'system.init') this.applyInit(e);
      prestart.push(e);
      return;
    }
    if (e.type === 'system.init') this.applyInit(e);
    this.delivery.enter(ROOT, e);
  }

  private applyInit(init: CrewEvent): void {
    this.initEvent = init;
    const sessionContext = init.session_context as { initial_variables?: Record<string, unknown> } | undefined;
    const variables = sessionContext?.initial_variables;
    if (variables) for (const [key, value] of Object.entries(variables)) this.context.set(key, value);
    const audio = init.audio as { input_sample_rate?: number; output_sample_rate?: number } | undefined;
    this.format = {
      inputSampleRate: audio?.input_sample_rate ?? this.format.inputSampleRate,
      outputSampleRate: audio?.output_sample_rate ?? this.format.outputSampleRate,
    };
    if (this.initWaiters !== undefined) for (const settle of [...this.initWaiters]) settle(init);
  }

  // ---- ending ----------------------------------------------------------

  /** Reports `err` to the client as a fatal `agent.error` and ends the session with `code` (default 1011). */
  fail(err: unknown, reason = 'internal error', code: number = CloseCodes.INTERNAL_ERROR): Promise<void> {
    if (this.ending) return this.endPromise ?? this.waitUntilComplete();
    const errorCode = err instanceof CrewError ? err.code : ErrorCodes.SETUP_FAILED;
    this.send(
      event('agent.error', {
        message: describeError(err),
        severity: 'fatal',
        payload: { code: errorCode, error_class: errorClass(err) },
      }),
    );
    return this.end(code, reason, true);
  }

  private end(code: number, reason: string, closeTransport: boolean): Promise<void> {
    if (this.endPromise === undefined) {
      this.delivery.stopped = true;
      if (this.port !== undefined) this.port.closed = true;
      this.endPromise = new Promise<void>((resolve) => {
        const run = () => {
          this.teardown(code, reason, closeTransport);
          void this.bus.close(this.teardownTimeout).then(() => {
            this.completed = true;
            this.complete?.();
            resolve();
          });
        };
        // teardown delivers events itself, so it waits for the delivery in progress to finish
        if (!this.delivery.busy) run();
        else queueMicrotask(run);
      });
    }
    return this.endPromise;
  }

  private teardown(code: number, reason: string, closeTransport: boolean): void {
    const delivery = this.delivery;
    delivery.finish(event('system.user.left', { session_id: this.id, code, reason }), this.currentState === 'running');
    if (closeTransport && delivery.transportOpen) {
      delivery.transportOpen = false;
      try {
        delivery.transport!.close(code, reason);
      } catch (err) {
        this.logger.error(`rxcrew: session ${this.id}: transport failed to close:`, err);
      }
    }
    this.currentState = 'closed';
    this.bus.silence();
    delivery.dispose();
    this.prestart = undefined;
    if (this.initWaiters !== undefined) for (const settle of [...this.initWaiters]) settle(undefined);
  }

  /** The graph to add to, while the session is being built. */
  private building(method: string): Graph {
    if (this.ending) throw new SessionClosedError(method);
    if (this.graph === undefined) throw new GraphLockedError(method);
    return this.graph;
  }
}

/**
 * The port's sink: the session's private inbound methods, reached through one
 * small object instead of a closure each.
 */
class SessionSink implements ClientPortSink {
  constructor(
    private readonly session: CrewSession,
    private readonly transport: CrewTransport,
  ) {}

  clientEvent(e: CrewEvent): void {
    this.session['clientEvent'](e);
  }

  clientAudio(audio: Buffer): void {
    this.session['clientAudio'](audio);
  }

  refuse(error: CrewError): void {
    this.session['refuse'](error);
  }

  violate(error: CrewError, code: number): void {
    this.session['violate'](error, code);
  }

  frameReceived(kind: 'json' | 'audio', isBinary: boolean): void {
    this.transport.frameReceived?.(kind, isBinary);
  }

  transportEnded(code: number, reason: string): void {
    this.session['transportEnded'](code, reason);
  }
}


function errorPayload(error: CrewError): Record<string, unknown> {
  const issues = (error as { issues?: unknown }).issues;
  return issues === undefined ? { code: error.code } : { code: error.code, issues };
}

function assertEvent(e: unknown, method: string): asserts e is CrewEvent {
  if (typeof e !== 'object' || e === null || typeof (e as CrewEvent).type !== 'string' || (e as CrewEvent).type === '') {
    throw new InvalidArgumentError(`${method}: expected an event object with a non-empty "type" string`);
  }
}
