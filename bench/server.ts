import { once } from 'node:events';
import { Session as InspectorSession } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { writeHeapSnapshot } from 'node:v8';
import { filter, map, tap } from 'rxjs';
import { WebSocketServer } from 'ws';
import { CrewApp, CrewLogger, CrewSession, event, node, redisStore } from 'rxcrew';
import type * as DemoSetup from '../dist/demos/sales-agent/setup';
import type * as ObserverModule from '../dist/lib/internal/observer';
import { serve } from './ipc';

/*
 * A server under test, in a process of its own so that its CPU, memory and
 * event-loop delay are its own. `bench/out/bench/server.js <rxcrew|bare> <pass|demo|json5|echo> [metrics|no-metrics] [REDIS_URL]`
 * (rxcrew's metrics are on unless `no-metrics`; `metrics` also scrapes them once a second;
 * with a Redis URL the app has a `redisStore` on it, see `setStore`):
 * - rxcrew pass: a CrewApp whose graph is one pass-through node (`tap`);
 * - rxcrew demo: a CrewApp with the sales-agent demo's setup;
 * - rxcrew json5: a CrewApp whose graph is 5 pass-through nodes in a chain
 *   (`node('n1', map((e) => e))` → … → n5) and one `'*'` hook, the JSON rows' server;
 * - rxcrew echo: a CrewApp with `twilio: true` whose one node answers each
 *   `user.audio` with the same audio as `agent.audio` (the phone rows' server;
 *   Atoms clients on /ws, Twilio streams on /twilio);
 * - bare: a `ws` WebSocketServer echoing each message with the same frame kind
 *   (and sending one ready frame on connect, as rxcrew sends agent.ready);
 *   with BENCH_BARE_PARSE=1 it parses and re-serialises each text message
 *   (the least any server reading JSON events does), for comparison.
 */

export type ServerKind = 'rxcrew' | 'bare';
export type ServerGraph = 'pass' | 'demo' | 'json5' | 'echo';

export interface ServerReport {
  wallMs: number;
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Client frames handled in the window. */
  frames: number;
  /** Event-loop delay (how late a 10 ms timer fires), from `monitorEventLoopDelay`. */
  eldP50Ms: number;
  eldP99Ms: number;
  eldMaxMs: number;
  /** Errors the server logged so far (socket resets when clients go are warnings, not counted). */
  errors: number;
}

const [kind, graph, metricsArg, storeUrl] = process.argv.slice(2) as [ServerKind, ServerGraph, string | undefined, string | undefined];
/** `metrics` (or nothing): the app's Prometheus metrics on, scraped once a second by the server itself; `no-metrics`: `metrics: false`. */
const METRICS = metricsArg !== 'no-metrics';
/**
 * `metrics-toggle`: metrics on, but `setMetrics(false)` makes the sessions set up after it
 * unobserved (as with `metrics: false`); the bench scrapes it from outside: one process measured both
 * ways, so that what differs between two processes (JIT, memory layout) is not in the comparison.
 */
const TOGGLE = metricsArg === 'metrics-toggle';
let observing = true;
const { observeSession, NO_OBSERVER } = require(join(__dirname, '../../../dist/lib/internal/observer.js')) as typeof ObserverModule;
/** A setup that leaves its sessions unobserved while `observing` is off (the app observed them before setup). */
function toggled(setup: (s: CrewSession) => void | Promise<void>): (s: CrewSession) => void | Promise<void> {
  return (session) => {
    if (!observing) observeSession(session, NO_OBSERVER);
    return setup(session);
  };
}
const READY = JSON.stringify({ type: 'agent.ready' });
const PARSE = process.env.BENCH_BARE_PARSE === '1';
const TEXT = { binary: false };
const ELD_RESOLUTION_MS = 10;
let frames = 0;
let errors = 0;
const logger: CrewLogger = {
  error: (...args: unknown[]) => {
    if (errors++ < 3) console.error(`[${kind} server]`, ...args);
  },
  warn: () => undefined,
  info: () => undefined,
};

async function listen(): Promise<{ port: number; sessions: () => number }> {
  if (kind === 'bare') {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 64 * 1024, perMessageDeflate: false });
    wss.on('connection', (ws) => {
      ws.on('error', () => undefined);
      ws.send(READY);
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        frames++;
        // BENCH_BARE_PARSE=1: parse and re-serialise each JSON message, as any server that reads its events must
        if (PARSE && !isBinary) ws.send(JSON.stringify(JSON.parse(data.toString('utf8'))), TEXT);
        else ws.send(data, { binary: isBinary });
      });
    });
    await once(wss, 'listening');
    return { port: (wss.address() as AddressInfo).port, sessions: () => wss.clients.size };
  }
  const setup =
    graph === 'demo'
      ? (require(join(__dirname, '../../../dist/demos/sales-agent/setup.js')) as typeof DemoSetup).createSetup({ log: () => undefined, initTimeout: 0 })
      : graph === 'json5'
        ? chainOfFive
        : graph === 'echo'
          ? echoAudio
          : (session: CrewSession) => void session.addNode(node('pass', tap(() => void frames++)));
  const store = storeUrl === undefined ? {} : { store: redisStore({ url: storeUrl }), secret: 'the bench secret, long enough' };
  const app = new CrewApp({ setup: TOGGLE ? toggled(setup) : setup, host: '127.0.0.1', port: 0, logger, twilio: graph === 'echo', metrics: METRICS, ...store });
  const { port } = await app.listen();
  storeToggle = storeSwitch(app);
  // `metrics`: a scrape a second (Prometheus's default is one a minute, 15 s is common), so its cost is in the
  // window too; BENCH_SCRAPE_MS sets another interval (0: never scraped)
  const scrapeMs = Number(process.env.BENCH_SCRAPE_MS ?? 1000);
  // (with `metrics-toggle` the bench scrapes from outside, as Prometheus does)
  if (METRICS && metricsArg === 'metrics' && scrapeMs > 0) {
    setInterval(() => void fetch(`http://127.0.0.1:${port}/metrics`).then((res) => res.text()), scrapeMs).unref();
  }
  return { port, sessions: () => app.sessions.size };
}

/**
 * With a store: `on(false)` makes the sessions that connect from then on unrecorded (no record,
 * no event log; as without a store), `on(true)` recorded again — one process measured both ways,
 * as with `metrics-toggle`. It sets the app's private `resumeHost` (undefined is what an app
 * without a store has): the bench's business only. The fleet registry stays on (written per
 * session and heartbeat, not per event).
 */
function storeSwitch(app: CrewApp): (on: boolean) => void {
  const inside = app as unknown as { resumeHost: unknown };
  const host = inside.resumeHost;
  if (host === undefined) return () => undefined;
  return (on) => void (inside.resumeHost = on ? host : undefined);
}
let storeToggle: (on: boolean) => void = () => undefined;

/** Five pass-through nodes in a chain and one `'*'` hook (it counts the client's frames: each event reaches it once). */
/** One node that answers each `user.audio` with the same audio as `agent.audio` (the phone rows' server). */
function echoAudio(session: CrewSession): void {
  session.addNode(
    node('echo', (input$) =>
      input$.pipe(
        filter((e) => e.type === 'user.audio'),
        map((e) => {
          frames++;
          return event('agent.audio', { audio: e.audio as Buffer, sample_rate: session.audioFormat.outputSampleRate });
        }),
      ),
    ),
  );
}

function chainOfFive(session: CrewSession): void {
  const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'].map((name) => node(name, map((e) => e)));
  for (const n of nodes) session.addNode(n);
  for (let i = 1; i < nodes.length; i++) session.addEdge(nodes[i - 1], nodes[i]);
  session.onEvent('*', (_session, e) => {
    if (e.type === 'agent.transcript.update') frames++;
  });
}

function main(): void {
  const listening = listen(); // requests wait for it, so the parent may ask at once
  // the histogram holds the interval between samples (resolution + lateness): the resolution is subtracted below
  const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  const lateMs = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
  eld.enable();
  let mark = { cpu: process.cpuUsage(), frames: 0, at: performance.now() };
  const sessions = async () => (await listening).sessions();
  serve({
    info: async () => ({ port: (await listening).port, pid: process.pid, kind, graph }),
    sessions,
    /** `metrics-toggle`: whether the sessions set up from now on are observed. */
    setMetrics: ({ on }: { on: boolean }) => void (observing = on),
    /** With a Redis URL: whether the sessions set up from now on are recorded in the store. */
    setStore: async ({ on }: { on: boolean }) => {
      await listening;
      storeToggle(on);
    },
    /** Client frames handled since the process started. */
    frames: () => frames,
    /** Waits until `count` sessions are live (e.g. 0 after clients have gone). */
    waitSessions: async ({ count, timeoutMs }: { count: number; timeoutMs: number }) => {
      const until = Date.now() + timeoutMs;
      while ((await sessions()) !== count && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      return sessions();
    },
    /**
     * A full GC (when started with --expose-gc), asked for a second before a window, so
     * that what earlier phases left behind (the accept test's 2,000 sessions, the last
     * level's) is not collected in the window and charged to its frames.
     */
    collect: () => (globalThis as { gc?: () => void }).gc?.(),
    mark: () => {
      eld.reset();
      mark = { cpu: process.cpuUsage(), frames, at: performance.now() };
    },
    report: (): ServerReport => {
      const cpu = process.cpuUsage(mark.cpu);
      return {
        wallMs: performance.now() - mark.at,
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        frames: frames - mark.frames,
        eldP50Ms: lateMs(eld.percentile(50)),
        eldP99Ms: lateMs(eld.percentile(99)),
        eldMaxMs: lateMs(eld.max),
        errors,
      };
    },
    /** Full GCs until the heap settles, then the process's memory. */
    memory: async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) throw new Error('start the server with --expose-gc');
      for (let i = 0; i < 4; i++) {
        gc();
        await tick();
      }
      return { ...process.memoryUsage(), sessions: await sessions() };
    },
    /** Script ids → URLs (for `--profile`: heap snapshots locate closures by script id). */
    scripts: async () => {
      const session = new InspectorSession();
      session.connect();
      const urls: Record<string, string> = {};
      session.on('Debugger.scriptParsed', ({ params }) => (urls[params.scriptId] = params.url));
      await new Promise((resolve) => session.post('Debugger.enable', resolve));
      session.disconnect();
      return urls;
    },
    /** Writes a V8 heap snapshot (for `--profile`); returns its path. */
    heapSnapshot: async ({ file }: { file: string }) => {
      (globalThis as { gc?: () => void }).gc?.();
      await tick();
      return writeHeapSnapshot(file);
    },
  });
}

main();
