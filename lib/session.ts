import { randomUUID } from 'node:crypto';
import { Observable, Subscriber, Subscription } from 'rxjs';
import { SessionContext } from './context';
import {
  AlreadyStartedError,
  CrewError,
  describeError,
  ErrorCodes,
  errorClass,
  GraphLockedError,
  InvalidArgumentError,
  NodeSetupError,
  SessionClosedError,
} from './errors';
import { CrewEvent, event } from './events';
import { Graph } from './graph';
import { EventHandler } from './hooks';
import { EventBus } from './internal/event-bus';
import { ClientPort, ClientPortSink } from './internal/client-port';
import { Fanout } from './internal/fanout';
import { CloseCodes, CrewConnection, CrewTransport, isAllowedCloseCode } from './transport';
import { AudioFormat, DEFAULT_AUDIO_FORMAT } from './audio/format';
import { BackgroundCrewNode, CrewNode, NodeContext } from './node';
import { CrewLogger, CrewSessionOptions, SessionState, sessionLimits, SessionLimits } from './session-options';
import './catalog';

export { DEFAULT_SESSION_LIMITS } from './session-options';
export type { CrewLogger, CrewSessionOptions, SessionLimits, SessionState } from './session-options';

const ROOT = 0;
const SINK = 1;
const INTERRUPT = 'system.control.interrupt';
const NO_CHILDREN: readonly Wired[] = Object.freeze([]);
const defaultNow = () => performance.now();

/** A node as wired: its input and where its output goes. */
interface Wired {
  readonly node: CrewNode;
  readonly input: Fanout<CrewEvent>;
  children: readonly Wired[];
  toSink: boolean;
  output$?: Observable<CrewEvent>;
  subscription?: Subscription;
  subscribing: boolean;
  detached: boolean;
}

/**
 * One conversation: the graph of nodes for one connection, its hooks, its
 * context. Events flow client → root → nodes → sink → client; every event is
 * published once on the session's bus (`events$`, `onEvent`).
 *
 * Order is kept end to end: an event sent or injected while another is being
 * delivered waits behind it (a per-session trampoline), so RxJS re-entrancy
 * never reorders what nodes or the client see.
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
  /**
   * Whether anyone may listen on the bus (a hook was added or `events$` was read): until then
   * delivery does not call into the bus at all — most sessions of a server have no hooks.
   */
  private listened = false;
  private readonly interrupts = new Fanout<CrewEvent>();
  // the root fans out to the parentless nodes; the sink writes to the transport
  private rootTargets: readonly Wired[] = NO_CHILDREN;
  private readonly logger: CrewLogger;
  private readonly teardownTimeout: number;

  private currentState: SessionState = 'created';
  private ending = false;
  private wired: Wired[] = [];
  private transport: CrewTransport | undefined;
  private port: ClientPort | undefined;
  private transportOpen = false;
  private prestart: CrewEvent[] | undefined;
  private holding: CrewEvent[] | undefined;
  private format: Readonly<AudioFormat> = DEFAULT_AUDIO_FORMAT;
  private initEvent: CrewEvent | undefined;
  private initWaiters: Array<(init: CrewEvent | undefined) => void> | undefined;

  // trampoline: work that arrives while a delivery is in progress waits here
  private depth = 0;
  private queueKinds: number[] | undefined;
  private queueEvents: CrewEvent[] | undefined;
  private queueHead = 0;

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
    this.nodeContext = Object.freeze({ session: this, context: this.context, interrupt$: this.interrupts });
  }

  /** The session's event bus: every event once, as it happens. */
  get events$(): Observable<CrewEvent> {
    this.listened = true;
    return this.bus.events$;
  }

  get state(): SessionState {
    return this.currentState;
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
    if (this.initEvent !== undefined || this.ending || this.currentState === 'closed') {
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
    this.listened = true;
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
    if (this.currentState === 'closed' || this.ending) throw new SessionClosedError('start');
    try {
      this.wire();
    } catch (err) {
      this.holding = undefined;
      this.logger.error(`rxcrew: session ${this.id}: start failed:`, err);
      void this.fail(err, 'start failed');
      throw err;
    }
    this.currentState = 'running';
    const held = this.holding ?? [];
    this.holding = undefined;
    this.enter(SINK, event('agent.ready', { session_id: this.id }));
    for (const e of held) this.writeOut(e);
    this.enter(ROOT, event('system.user.joined', { session_id: this.id }));
    const buffered = this.prestart;
    this.prestart = undefined;
    if (buffered !== undefined) for (const e of buffered) this.enter(ROOT, e);
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
    this.enter(SINK, e);
  }

  /** Puts an event into the graph, through the root, as if the client had sent it. */
  inject(e: CrewEvent): void {
    assertEvent(e, 'inject');
    if (this.currentState === 'closed' || this.ending) return;
    if (this.currentState === 'created') {
      (this.prestart ??= []).push(e);
      return;
    }
    this.enter(ROOT, e);
  }

  /**
   * Attaches the transport that carries this session's traffic; returns the
   * connection to feed client frames into. One transport per session.
   */
  attach(transport: CrewTransport): CrewConnection {
    if (this.transport !== undefined) throw new InvalidArgumentError('attach: this session already has a transport');
    if (this.currentState === 'closed') throw new SessionClosedError('attach');
    this.transport = transport;
    this.transportOpen = true;
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
    this.transportOpen = false;
    void this.end(code, reason, false);
  }

  /** The client broke a limit it cannot go on breaking: report (fatal) and close with `code`. */
  private violate(error: CrewError, code: number): void {
    if (this.ending || this.currentState === 'closed') return;
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
    this.enter(ROOT, e);
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

  // ---- wiring ----------------------------------------------------------

  private wire(): void {
    const graph = this.graph!;
    graph.lock();
    const order = graph.validate();
    // create every input first, then call the nodes, then connect (leaves first,
    // so that an emission made while subscribing reaches subscribed children)
    const byNode = new Map<CrewNode, Wired>();
    for (const n of order) {
      byNode.set(n, {
        node: n,
        input: new Fanout<CrewEvent>(),
        children: NO_CHILDREN,
        toSink: false,
        subscribing: false,
        detached: false,
      });
    }
    for (const w of byNode.values()) {
      const children = graph.children(w.node);
      if (children.length > 0) w.children = children.map((child) => byNode.get(child)!);
      w.toSink = children.length === 0 && !(w.node instanceof BackgroundCrewNode);
    }
    this.wired = [...byNode.values()];
    for (const w of this.wired) {
      try {
        w.output$ = w.node.process(w.input, this.nodeContext);
      } catch (err) {
        throw new NodeSetupError(w.node.name, err);
      }
      if (w.output$ === null || typeof w.output$?.subscribe !== 'function') {
        throw new NodeSetupError(w.node.name, new TypeError('process() must return an Observable'));
      }
    }
    this.rootTargets = graph.nodes.filter((n) => graph.parents(n).length === 0).map((n) => byNode.get(n)!);
    // the graph's maps are for building; a running session keeps only what delivery needs
    this.wiredNodes = graph.nodes.slice(); // sized exactly
    this.graph = undefined;
    this.holding = [];
    this.depth++;
    try {
      for (let i = this.wired.length - 1; i >= 0; i--) this.subscribeNode(this.wired[i]);
    } finally {
      this.depth--;
    }
  }

  private subscribeNode(w: Wired): void {
    w.subscribing = true;
    const subscription = w.output$!.subscribe(new NodeOutput(this, w));
    w.subscribing = false;
    if (!w.detached && !subscription.closed) w.subscription = subscription;
  }

  /** A node's pipeline failed (`NodeOutput` reports it). */
  private nodeFailed(w: Wired, err: unknown): void {
    const name = w.node.name;
    const stop = w.node.onError === 'stop-session';
    const detach = !stop && w.subscribing;
    const what = detach ? 'failed while subscribing and is detached' : 'failed';
    const report = event('agent.error', {
      message: `node "${name}" ${what}: ${describeError(err)}`,
      severity: stop ? 'fatal' : 'warning',
      payload: { code: ErrorCodes.NODE_FAILED, node_name: name, error_class: errorClass(err), message: describeError(err) },
    });
    this.send(report);
    if (stop) {
      void this.end(CloseCodes.INTERNAL_ERROR, `node "${name}" failed`, true);
    } else if (detach) {
      w.detached = true;
    } else if (!this.ending && this.currentState !== 'closed') {
      this.subscribeNode(w); // resubscribe: closure state in process() survives
    }
  }

  // ---- delivery --------------------------------------------------------

  /** Runs `kind` now, or queues it behind the delivery in progress. */
  private enter(kind: number, e: CrewEvent): void {
    if (this.depth > 0) {
      const kinds = (this.queueKinds ??= []);
      const events = (this.queueEvents ??= []);
      if (kind === ROOT && e.type === INTERRUPT) {
        // an interrupt jumps ahead of the work queued behind the delivery in progress
        kinds.splice(this.queueHead, 0, kind);
        events.splice(this.queueHead, 0, e);
      } else {
        kinds.push(kind);
        events.push(e);
      }
      return;
    }
    this.depth = 1;
    try {
      this.dispatch(kind, e);
      this.drain();
    } finally {
      this.depth = 0;
    }
  }

  private drain(): void {
    const events = this.queueEvents;
    if (events === undefined || events.length === 0) return; // the common case: nothing was queued
    const kinds = this.queueKinds!;
    while (this.queueHead < events.length) {
      const i = this.queueHead++;
      this.dispatch(kinds[i], events[i]);
    }
    this.queueHead = 0;
    kinds.length = 0;
    events.length = 0;
  }

  private dispatch(kind: number, e: CrewEvent): void {
    if (kind === ROOT) {
      if (e.type === INTERRUPT) this.interrupts.push(e);
      if (this.listened) this.bus.publish(e);
      const targets = this.rootTargets;
      for (let i = 0; i < targets.length; i++) this.deliver(targets[i], e);
    } else {
      if (this.listened) this.bus.publish(e);
      this.writeOut(e);
    }
  }

  /** A node emitted `x`. */
  private emitFrom(w: Wired, x: CrewEvent): void {
    if (this.depth > 0) {
      this.forward(w, x);
      return;
    }
    // an asynchronous emission starts a delivery of its own
    this.depth = 1;
    try {
      this.forward(w, x);
      this.drain();
    } finally {
      this.depth = 0;
    }
  }

  private forward(w: Wired, x: CrewEvent): void {
    // the bus publishes each object once: a pass-through's event is not published again
    if (this.listened) this.bus.publish(x);
    const children = w.children;
    for (let i = 0; i < children.length; i++) this.deliver(children[i], x);
    if (w.toSink) this.writeOut(x);
  }

  private deliver(w: Wired, e: CrewEvent): void {
    w.input.push(e);
  }

  private writeOut(e: CrewEvent): void {
    if (this.holding !== undefined) {
      this.holding.push(e);
      return;
    }
    if (!this.transportOpen) return;
    try {
      this.transport!.send(e);
    } catch (err) {
      this.logger.error(`rxcrew: session ${this.id}: transport failed to send "${e.type}":`, err);
    }
  }

  // ---- ending ----------------------------------------------------------

  /** Reports `err` to the client as a fatal `agent.error` and ends the session with `code` (default 1011). */
  fail(err: unknown, reason = 'internal error', code: number = CloseCodes.INTERNAL_ERROR): Promise<void> {
    if (this.ending || this.currentState === 'closed') return this.endPromise ?? this.waitUntilComplete();
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
      this.ending = true;
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
        if (this.depth === 0) run();
        else queueMicrotask(run);
      });
    }
    return this.endPromise;
  }

  private teardown(code: number, reason: string, closeTransport: boolean): void {
    const left = event('system.user.left', { session_id: this.id, code, reason });
    this.depth = 1;
    try {
      if (this.currentState === 'running') {
        this.dispatch(ROOT, left);
        this.drain();
        // let nodes flush: complete inputs in topological order
        for (const w of this.wired) w.input.complete();
      } else {
        this.bus.publish(left);
      }
      this.drain();
    } finally {
      this.depth = 0;
    }
    if (closeTransport && this.transportOpen) {
      this.transportOpen = false;
      try {
        this.transport!.close(code, reason);
      } catch (err) {
        this.logger.error(`rxcrew: session ${this.id}: transport failed to close:`, err);
      }
    }
    this.transportOpen = false;
    this.currentState = 'closed';
    this.bus.silence();
    for (const w of this.wired) w.subscription?.unsubscribe();
    this.rootTargets = NO_CHILDREN;
    this.interrupts.complete();
    this.prestart = undefined;
    this.holding = undefined;
    if (this.initWaiters !== undefined) for (const settle of [...this.initWaiters]) settle(undefined);
  }

  /** The graph to add to, while the session is being built. */
  private building(method: string): Graph {
    if (this.currentState === 'closed' || this.ending) throw new SessionClosedError(method);
    if (this.graph === undefined) throw new GraphLockedError(method);
    return this.graph;
  }
}

/**
 * What the session subscribes to a node's output with. A `Subscriber` of its
 * own, so that RxJS does not wrap a plain observer (two objects and two
 * closures per node per session): emissions go on through the graph, an error
 * is reported by the session. A background node's emissions are dropped.
 */
class NodeOutput extends Subscriber<CrewEvent> {
  private readonly background: boolean;

  constructor(
    private readonly session: CrewSession,
    private readonly wired: Wired,
  ) {
    super();
    this.background = wired.node instanceof BackgroundCrewNode;
  }

  protected override _next(x: CrewEvent): void {
    if (!this.background) this.session['emitFrom'](this.wired, x);
  }

  protected override _error(err: unknown): void {
    try {
      this.session['nodeFailed'](this.wired, err);
    } finally {
      this.unsubscribe();
    }
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
