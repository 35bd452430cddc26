import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StoreStats } from '../scale/redis-store';
import '../catalog';
import { getEventDefinition } from '../events';
import type { DropReason, FrameKind, SessionObserver } from './observer';
import type { TurnMetrics } from '../turn-metrics';

/** What the app's gauges read when scraped. */
export interface MetricsSource {
  /** Live sessions (every transport). */
  activeSessions(): number;
  /** Bytes waiting to be sent, over every client. */
  sendQueueBytes(): number;
  /** The session store's failures (undefined without a store: its metrics are not registered). */
  storeStats?: () => Readonly<StoreStats>;
}

/** Latency buckets in seconds: fine below a second, where voice agents are judged (800 ms is the bar). */
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1, 1.5, 2, 3, 5, 10];
/** A turn's length, in seconds. */
const TURN_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60];

/** A tally in a plain number, read when scraped. */
interface Tally {
  n: number;
}

/** Label value for an event type: types from the catalog (`defineEvent`), else `other` (bounded: a client cannot make labels). */
function typeLabel(type: string): string {
  return getEventDefinition(type) === undefined ? 'other' : type;
}

/** Label value for a close code: the protocol's (below 3000) as they are, an application's (3000–4999) as `app`. */
function codeLabel(code: number): string {
  return code < 3000 ? String(code) : 'app';
}

/**
 * The app's Prometheus metrics (DESIGN.md → Observability): one registry per
 * `CrewApp`, served at `GET /metrics`. It is also the `SessionObserver` of
 * every session of the app: the hot path counts in plain numbers (a map look-up
 * and an increment), and the counters are filled from them when scraped; turn
 * figures go straight to the histograms (a few per turn).
 */
export class CrewMetrics implements SessionObserver {
  /** The registry served at `/metrics`: register your own metrics on it. */
  readonly registry = new Registry();

  private readonly frames: Record<FrameKind, Tally> = { json: { n: 0 }, audio: { n: 0 }, refused: { n: 0 } };
  private readonly eventsIn = new Map<string, Tally>();
  private readonly eventsOut = new Map<string, Tally>();
  // the last type counted each way: audio streams are runs of one type
  private lastIn = '';
  private lastInTally: Tally = { n: 0 };
  private lastOut = '';
  private lastOutTally: Tally = { n: 0 };
  private readonly drops = new Map<DropReason, Tally>();
  private readonly nodeErrors = new Map<string, Tally>();
  private readonly closes = new Map<string, Tally>();
  private readonly turns = { completed: { n: 0 }, interrupted: { n: 0 }, failed: { n: 0 } };
  private interrupts = 0;
  private sessions = 0;
  private readonly resumes = { resumed: { n: 0 }, refused: { n: 0 } };

  private readonly ttft: Histogram;
  private readonly turnDuration: Histogram;
  private readonly ttsTtfb: Histogram;
  private readonly voiceResponse: Histogram;
  private readonly interruptStop: Histogram;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    const tallies = (counter: Counter<string>, entries: Iterable<[Record<string, string>, Tally]>) => {
      counter.reset();
      for (const [labels, tally] of entries) counter.inc(labels, tally.n);
    };
    const self = this;
    new Gauge({ name: 'rxcrew_sessions_active', help: 'Live sessions.', registers, collect() { this.set(source.activeSessions()); } });
    new Counter({ name: 'rxcrew_sessions_total', help: 'Sessions started since the app was made.', registers, collect() { this.reset(); this.inc(self.sessions); } });
    new Counter({
      name: 'rxcrew_client_frames_total',
      help: 'Frames clients sent, by kind (json, audio, refused).',
      labelNames: ['kind'],
      registers,
      collect() { tallies(this, Object.entries(self.frames).map(([kind, t]) => [{ kind }, t])); },
    });
    new Counter({
      name: 'rxcrew_events_total',
      help: 'Events accepted from clients (in) and sent to them (out), by catalog type.',
      labelNames: ['type', 'direction'],
      registers,
      collect() {
        this.reset();
        for (const [type, t] of self.eventsIn) this.inc({ type, direction: 'in' }, t.n);
        for (const [type, t] of self.eventsOut) this.inc({ type, direction: 'out' }, t.n);
      },
    });
    new Counter({
      name: 'rxcrew_events_dropped_total',
      help: 'Events and frames not delivered, by reason (rate_limited, slow_client, after_close, prestart_overflow).',
      labelNames: ['reason'],
      registers,
      collect() { tallies(this, [...self.drops].map(([reason, t]) => [{ reason }, t])); },
    });
    new Counter({
      name: 'rxcrew_node_errors_total',
      help: "Node pipelines that errored, by the node's name.",
      labelNames: ['node'],
      registers,
      collect() { tallies(this, [...self.nodeErrors].map(([node, t]) => [{ node }, t])); },
    });
    new Counter({
      name: 'rxcrew_closes_total',
      help: 'Sessions ended, by close code (application codes 3000-4999 as "app").',
      labelNames: ['code'],
      registers,
      collect() { tallies(this, [...self.closes].map(([code, t]) => [{ code }, t])); },
    });
    new Gauge({ name: 'rxcrew_send_queue_bytes', help: 'Bytes waiting to be sent, over every client.', registers, collect() { this.set(source.sendQueueBytes()); } });
    new Counter({
      name: 'rxcrew_turns_total',
      help: 'Agent turns, by outcome (completed, interrupted, failed).',
      labelNames: ['outcome'],
      registers,
      collect() { tallies(this, Object.entries(self.turns).map(([outcome, t]) => [{ outcome }, t])); },
    });
    new Counter({ name: 'rxcrew_interrupts_total', help: 'system.control.interrupt events that entered a graph.', registers, collect() { this.reset(); this.inc(self.interrupts); } });
    const store = source.storeStats;
    if (store !== undefined) {
      const storeCounter = (name: string, help: string, read: (s: Readonly<StoreStats>) => number) =>
        new Counter({ name, help, registers, collect() { this.reset(); this.inc(read(store())); } });
      storeCounter('rxcrew_store_failed_writes_total', 'Session store writes that failed (what they carried is not in the store).', (s) => s.failedWrites);
      storeCounter('rxcrew_store_unserialisable_total', 'Values the session store could not save as JSON.', (s) => s.unserialisable);
      storeCounter('rxcrew_store_reconnects_total', 'Times the session store reconnected to Redis (every live session written again).', (s) => s.reconnects);
      new Counter({
        name: 'rxcrew_session_resumes_total',
        help: 'Connections that came with a resume token, by outcome (resumed, or refused: a fresh session).',
        labelNames: ['outcome'],
        registers,
        collect() { tallies(this, Object.entries(self.resumes).map(([outcome, t]) => [{ outcome }, t])); },
      });
    }
    const histogram = (name: string, help: string, buckets: number[]) => new Histogram({ name, help, buckets, registers });
    this.ttft = histogram('rxcrew_llm_ttft_seconds', "A turn's request to the model's first text (time to first token).", LATENCY_BUCKETS);
    this.turnDuration = histogram('rxcrew_turn_duration_seconds', "A turn's request to its end.", TURN_BUCKETS);
    this.ttsTtfb = histogram('rxcrew_tts_ttfb_seconds', "A reply's first text to its first synthesized audio.", LATENCY_BUCKETS);
    this.voiceResponse = histogram('rxcrew_voice_response_seconds', 'The user stopped speaking to the first agent audio sent.', LATENCY_BUCKETS);
    this.interruptStop = histogram('rxcrew_interrupt_stop_seconds', 'An interrupt to the last agent audio sent after it.', LATENCY_BUCKETS);
  }

  /** The exposition (Prometheus text format): the app's metrics, then the process's. */
  async exposition(): Promise<string> {
    const [own, process] = await Promise.all([this.registry.metrics(), processRegistry().metrics()]);
    return `${own}\n${process}`;
  }

  /** The exposition's content type. */
  get contentType(): string {
    return this.registry.contentType;
  }

  // ---- SessionObserver: the sessions' hot path --------------------------

  sessionStarted(): void {
    this.sessions++;
  }

  /** A connection with a resume token got its session back, or was refused (and has a fresh one). */
  resume(outcome: 'resumed' | 'refused'): void {
    this.resumes[outcome].n++;
  }

  frame(kind: FrameKind): void {
    this.frames[kind].n++;
  }

  event(type: string, direction: 'in' | 'out'): void {
    if (direction === 'in') {
      if (type !== this.lastIn) {
        this.lastInTally = tally(this.eventsIn, typeLabel(type));
        this.lastIn = type;
      }
      this.lastInTally.n++;
    } else {
      if (type !== this.lastOut) {
        this.lastOutTally = tally(this.eventsOut, typeLabel(type));
        this.lastOut = type;
      }
      this.lastOutTally.n++;
    }
  }

  dropped(reason: DropReason): void {
    tally(this.drops, reason).n++;
  }

  nodeError(node: string): void {
    tally(this.nodeErrors, node).n++;
  }

  closed(code: number): void {
    tally(this.closes, codeLabel(code)).n++;
  }

  interrupt(): void {
    this.interrupts++;
  }

  turn(m: Readonly<TurnMetrics>): void {
    this.turns[m.outcome].n++;
    if (m.ttft_ms !== null) this.ttft.observe(m.ttft_ms / 1000);
    this.turnDuration.observe(m.duration_ms / 1000);
    if (m.tts_ttfb_ms !== undefined) this.ttsTtfb.observe(m.tts_ttfb_ms / 1000);
    if (m.voice_response_ms !== undefined) this.voiceResponse.observe(m.voice_response_ms / 1000);
  }

  interruptStopped(ms: number): void {
    this.interruptStop.observe(ms / 1000);
  }
}

function tally<K>(map: Map<K, Tally>, key: K): Tally {
  let t = map.get(key);
  if (t === undefined) {
    t = { n: 0 };
    map.set(key, t);
  }
  return t;
}

let processMetrics: Registry | undefined;

/** prom-client's process metrics (CPU, memory, event loop, GC), made once per process and shared by every app in it. */
function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
    // gauges named like counters (promtool refuses them); the same figures stay as nodejs_active_{handles,requests,resources}
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) processMetrics.removeSingleMetric(name);
  }
  return processMetrics;
}
