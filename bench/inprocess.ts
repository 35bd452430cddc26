import { map } from 'rxjs';
import { CrewEvent, CrewSession, node } from 'rxcrew';
import { join } from 'node:path';
import type * as MetricsModule from '../dist/lib/internal/metrics';
import type * as ObserverModule from '../dist/lib/internal/observer';
import { serve } from './ipc';
import { median } from './report';
import { buildSession, CHAIN, DIAMOND, graph20, hooksMatching, plainVariant, rxcrewVariant, rxjsVariant, Shape, Variant, wireRxjs } from './topologies';

/*
 * The in-process suites, in a child process of their own (started with
 * --expose-gc): graph throughput, hook cost, session start cost. Variants are
 * timed in alternating rounds so that a noisy moment hits all of them alike;
 * each result is the median round.
 */

export const VARIANTS = ['rxcrew', 'rxjs', 'plain'] as const;
export type VariantName = (typeof VARIANTS)[number];

export interface ThroughputArgs {
  topology: 'chain' | 'diamond';
  hooks: number;
  events: number;
  rounds: number;
}

export interface ThroughputResult {
  topology: string;
  hooks: number;
  /** Node deliveries per event (the hops a per-hop cost is divided by). */
  hops: number;
  /** Median ns per injected event, by variant. */
  nsPerEvent: Record<VariantName, number>;
  /** Every round's ns per event, by variant. */
  rounds: Record<VariantName, number[]>;
}

const SHAPES: Record<ThroughputArgs['topology'], { shape: Shape; hops: number; sinkPerEvent: number }> = {
  chain: { shape: CHAIN, hops: 5, sinkPerEvent: 1 },
  diamond: { shape: DIAMOND, hops: 5, sinkPerEvent: 2 },
};

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function build(name: VariantName, shape: Shape, hooks: number): Variant {
  if (name === 'rxcrew') return rxcrewVariant(shape, hooks);
  if (name === 'rxjs') return rxjsVariant(shape, hooks);
  return plainVariant(shape, hooks);
}

/** Pushes `events` fresh events; returns ns per event. Checks every event arrived and every hook ran. */
function timeRound(v: Variant, events: number, sinkPerEvent: number, hooksPerEvent: number): number {
  const delivered = v.delivered();
  const hooked = v.hooked();
  const start = process.hrtime.bigint();
  for (let i = 0; i < events; i++) v.push({ type: 'bench.tick', n: i } as CrewEvent);
  const ns = Number(process.hrtime.bigint() - start);
  if (v.delivered() - delivered !== events * sinkPerEvent) throw new Error(`lost events: ${v.delivered() - delivered} of ${events * sinkPerEvent}`);
  if (v.hooked() - hooked !== events * hooksPerEvent) throw new Error(`hooks ran ${v.hooked() - hooked} times, expected ${events * hooksPerEvent}`);
  return ns / events;
}

export function throughput(args: ThroughputArgs): ThroughputResult {
  const { shape, hops, sinkPerEvent } = SHAPES[args.topology];
  const hooksPerEvent = hooksMatching(args.hooks);
  const variants = VARIANTS.map((name) => ({ name, v: build(name, shape, args.hooks) }));
  const rounds = { rxcrew: [], rxjs: [], plain: [] } as Record<VariantName, number[]>;
  for (const { v } of variants) timeRound(v, args.events, sinkPerEvent, hooksPerEvent); // warm-up: JIT and caches
  for (let r = 0; r < args.rounds; r++) {
    // rotate the order so that no variant always runs right after another's garbage
    for (let k = 0; k < variants.length; k++) {
      const { name, v } = variants[(r + k) % variants.length];
      gc();
      rounds[name].push(timeRound(v, args.events, sinkPerEvent, hooksPerEvent));
    }
  }
  for (const { v } of variants) v.dispose();
  const nsPerEvent = { rxcrew: median(rounds.rxcrew), rxjs: median(rounds.rxjs), plain: median(rounds.plain) };
  return { topology: args.topology, hooks: args.hooks, hops, nsPerEvent, rounds };
}

export interface StartCostResult {
  nodes: number;
  edges: number;
  /** Median µs to build, validate and wire (and start) one session's 20-node graph. */
  rxcrewUs: number;
  /** Median µs to hand-wire the same 20 Subjects with bare RxJS. */
  rxjsUs: number;
}

/** Session start cost: new CrewSession, 20 × addNode, addEdge…, start() — against bare RxJS wiring. */
export function startCost(args: { builds: number; rounds: number }): StartCostResult {
  const shape = graph20();
  const crew: number[] = [];
  const bare: number[] = [];
  const sessions: CrewSession[] = new Array(args.builds);
  const wirings: Array<{ unsubscribe(): void }> = new Array(args.builds);
  for (let r = 0; r <= args.rounds; r++) {
    gc();
    let start = process.hrtime.bigint();
    for (let i = 0; i < args.builds; i++) sessions[i] = buildSession(new CrewSession(), shape);
    const crewNs = Number(process.hrtime.bigint() - start);
    for (const s of sessions) void s.stop(); // teardown runs synchronously; not timed
    gc();
    start = process.hrtime.bigint();
    for (let i = 0; i < args.builds; i++) wirings[i] = wireRxjs(shape);
    const bareNs = Number(process.hrtime.bigint() - start);
    for (const w of wirings) w.unsubscribe();
    if (r === 0) continue; // warm-up round
    crew.push(crewNs / args.builds / 1000);
    bare.push(bareNs / args.builds / 1000);
  }
  return { nodes: shape.nodes.length, edges: shape.edges.length, rxcrewUs: median(crew), rxjsUs: median(bare) };
}

export interface ClientFramesArgs {
  /**
   * `json5`: the JSON rows' server in-process — 5 pass-through nodes (`map`) in a chain, a
   * `'*'` hook, and a transport that stringifies what it sends (as `WsTransport` does).
   */
  kind: 'audio' | 'json' | 'json5';
  sessions: number;
  /** Frames per session per round. */
  frames: number;
  rounds: number;
}

export interface ClientFramesResult {
  kind: ClientFramesArgs['kind'];
  sessions: number;
  /** Median ns per client frame through rxcrew: `connection.receive` → port → one pass-through node → transport. */
  rxcrewNs: number;
  /** Median ns per frame for the work any server does with it: audio wrapped in an event and handed on; JSON parsed and stringified. */
  plainNs: number;
}

/**
 * The client-frame path without sockets, `sessions` sessions fed round-robin
 * (so each frame touches another session's objects, as on a busy server).
 */
export function clientFrames(args: ClientFramesArgs): ClientFramesResult {
  let sent = 0;
  let out = '';
  const transport =
    args.kind === 'json5' ? { send: (e: CrewEvent) => void ((out = JSON.stringify(e)), sent++), close: () => undefined } : { send: () => void sent++, close: () => undefined };
  const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };
  const limits = { maxAudioFramesPerSecond: 1e9, maxEventsPerSecond: 1e9 };
  const connections = Array.from({ length: args.sessions }, () => {
    const session = new CrewSession({ limits, logger: quiet });
    // attached before start: a transport attached later is not the session's client
    if (args.kind !== 'json5') {
      const connection = session.attach(transport);
      buildSession(session, { nodes: ['pass'], edges: [] });
      return connection;
    }
    const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'].map((name) => node(name, map((e) => e)));
    for (const n of nodes) session.addNode(n);
    for (let i = 1; i < nodes.length; i++) session.addEdge(nodes[i - 1], nodes[i]);
    session.onEvent('*', () => undefined);
    const connection = session.attach(transport);
    void session.start();
    return connection;
  });
  const frames = connections.map((_, i) =>
    args.kind === 'audio'
      ? Buffer.alloc(640, i & 0xff)
      : Buffer.from(JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: `bench ${i}`, bench_t: i + 0.5 })),
  );
  const binary = args.kind === 'audio';
  const plainOut: unknown[] = [];
  const plain = (data: Buffer): void => {
    // audio: the event a runtime would hand on; JSON: parse, then stringify the echo
    plainOut[0] = binary ? { type: 'user.audio', audio: data, sample_rate: 16000 } : JSON.stringify(JSON.parse(data.toString('utf8')));
    sent++;
  };
  const time = (f: () => void): number => {
    gc();
    const start = process.hrtime.bigint();
    f();
    return Number(process.hrtime.bigint() - start) / (args.frames * args.sessions);
  };
  const viaRxcrew = () => {
    for (let k = 0; k < args.frames; k++) for (let i = 0; i < connections.length; i++) connections[i].receive(frames[i], binary);
  };
  const viaPlain = () => {
    for (let k = 0; k < args.frames; k++) for (let i = 0; i < frames.length; i++) plain(frames[i]);
  };
  viaRxcrew(); // warm-up
  viaPlain();
  if (out.length === 0 && args.kind === 'json5') throw new Error('nothing was stringified');
  const crew: number[] = [];
  const bare: number[] = [];
  for (let r = 0; r < args.rounds; r++) {
    const before = sent;
    crew.push(time(viaRxcrew));
    if (sent - before !== args.frames * args.sessions) throw new Error(`rxcrew sent ${sent - before} of ${args.frames * args.sessions} frames`);
    bare.push(time(viaPlain));
  }
  return { kind: args.kind, sessions: args.sessions, rxcrewNs: median(crew), plainNs: median(bare) };
}

export interface MetricsFramesResult {
  kind: 'audio' | 'json';
  sessions: number;
  /** Median ns per client frame (one pass-through node), the sessions observed by an app's metrics. */
  onNs: number;
  /** The same with sessions nobody observes (`metrics: false`). */
  offNs: number;
}

/**
 * What the metrics cost per client frame, without sockets: `sessions` sessions
 * fed round-robin, in alternating rounds observed by a `CrewMetrics` (as a
 * `CrewApp` with `metrics: true` observes each) and by nobody (`metrics: false`).
 */
export function metricsFrames(args: Omit<ClientFramesArgs, 'kind'> & { kind: 'audio' | 'json' }): MetricsFramesResult {
  // internal modules, from the build the bench runs against
  const { CrewMetrics } = require(join(__dirname, '../../../dist/lib/internal/metrics.js')) as typeof MetricsModule;
  const { observeSession, NO_OBSERVER } = require(join(__dirname, '../../../dist/lib/internal/observer.js')) as typeof ObserverModule;
  const metrics = new CrewMetrics({ activeSessions: () => args.sessions, sendQueueBytes: () => 0 });
  let sent = 0;
  const transport = { send: () => void sent++, close: () => undefined };
  const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };
  const limits = { maxAudioFramesPerSecond: 1e9, maxEventsPerSecond: 1e9 };
  const binary = args.kind === 'audio';
  const sessions: CrewSession[] = [];
  const connections = Array.from({ length: args.sessions }, () => {
    const session = new CrewSession({ limits, logger: quiet });
    sessions.push(session);
    const connection = session.attach(transport);
    buildSession(session, { nodes: ['pass'], edges: [] });
    return connection;
  });
  // the same sessions both ways (their objects, their place in memory): only the observer changes between rounds
  const observe = (on: boolean) => {
    for (const session of sessions) observeSession(session, on ? metrics : NO_OBSERVER);
  };
  const frames = connections.map((_, i) =>
    binary ? Buffer.alloc(640, i & 0xff) : Buffer.from(JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: `bench ${i}` })),
  );
  const feed = () => {
    for (let k = 0; k < args.frames; k++) for (let i = 0; i < connections.length; i++) connections[i].receive(frames[i], binary);
  };
  const time = (on: boolean): number => {
    observe(on);
    gc();
    const start = process.hrtime.bigint();
    feed();
    return Number(process.hrtime.bigint() - start) / (args.frames * args.sessions);
  };
  time(true); // warm-up, both ways
  time(false);
  const onNs: number[] = [];
  const offNs: number[] = [];
  for (let r = 0; r < args.rounds; r++) {
    if (r % 2 === 0) {
      onNs.push(time(true));
      offNs.push(time(false));
    } else {
      offNs.push(time(false));
      onNs.push(time(true));
    }
  }
  return { kind: args.kind, sessions: args.sessions, onNs: median(onNs), offNs: median(offNs) };
}

/** Runs only rxcrew's variant for `ms` (for `--profile`, so that the CPU profile holds nothing else). */
export function spin(args: { topology: ThroughputArgs['topology']; hooks: number; ms: number }): { events: number } {
  const { shape } = SHAPES[args.topology];
  const v = rxcrewVariant(shape, args.hooks);
  const until = Date.now() + args.ms;
  let events = 0;
  while (Date.now() < until) {
    for (let i = 0; i < 10_000; i++) v.push({ type: 'bench.tick', n: i } as CrewEvent);
    events += 10_000;
  }
  v.dispose();
  return { events };
}

if (require.main === module) serve({ throughput, startCost, clientFrames, metricsFrames, spin });
