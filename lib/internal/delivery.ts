import { NEVER, Observable, Observer, Subscription } from 'rxjs';
import { agentError } from '../agent-error';
import { ErrorCodes, NodeSetupError } from '../errors';
import type { CrewEvent } from '../events';
import type { Graph } from '../graph';
import { BackgroundCrewNode, CrewNode, NodeContext } from '../node';
import type { CrewSession } from '../session';
import type { CrewLogger } from '../session-options';
import type { EventBus } from './event-bus';
import { Fanout } from './fanout';
import type { DeliveryCounts, DeliveryTap } from './introspection';
import type { SessionObserver } from './observer';

/** Where an event enters: the root (towards the nodes), the sink (towards the client), or the root from the client. */
export const ROOT = 0;
export const SINK = 1;
export const CLIENT = 2;

const INTERRUPT = 'system.control.interrupt';
const NO_CHILDREN: readonly Wired[] = Object.freeze([]);

/** What a session's graph reports to the runtime that owns it. */
export interface DeliveryOwner {
  /** Sends an event that reached the sink to the client. */
  write(e: CrewEvent): void;
  /** Sends a report (an `agent.error`) to the client, through the sink. */
  report(e: CrewEvent): void;
  /** A node with `onError: 'stop-session'` failed: end the session. */
  nodeStopsSession(nodeName: string): void;
  /** Whether the session is ending (a failed node is no longer resubscribed). */
  readonly ending: boolean;
  /** Who counts interrupts and node failures (metrics). */
  readonly observer: SessionObserver;
  /** Where a node's failure is logged (the session's logger). */
  readonly logger: CrewLogger;
}

/** A node as wired: its input and where its output goes. */
export interface Wired {
  readonly node: CrewNode;
  readonly input: Fanout<CrewEvent>;
  children: readonly Wired[];
  toSink: boolean;
  output$?: Observable<CrewEvent>;
  subscription?: Subscription;
  subscribing: boolean;
  detached: boolean;
  /** Events delivered to the node's input (for the inspector: plain counters, no allocation). */
  received: number;
  /** Events the node's output emitted (a background node's included, though they go nowhere). */
  emitted: number;
}

/**
 * A session's graph at run time: the wired nodes and the trampoline that
 * keeps order. Every event enters through `enter`; one that arrives while
 * another is being delivered waits behind it, so RxJS re-entrancy never
 * reorders what nodes or the client see. Each event is published on the bus
 * (when there is one) once, before it goes on.
 */
export class Delivery {
  /** Every `system.control.interrupt`, as it enters (what nodes see as `ctx.interrupt$`). */
  readonly interrupts = new Fanout<CrewEvent>();
  /** Set once anyone may listen (a hook or `events$`): until then delivery does not call into a bus at all. */
  private bus: EventBus | undefined;
  /** Set by the inspector while someone watches this session; checked like `bus`. */
  tap: DeliveryTap | undefined;
  private fromClient = 0;
  private toClient = 0;
  private wired: Wired[] = [];
  // the root fans out to the parentless nodes
  private rootTargets: readonly Wired[] = NO_CHILDREN;
  /** What nodes emit while being subscribed, sent after `agent.ready`. */
  private holding: CrewEvent[] | undefined;

  // the trampoline: work that arrives while a delivery is in progress waits here
  private depth = 0;
  private queueKinds: number[] | undefined;
  private queueEvents: CrewEvent[] | undefined;
  private queueHead = 0;
  /** The event being pushed into nodes, while a delivery is in progress (a failing node's log names its type). */
  private inFlight: CrewEvent | undefined;

  constructor(private readonly owner: DeliveryOwner) {}

  /** Whether a delivery is in progress. */
  get busy(): boolean {
    return this.depth > 0;
  }

  /** From now on every event is published on `bus`. */
  publishTo(bus: EventBus): void {
    this.bus = bus;
  }

  /**
   * Locks and validates `graph`, creates every input, calls every node's
   * `process`, then subscribes the outputs leaves first (so that an emission
   * made while subscribing reaches subscribed children). What nodes emit
   * meanwhile is held for `open`. Throws `GraphCycleError` / `NodeSetupError`.
   */
  wire(graph: Graph, session: CrewSession): void {
    graph.lock();
    const order = graph.validate();
    const byNode = new Map<CrewNode, Wired>();
    for (const n of order) {
      byNode.set(n, { node: n, input: new Fanout<CrewEvent>(), children: NO_CHILDREN, toSink: false, subscribing: false, detached: false, received: 0, emitted: 0 });
    }
    for (const w of byNode.values()) {
      const children = graph.children(w.node);
      if (children.length > 0) w.children = children.map((child) => byNode.get(child)!);
      w.toSink = children.length === 0 && !(w.node instanceof BackgroundCrewNode);
    }
    this.wired = [...byNode.values()];
    const context: NodeContext = Object.freeze({ session, context: session.context, interrupt$: this.interrupts });
    // `interruptible: false` is honoured here, for every node: its interrupt$ never emits
    let uninterruptible: NodeContext | undefined;
    for (const w of this.wired) {
      const ctx = w.node.interruptible ? context : (uninterruptible ??= Object.freeze({ ...context, interrupt$: NEVER }));
      try {
        w.output$ = w.node.process(w.input, ctx);
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
    for (const e of held) this.owner.write(e);
  }

  /** Forgets what was held (wiring failed). */
  abandon(): void {
    this.holding = undefined;
  }

  /** The children `node` was wired to (for drawing the graph after it was wired). */
  childrenOf(node: CrewNode): readonly CrewNode[] {
    return this.wired.find((w) => w.node === node)?.children.map((c) => c.node) ?? [];
  }

  /** The counters, copied (for the inspector). */
  counts(): DeliveryCounts {
    const nodes = this.wired.map((w) => ({ name: w.node.name, received: w.received, emitted: w.emitted }));
    return { nodes, fromClient: this.fromClient, toClient: this.toClient };
  }

  /** Delivers `e` entering at `kind` now, or queues it behind the delivery in progress. */
  enter(kind: number, e: CrewEvent): void {
    if (this.depth > 0) {
      const kinds = (this.queueKinds ??= []);
      const events = (this.queueEvents ??= []);
      if (kind !== SINK && e.type === INTERRUPT) {
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

  /**
   * The end of the graph: `left` (`system.user.left`) goes through it (or,
   * never started, only on the bus), then the inputs complete in topological
   * order so that nodes flush what they hold.
   */
  finish(left: CrewEvent, started: boolean): void {
    this.depth = 1;
    try {
      if (started) {
        this.dispatch(CLIENT, left);
        this.drain();
        for (const w of this.wired) w.input.complete();
      } else {
        this.bus?.publish(left, true);
      }
      this.drain();
    } finally {
      this.depth = 0;
      this.inFlight = undefined; // not kept alive between deliveries (audio frames are large)
    }
  }

  /** Unsubscribes every node and ends `interrupt$`; nothing is delivered after. */
  dispose(): void {
    for (const w of this.wired) w.subscription?.unsubscribe();
    this.rootTargets = NO_CHILDREN;
    this.interrupts.complete();
    this.holding = undefined;
  }

  /** A node emitted `x` (its `NodeObserver` reports it). */
  emitted(w: Wired, x: CrewEvent): void {
    if (this.depth > 0) this.forward(w, x);
    else this.run(ROOT, x, w); // an asynchronous emission starts a delivery of its own
  }

  /** A node's pipeline failed (its `NodeObserver` reports it): report it, then apply the node's policy. */
  failed(w: Wired, err: unknown): void {
    const name = w.node.name;
    const stop = w.node.onError === 'stop-session';
    const detach = !stop && w.subscribing;
    const details = detach ? { node_name: name, detached: true } : { node_name: name };
    this.owner.observer.nodeError(name);
    const on = this.depth > 0 ? this.inFlight?.type : undefined;
    const fields = on === undefined ? { node: name, err } : { node: name, event_type: on, err };
    if (stop) this.owner.logger.error(fields, `node "${name}" failed; stopping the session`);
    else this.owner.logger.warn(fields, `node "${name}" failed`);
    this.owner.report(agentError(ErrorCodes.NODE_FAILED, err, { severity: stop ? 'fatal' : 'warning', details }));
    if (stop) this.owner.nodeStopsSession(name);
    else if (detach) w.detached = true;
    else if (!this.owner.ending) this.subscribeNode(w); // resubscribe: closure state in process() survives
  }

  private subscribeNode(w: Wired): void {
    w.subscribing = true;
    const subscription = w.output$!.subscribe(new NodeObserver(this, w));
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
      this.inFlight = undefined; // not kept alive between deliveries (audio frames are large)
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
    if (kind === SINK) {
      this.bus?.publish(e, false);
      this.writeOut(e);
      return;
    }
    this.inFlight = e;
    if (e.type === INTERRUPT) {
      this.interrupts.push(e);
      this.owner.observer.interrupt();
    }
    this.bus?.publish(e, kind === CLIENT);
    if (kind === CLIENT) this.fromClient++;
    this.tap?.seen(e, kind === CLIENT ? 'in' : 'inject');
    const targets = this.rootTargets;
    for (let i = 0; i < targets.length; i++) {
      targets[i].received++;
      targets[i].input.push(e);
    }
  }

  private forward(w: Wired, x: CrewEvent): void {
    // the bus publishes each object once: a pass-through's event is not published again
    this.bus?.publish(x, false);
    const children = w.children;
    const outer = this.inFlight;
    this.inFlight = x;
    for (let i = 0; i < children.length; i++) {
      children[i].received++;
      children[i].input.push(x);
    }
    this.inFlight = outer;
    if (w.toSink) this.writeOut(x);
  }

  private writeOut(e: CrewEvent): void {
    this.toClient++;
    this.tap?.seen(e, 'out');
    if (this.holding !== undefined) this.holding.push(e);
    else this.owner.write(e);
  }
}

/**
 * What a node's output is subscribed with: emissions go on through the graph,
 * an error is reported. A background node's emissions are dropped. A plain
 * observer (RxJS wraps it in its own subscriber, as for any `subscribe` call).
 */
class NodeObserver implements Observer<CrewEvent> {
  private readonly background: boolean;

  constructor(
    private readonly delivery: Delivery,
    private readonly wired: Wired,
  ) {
    this.background = wired.node instanceof BackgroundCrewNode;
  }

  next(x: CrewEvent): void {
    this.wired.emitted++;
    if (!this.background) this.delivery.emitted(this.wired, x);
  }

  error(err: unknown): void {
    this.delivery.failed(this.wired, err);
  }

  complete(): void {
    // a node whose output completes simply stops emitting
  }
}
