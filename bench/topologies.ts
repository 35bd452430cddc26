import { filter, Subject, Subscription, tap } from 'rxjs';
import { CrewEvent, CrewNode, CrewSession, node } from 'rxcrew';

/*
 * One graph shape, three ways: an rxcrew session (no socket: a counting
 * transport), the same topology hand-wired with bare RxJS Subjects, and a
 * plain function chain. Every node is a pass-through (`tap`); hooks count.
 */

export interface Shape {
  nodes: string[];
  edges: Array<[string, string]>;
}

/** root → n1 → n2 → n3 → n4 → n5 → sink: 5 node hops per event. */
export const CHAIN: Shape = {
  nodes: ['n1', 'n2', 'n3', 'n4', 'n5'],
  edges: [['n1', 'n2'], ['n2', 'n3'], ['n3', 'n4'], ['n4', 'n5']],
};

/** root → s → (a, b) → j → sink: 5 node deliveries per event, 2 events at the sink. */
export const DIAMOND: Shape = {
  nodes: ['s', 'a', 'b', 'j'],
  edges: [['s', 'a'], ['s', 'b'], ['a', 'j'], ['b', 'j']],
};

/** 20 nodes: a binary tree plus cross edges, so that there are fan-outs and joins (acyclic by index). */
export function graph20(): Shape {
  const nodes = Array.from({ length: 20 }, (_, i) => `g${i}`);
  const edges = new Map<string, [string, string]>();
  for (let i = 1; i < 20; i++) edges.set(`${(i - 1) >> 1}>${i}`, [nodes[(i - 1) >> 1], nodes[i]]);
  for (let i = 4; i < 20; i += 2) edges.set(`${i - 3}>${i}`, [nodes[i - 3], nodes[i]]);
  return { nodes, edges: [...edges.values()] };
}

/**
 * Hook patterns, mixed exact and wildcard; hook k uses `HOOK_PATTERNS[k % 10]`.
 * Four in ten match the bench event (`bench.tick`): so 10 hooks run 4 handlers per event, 100 run 40.
 */
export const HOOK_PATTERNS = ['bench.tick', 'bench.*', '*', 'agent.speak', 'agent.*', 'system.user.joined', 'user.audio', 'system.*', 'bench.other', 'bench.tick'];

export function hooksMatching(hooks: number, type = 'bench.tick'): number {
  let n = 0;
  for (let k = 0; k < hooks; k++) if (matcher(HOOK_PATTERNS[k % HOOK_PATTERNS.length])(type)) n++;
  return n;
}

/** What the timing loop sees of a variant. */
export interface Variant {
  push(e: CrewEvent): void;
  /** Events that reached the sink so far. */
  delivered(): number;
  /** Hook handlers run so far. */
  hooked(): number;
  dispose(): void;
}

const noop = (): void => undefined;
const sources = (shape: Shape) => shape.nodes.filter((n) => !shape.edges.some(([, c]) => c === n));
const childrenOf = (shape: Shape, n: string) => shape.edges.filter(([p]) => p === n).map(([, c]) => c);

function matcher(pattern: string): (type: string) => boolean {
  if (pattern === '*') return () => true;
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1);
    return (type) => type.startsWith(prefix);
  }
  return (type) => type === pattern;
}

/** Adds, wires and starts the shape in `session`; every node is `node(name, tap(noop))`. */
export function buildSession(session: CrewSession, shape: Shape): CrewSession {
  const byName = new Map<string, CrewNode>();
  for (const name of shape.nodes) {
    const n = node(name, tap(noop));
    byName.set(name, n);
    session.addNode(n);
  }
  for (const [p, c] of shape.edges) session.addEdge(byName.get(p)!, byName.get(c)!);
  void session.start();
  return session;
}

export function rxcrewVariant(shape: Shape, hooks: number): Variant {
  let delivered = 0;
  let hooked = 0;
  const session = new CrewSession({ id: 'bench' });
  session.attach({ send: () => void delivered++, close: noop });
  for (let k = 0; k < hooks; k++) session.onEvent(HOOK_PATTERNS[k % HOOK_PATTERNS.length], () => void hooked++);
  buildSession(session, shape);
  return { push: (e) => session.inject(e), delivered: () => delivered, hooked: () => hooked, dispose: () => void session.stop() };
}

/** The same graph with bare RxJS: a Subject per node input, hooks as `filter` taps on a bus Subject. */
export function rxjsVariant(shape: Shape, hooks: number): Variant {
  let delivered = 0;
  let hooked = 0;
  const subscription = new Subscription();
  const bus = new Subject<CrewEvent>();
  for (let k = 0; k < hooks; k++) {
    const matches = matcher(HOOK_PATTERNS[k % HOOK_PATTERNS.length]);
    subscription.add(bus.pipe(filter((e) => matches(e.type))).subscribe(() => void hooked++));
  }
  const sink = new Subject<CrewEvent>();
  subscription.add(sink.subscribe(() => void delivered++));
  const inputs = new Map(shape.nodes.map((n) => [n, new Subject<CrewEvent>()] as const));
  for (const name of shape.nodes) {
    const children = childrenOf(shape, name).map((c) => inputs.get(c)!);
    const toSink = children.length === 0;
    const out = inputs.get(name)!.pipe(tap(noop));
    subscription.add(
      out.subscribe((x) => {
        for (let i = 0; i < children.length; i++) children[i].next(x);
        if (toSink) sink.next(x);
      }),
    );
  }
  const root = new Subject<CrewEvent>();
  for (const s of sources(shape)) subscription.add(root.subscribe(inputs.get(s)!));
  const push = (e: CrewEvent) => {
    bus.next(e);
    root.next(e);
  };
  return { push, delivered: () => delivered, hooked: () => hooked, dispose: () => subscription.unsubscribe() };
}

interface PlainNode {
  fn: (e: CrewEvent) => CrewEvent;
  children: PlainNode[];
  toSink: boolean;
}

/** The same graph as plain function calls: the floor any runtime pays nothing above. */
export function plainVariant(shape: Shape, hooks: number): Variant {
  let delivered = 0;
  let hooked = 0;
  const hookList = Array.from({ length: hooks }, (_, k) => ({ matches: matcher(HOOK_PATTERNS[k % HOOK_PATTERNS.length]), run: () => void hooked++ }));
  const byName = new Map<string, PlainNode>(shape.nodes.map((n) => [n, { fn: (e: CrewEvent) => e, children: [], toSink: false }]));
  for (const [name, p] of byName) {
    p.children = childrenOf(shape, name).map((c) => byName.get(c)!);
    p.toSink = p.children.length === 0;
  }
  const roots = sources(shape).map((s) => byName.get(s)!);
  const deliver = (p: PlainNode, e: CrewEvent): void => {
    const x = p.fn(e);
    for (let i = 0; i < p.children.length; i++) deliver(p.children[i], x);
    if (p.toSink) delivered++;
  };
  const push = (e: CrewEvent) => {
    for (let i = 0; i < hookList.length; i++) if (hookList[i].matches(e.type)) hookList[i].run();
    for (let i = 0; i < roots.length; i++) deliver(roots[i], e);
  };
  return { push, delivered: () => delivered, hooked: () => hooked, dispose: noop };
}

/** Bare RxJS wiring of `shape` (the limit for session start cost); returns its teardown. */
export function wireRxjs(shape: Shape): Subscription {
  const subscription = new Subscription();
  const sink = new Subject<CrewEvent>();
  const inputs = new Map(shape.nodes.map((n) => [n, new Subject<CrewEvent>()] as const));
  for (const name of shape.nodes) {
    const children = childrenOf(shape, name).map((c) => inputs.get(c)!);
    const toSink = children.length === 0;
    subscription.add(
      inputs.get(name)!.pipe(tap(noop)).subscribe((x) => {
        for (const c of children) c.next(x);
        if (toSink) sink.next(x);
      }),
    );
  }
  const root = new Subject<CrewEvent>();
  for (const s of sources(shape)) subscription.add(root.subscribe(inputs.get(s)!));
  return subscription;
}
