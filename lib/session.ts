import { randomUUID } from 'node:crypto';
import { Observable, Subject, Subscription } from 'rxjs';
import { SessionContext } from './context';
import {
  AlreadyStartedError,
  CrewError,
  describeError,
  ErrorCodes,
  errorClass,
  InvalidArgumentError,
  NodeSetupError,
  SessionClosedError,
} from './errors';
import { CrewEvent, event } from './events';
import { Graph } from './graph';
import { EventHandler } from './hooks';
import { EventBus } from './internal/event-bus';
import { ClientLimits, ClientPort, DEFAULT_CLIENT_LIMITS } from './internal/client-port';
import { CloseCodes, CrewConnection, CrewTransport, isAllowedCloseCode } from './transport';
import { AudioFormat, DEFAULT_AUDIO_FORMAT } from './audio/format';
import { BackgroundCrewNode, CrewNode, NodeContext } from './node';
import './catalog';

/** Where the runtime writes what it cannot send to a client. */
export interface CrewLogger {
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
}

export interface CrewSessionOptions {
  /** Default: a random UUID. */
  id?: string;
  /** Default: `console`. */
  logger?: CrewLogger;
  /** How long teardown waits for hooks still running (ms). Default 5000. */
  teardownTimeout?: number;
  /** Limits on what the client may send; see `DEFAULT_SESSION_LIMITS`. */
  limits?: Partial<SessionLimits>;
  /** Who the client is, as `CrewApp`'s `authenticate` found (available as `session.auth`). */
  auth?: unknown;
  /** The clock for rate limits (ms). Default `performance.now`. */
  now?: () => number;
}

/** Limits on one client: what `ClientLimits` has, and the events held before `start()`. */
export interface SessionLimits extends ClientLimits {
  /** Client events held before `start()`; one more closes the connection (1008). */
  maxPrestartEvents: number;
}

export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  ...DEFAULT_CLIENT_LIMITS,
  maxPrestartEvents: 1024,
});

export type SessionState = 'created' | 'running' | 'closed';

const ROOT = 0;
const SINK = 1;
const INTERRUPT = 'system.control.interrupt';

/** A node as wired: its input Subject and where its output goes. */
interface Wired {
  readonly node: CrewNode;
  readonly input: Subject<CrewEvent>;
  readonly children: Wired[];
  toSink: boolean;
  output$?: Observable<CrewEvent>;
  subscription?: Subscription;
  /** The event being delivered to this node right now (a synchronous pass-through emits it back). */
  current: CrewEvent | undefined;
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

  private readonly graph = new Graph();
  private readonly bus: EventBus;
  private readonly interrupts = new Subject<CrewEvent>();
  // the root fans out to the parentless nodes; the sink writes to the transport
  private rootTargets: Wired[] = [];
  private readonly logger: CrewLogger;
  private readonly teardownTimeout: number;

  private currentState: SessionState = 'created';
  private ending = false;
  private wired: Wired[] = [];
  private transport: CrewTransport | undefined;
  private transportOpen = false;
  private prestart: CrewEvent[] = [];
  private holding: CrewEvent[] | undefined;
  private format: AudioFormat = { ...DEFAULT_AUDIO_FORMAT };
  private initEvent: CrewEvent | undefined;
  private initWaiters: Array<(init: CrewEvent | undefined) => void> = [];

  // trampoline: work that arrives while a delivery is in progress waits here
  private depth = 0;
  private queueKinds: number[] = [];
  private queueEvents: CrewEvent[] = [];
  private queueHead = 0;


  private readonly completion: Promise<void>;
  private complete!: () => void;
  private endPromise: Promise<void> | undefined;

  /** The session's event bus: every event once, as it happens. */
  readonly events$: Observable<CrewEvent>;

  private readonly nodeContext: NodeContext;

  constructor(options: CrewSessionOptions = {}) {
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) {
      throw new InvalidArgumentError('CrewSession: id must be a non-empty string');
    }
    this.id = options.id ?? randomUUID();
    this.logger = options.logger ?? console;
    this.teardownTimeout = options.teardownTimeout ?? 5000;
    this.auth = options.auth;
    this.limits = Object.freeze({ ...DEFAULT_SESSION_LIMITS, ...options.limits });
    this.now = options.now ?? (() => performance.now());
    this.bus = new EventBus(this, this.logger, (report) => this.send(report));
    this.events$ = this.bus.events$;
    this.completion = new Promise<void>((resolve) => (this.complete = resolve));
    this.nodeContext = Object.freeze({
      session: this,
      context: this.context,
      interrupt$: this.interrupts.asObservable(),
    });
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
        this.initWaiters = this.initWaiters.filter((w) => w !== settle);
        resolve(init);
      };
      this.initWaiters.push(settle);
    });
  }

  /** Nodes added so far, in the order they were added. */
  get nodes(): readonly CrewNode[] {
    return this.graph.nodes;
  }

  /** Registers a node. Throws `CREW_ERR_DUPLICATE_NODE` for a repeated instance or name. */
  addNode(node: CrewNode): this {
    this.assertBuilding('addNode');
    this.graph.addNode(node);
    return this;
  }

  /** Connects two added nodes: `child` receives everything `parent` emits. */
  addEdge(parent: CrewNode, child: CrewNode): this {
    this.assertBuilding('addEdge');
    this.graph.addEdge(parent, child);
    return this;
  }

  /**
   * Calls `handler(session, event)` for each event whose type matches `pattern`
   * (an exact type, an alias, `prefix.*` or `*`). Returns a function that removes the hook.
   */
  onEvent<E extends CrewEvent = CrewEvent>(pattern: string, handler: EventHandler<E>): () => void {
    return this.bus.on(pattern, handler as EventHandler);
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
    if (this.currentState === 'running' || (this.currentState === 'created' && this.graph.locked)) {
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
    this.prestart = [];
    for (const e of buffered) this.enter(ROOT, e);
  }

  /** Resolves when the connection has ended and teardown has run. */
  waitUntilComplete(): Promise<void> {
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
      this.prestart.push(e);
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
    const port = new ClientPort(
      this.limits,
      {
        event: (e) => this.clientEvent(e),
        audio: (audio) => this.clientEvent({ type: 'user.audio', audio, sample_rate: this.format.inputSampleRate }),
        refuse: (error) => this.send(event('agent.error', { message: error.message, severity: 'warning', payload: errorPayload(error) })),
        violate: (error, code) => this.violate(error, code),
        frameReceived: transport.frameReceived?.bind(transport),
      },
      this.now,
    );
    const open = () => !this.ending && this.currentState !== 'closed';
    return {
      receive: (data, isBinary = typeof data !== 'string') => {
        if (open()) port.receive(data, isBinary);
      },
      receiveValue: (value) => {
        if (open()) port.receiveValue(value);
      },
      end: (code, reason) => {
        this.transportOpen = false;
        void this.end(code, reason, false);
      },
    };
  }

  // ---- inbound ---------------------------------------------------------

  /** The client broke a limit it cannot go on breaking: report (fatal) and close with `code`. */
  private violate(error: CrewError, code: number): void {
    if (this.ending || this.currentState === 'closed') return;
    this.send(event('agent.error', { message: error.message, severity: 'fatal', payload: errorPayload(error) }));
    void this.end(code, error.message, true);
  }

  private clientEvent(e: CrewEvent): void {
    if (this.currentState === 'created') {
      if (this.prestart.length >= this.limits.maxPrestartEvents) {
        const limit = this.limits.maxPrestartEvents;
        return this.violate(new CrewError(ErrorCodes.BUFFER_FULL, `more than ${limit} events arrived before the session started`), CloseCodes.POLICY_VIOLATION);
      }
      if (e.type === 'system.init') this.applyInit(e);
      this.prestart.push(e);
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
    for (const settle of [...this.initWaiters]) settle(init);
  }

  // ---- wiring ----------------------------------------------------------

  private wire(): void {
    this.graph.lock();
    const order = this.graph.validate();
    // create every Subject first, then call the nodes, then connect (leaves first,
    // so that an emission made while subscribing reaches subscribed children)
    const byNode = new Map<CrewNode, Wired>();
    for (const n of order) {
      byNode.set(n, {
        node: n,
        input: new Subject<CrewEvent>(),
        children: [],
        toSink: false,
        current: undefined,
        subscribing: false,
        detached: false,
      });
    }
    for (const w of byNode.values()) {
      for (const child of this.graph.children(w.node)) w.children.push(byNode.get(child)!);
      w.toSink = w.children.length === 0 && !(w.node instanceof BackgroundCrewNode);
    }
    this.wired = [...byNode.values()];
    for (const w of this.wired) {
      try {
        w.output$ = w.node.process(w.input.asObservable(), this.nodeContext);
      } catch (err) {
        throw new NodeSetupError(w.node.name, err);
      }
      if (w.output$ === null || typeof w.output$?.subscribe !== 'function') {
        throw new NodeSetupError(w.node.name, new TypeError('process() must return an Observable'));
      }
    }
    for (const n of this.graph.nodes) {
      if (this.graph.parents(n).length === 0) {
        const w = byNode.get(n)!;
        this.rootTargets.push(w);
      }
    }
    this.holding = [];
    this.depth++;
    try {
      for (let i = this.wired.length - 1; i >= 0; i--) this.subscribeNode(this.wired[i]);
    } finally {
      this.depth--;
    }
  }

  private subscribeNode(w: Wired): void {
    const background = w.node instanceof BackgroundCrewNode;
    w.subscribing = true;
    const subscription = w.output$!.subscribe({
      next: background ? undefined : (x: CrewEvent) => this.emitFrom(w, x),
      error: (err: unknown) => this.nodeFailed(w, err),
    });
    w.subscribing = false;
    if (!w.detached && !subscription.closed) w.subscription = subscription;
  }

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
      if (kind === ROOT && e.type === INTERRUPT) {
        // an interrupt jumps ahead of the work queued behind the delivery in progress
        this.queueKinds.splice(this.queueHead, 0, kind);
        this.queueEvents.splice(this.queueHead, 0, e);
      } else {
        this.queueKinds.push(kind);
        this.queueEvents.push(e);
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
    if (this.queueEvents.length === 0) return; // the common case: nothing was queued
    while (this.queueHead < this.queueEvents.length) {
      const i = this.queueHead++;
      this.dispatch(this.queueKinds[i], this.queueEvents[i]);
    }
    this.queueHead = 0;
    this.queueKinds.length = 0;
    this.queueEvents.length = 0;
  }

  private dispatch(kind: number, e: CrewEvent): void {
    if (kind === ROOT) {
      if (e.type === INTERRUPT) this.interrupts.next(e);
      this.bus.publish(e);
      const targets = this.rootTargets;
      for (let i = 0; i < targets.length; i++) this.deliver(targets[i], e);
    } else {
      this.bus.publish(e);
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
    // a synchronous pass-through was published where the event came from
    if (x !== w.current) this.bus.publish(x);
    const children = w.children;
    for (let i = 0; i < children.length; i++) this.deliver(children[i], x);
    if (w.toSink) this.writeOut(x);
  }

  private deliver(w: Wired, e: CrewEvent): void {
    const previous = w.current;
    w.current = e;
    try {
      w.input.next(e);
    } finally {
      w.current = previous;
    }
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
    if (this.ending || this.currentState === 'closed') return this.endPromise ?? this.completion;
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
      this.endPromise = new Promise<void>((resolve) => {
        const run = () => {
          this.teardown(code, reason, closeTransport);
          void this.bus.close(this.teardownTimeout).then(() => {
            this.complete();
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
    this.rootTargets = [];
    this.interrupts.complete();
    this.prestart = [];
    this.holding = undefined;
    for (const settle of [...this.initWaiters]) settle(undefined);
  }

  private assertBuilding(method: string): void {
    if (this.currentState === 'closed' || this.ending) throw new SessionClosedError(method);
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
