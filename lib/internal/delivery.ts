import { Observable, Subscriber, Subscription } from 'rxjs';
import { describeError, ErrorCodes, errorClass, NodeSetupError } from '../errors';
import { CrewEvent, event } from '../events';
import type { Graph } from '../graph';
import { BackgroundCrewNode, CrewNode, NodeContext } from '../node';
import type { CrewSession } from '../session';
import type { CrewLogger } from '../session-options';
import { CloseCodes, CrewTransport } from '../transport';
import type { EventBus } from './event-bus';
import { Fanout } from './fanout';

/** Where an event enters: the root (towards the nodes) or the sink (towards the client). */
export const ROOT = 0;
export const SINK = 1;

const INTERRUPT = 'system.control.interrupt';
const NO_CHILDREN: readonly Wired[] = Object.freeze([]);

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
 * A session's graph at run time: the wired nodes, the trampoline that keeps
 * order, and the way out to the client. Every event enters through `enter`;
 * one that arrives while another is being delivered waits behind it, so RxJS
 * re-entrancy never reorders what nodes or the client see. Each event is
 * published on the bus once, before it goes on.
 */
export class Delivery {
  /**
   * Whether anyone may listen on the bus (a hook was added or `events$` was read): until then
   * delivery does not call into the bus at all — most sessions of a server have no hooks.
   */
  listened = false;
  /** The session's transport, and whether it may still be written to. */
  transport: CrewTransport | undefined;
  transportOpen = false;
  /** Set when the session starts ending (the session's own flag): a failed node is no longer resubscribed. */
  stopped = false;

  private wired: Wired[] = [];
  // the root fans out to the parentless nodes; the sink writes to the transport
  private rootTargets: readonly Wired[] = NO_CHILDREN;
  /** What nodes emit while being subscribed, sent after `agent.ready`. */
  private holding: CrewEvent[] | undefined;

  // trampoline: work that arrives while a delivery is in progress waits here
  private depth = 0;
  private queueKinds: number[] | undefined;
  private queueEvents: CrewEvent[] | undefined;
  private queueHead = 0;

  constructor(
    private readonly session: CrewSession,
    private readonly bus: EventBus,
    private readonly interrupts: Fanout<CrewEvent>,
    private readonly logger: CrewLogger,
  ) {}

  /** Whether a delivery is in progress. */
  get busy(): boolean {
    return this.depth > 0;
  }

  /**
   * Locks and validates `graph`, creates every input, calls every node's
   * `process`, then subscribes the outputs leaves first (so that an emission
   * made while subscribing reaches subscribed children). What nodes emit
   * meanwhile is held for `open`. Throws `GraphCycleError` / `NodeSetupError`.
   */
  wire(graph: Graph, nodeContext: NodeContext): void {
    graph.lock();
    const order = graph.validate();
    const byNode = new Map<CrewNode, Wired>();
    for (const n of order) {
      byNode.set(n, { node: n, input: new Fanout<CrewEvent>(), children: NO_CHILDREN, toSink: false, subscribing: false, detached: false });
    }
    for (const w of byNode.values()) {
      const children = graph.children(w.node);
      if (children.length > 0) w.children = children.map((child) => byNode.get(child)!);
      w.toSink = children.length === 0 && !(w.node instanceof BackgroundCrewNode);
    }
    this.wired = [...byNode.values()];
    for (const w of this.wired) {
      try {
        w.output$ = w.node.process(w.input, nodeContext);
      } catch (err) {
        throw new NodeSetupError(w.node.name, err);
      }
      if (w.output$ === null || typeof w.output$?.subscribe !== 'function') {
        throw new NodeSetupError(w.node.name, new TypeError('process() must return an Observable'));
      }
    }
    this.rootTargets = graph.nodes.filter((n) => graph.parents(n).length === 0).map((n) => byNode.get(n)!);
    this.holding = [];
    this.depth++;
    try {
      for (let i = this.wired.length - 1; i >= 0; i--) this.subscribeNode(this.wired[i]);
    } finally {
      this.depth--;
    }
  }

  /** Sends `ready` (through the sink), then what nodes emitted while being subscribed. */
  open(ready: CrewEvent): void {
    const held = this.holding ?? [];
    this.holding = undefined;
    this.enter(SINK, ready);
    for (const e of held) this.writeOut(e);
  }

  /** Forgets what was held (wiring failed). */
  abandon(): void {
    this.holding = undefined;
  }

  /** Runs `kind` now, or queues it behind the delivery in progress. */
  enter(kind: number, e: CrewEvent): void {
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
    this.run(kind, e, undefined);
  }

  /** A node emitted `x` (`NodeOutput` reports it). */
  emitFrom(w: Wired, x: CrewEvent): void {
    if (this.depth > 0) this.forward(w, x);
    else this.run(ROOT, x, w); // an asynchronous emission starts a delivery of its own
  }

  /** A node's pipeline failed (`NodeOutput` reports it): report it, then apply the node's policy. */
  nodeFailed(w: Wired, err: unknown): void {
    const name = w.node.name;
    const stop = w.node.onError === 'stop-session';
    const detach = !stop && w.subscribing;
    const what = detach ? 'failed while subscribing and is detached' : 'failed';
    const report = event('agent.error', {
      message: `node "${name}" ${what}: ${describeError(err)}`,
      severity: stop ? 'fatal' : 'warning',
      payload: { code: ErrorCodes.NODE_FAILED, node_name: name, error_class: errorClass(err), message: describeError(err) },
    });
    this.session.send(report);
    if (stop) {
      void this.session.stop(`node "${name}" failed`, CloseCodes.INTERNAL_ERROR);
    } else if (detach) {
      w.detached = true;
    } else if (!this.stopped) {
      this.subscribeNode(w); // resubscribe: closure state in process() survives
    }
  }

  /**
   * The end of a session's graph: `left` (`system.user.left`) goes through it
   * (or, never started, only on the bus), then the inputs complete in
   * topological order so that nodes flush what they hold.
   */
  finish(left: CrewEvent, started: boolean): void {
    this.depth = 1;
    try {
      if (started) {
        this.dispatch(ROOT, left);
        this.drain();
        for (const w of this.wired) w.input.complete();
      } else {
        this.bus.publish(left);
      }
      this.drain();
    } finally {
      this.depth = 0;
    }
  }

  /** Unsubscribes every node and ends `interrupt$`; nothing is delivered after. */
  dispose(): void {
    this.transportOpen = false;
    for (const w of this.wired) w.subscription?.unsubscribe();
    this.rootTargets = NO_CHILDREN;
    this.interrupts.complete();
    this.holding = undefined;
  }

  private subscribeNode(w: Wired): void {
    w.subscribing = true;
    const subscription = w.output$!.subscribe(new NodeOutput(this, w));
    w.subscribing = false;
    if (!w.detached && !subscription.closed) w.subscription = subscription;
  }

  /** A delivery: `e` enters at `kind` (or goes on from node `from`), then what queued behind it. */
  private run(kind: number, e: CrewEvent, from: Wired | undefined): void {
    this.depth = 1;
    try {
      if (from !== undefined) this.forward(from, e);
      else this.dispatch(kind, e);
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
      for (let i = 0; i < targets.length; i++) targets[i].input.push(e);
    } else {
      if (this.listened) this.bus.publish(e);
      this.writeOut(e);
    }
  }

  private forward(w: Wired, x: CrewEvent): void {
    // the bus publishes each object once: a pass-through's event is not published again
    if (this.listened) this.bus.publish(x);
    const children = w.children;
    for (let i = 0; i < children.length; i++) children[i].input.push(x);
    if (w.toSink) this.writeOut(x);
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
      this.logger.error(`rxcrew: session ${this.session.id}: transport failed to send "${e.type}":`, err);
    }
  }
}

/**
 * What a node's output is subscribed with. A `Subscriber` of its own, so that
 * RxJS does not wrap a plain observer (two objects and two closures per node
 * per session): emissions go on through the graph, an error is reported. A
 * background node's emissions are dropped.
 */
class NodeOutput extends Subscriber<CrewEvent> {
  private readonly background: boolean;

  constructor(
    private readonly delivery: Delivery,
    private readonly wired: Wired,
  ) {
    super();
    this.background = wired.node instanceof BackgroundCrewNode;
  }

  protected override _next(x: CrewEvent): void {
    if (!this.background) this.delivery.emitFrom(this.wired, x);
  }

  protected override _error(err: unknown): void {
    try {
      this.delivery.nodeFailed(this.wired, err);
    } finally {
      this.unsubscribe();
    }
  }
}
