import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Child, LOAD_CPU, SERVER_CPU } from './ipc';
import type { Mix } from './loadgen';
import type { ServerGraph, ServerReport } from './server';

/*
 * End to end over WebSocket on loopback: the rxcrew server (one pass-through
 * node; for the JSON-only levels, five in a chain and a `'*'` hook) and a bare
 * `ws` echo server, each in its own process, driven by the same load
 * generator, one after the other at each session count.
 */

export const KINDS = ['rxcrew', 'bare'] as const;
export type Kind = (typeof KINDS)[number];

export interface E2eConfig {
  /** Session counts, each sending audio and JSON (60 frames/s per session). */
  levels: number[];
  /** Session counts sending audio only (50 frames/s per session), as the p99 target is worded. */
  audioOnlyLevels: number[];
  /**
   * Session counts sending one JSON `agent.transcript.update` every 20 ms and no audio, to
   * the rxcrew server with 5 pass-through nodes and a `'*'` hook (the JSON rows).
   * These runs alternate bare first (bare, rxcrew, rxcrew, bare, …).
   */
  jsonOnlyLevels?: number[];
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  /** New connections per second while setting up a level. */
  connectRate: number;
  /** Connections opened as fast as the server accepts them, for sessions accepted/s (0: not measured). */
  acceptCount: number;
  /** Runs per server and level, alternating which goes first (A B B A …) so that drift hits both alike. */
  repeats: number;
  /**
   * Before each run, wait up to `perRun` ms for the machine to be idle, and up to `total`
   * ms over the suite (on a shared machine, other work is noise).
   */
  quietWait: { perRun: number; total: number };
}

type Rtt = { count: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; meanMs: number };
export interface LoadReport {
  windowMs: number;
  sessions: number;
  sent: { audio: number; json: number };
  delivered: { audio: number; json: number };
  rtt: Rtt;
  rttAudio: Rtt;
  rttJson: Rtt;
  cpuPct: number;
  cpuUs: number;
  errors: number;
  unexpectedCloses: number;
}
interface ConnectReport {
  opened: number;
  failed: number;
  firstError?: string;
  ms: number;
  perSec: number;
  readyP50Ms: number;
  readyP99Ms: number;
}

export interface LevelResult {
  sessions: number;
  /** What each session sent (see `Mix` in loadgen.ts). */
  mix: Mix;
  server: ServerReport;
  load: LoadReport;
  /** Server CPU (user + system) per client frame handled. */
  cpuUsPerFrame: number;
  /** Echoes received / frames sent, for frames sent in the window. */
  deliveredRatio: number;
  /** Frames/s the load generator sent in the window, and what it was asked to send. */
  sentPerSec: number;
  targetPerSec: number;
  skippedSlices: number;
  /**
   * Cores the machine was busy in the window beyond the server's and the load generator's own CPU:
   * other processes (noise) and interrupt work charged to no process.
   */
  otherCores: number | undefined;
  /** Cores in interrupts and soft interrupts (mostly loopback packets; part of it is charged to the two processes). */
  irqCores: number | undefined;
}

/** One server at one level, over its runs. */
export interface LevelSummary {
  sessions: number;
  mix: Mix;
  /** All runs' server CPU over all their frames. */
  cpuUsPerFrame: number;
  /** Round-trip percentiles and event-loop delay: the mean over runs. */
  rtt: { p50Ms: number; p99Ms: number; p999Ms: number };
  eldP99Ms: number;
  /** All runs' echoes received over frames sent. */
  deliveredRatio: number;
  /** All runs' frames sent and echoes received (in the windows). */
  sent: number;
  delivered: number;
  /** Frames sent / frames asked for (below 1: the load generator could not keep up). */
  achieved: number;
  loadCpuPct: number;
  /** The most any run used here saw. */
  otherCores: number | undefined;
  /** Runs left out because the machine was busy elsewhere (while a quieter run of the same server was kept). */
  noisyRunsLeftOut: number;
  runs: LevelResult[];
}

/** The full GC before each window comes this long before it (within the warm-up). */
const COLLECT_BEFORE_WINDOW_MS = 1000;

/** Cores busy elsewhere above which a run is noisy. */
export const NOISY_CORES = 0.3;

export interface E2eResult {
  accept?: Record<Kind, ConnectReport>;
  levels: Array<Record<Kind, LevelSummary>>;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function summarise(all: LevelResult[]): LevelSummary {
  const quiet = all.filter((r) => (r.otherCores ?? 0) < NOISY_CORES);
  const runs = quiet.length > 0 ? quiet : all;
  const sent = sum(runs.map((r) => r.load.sent.audio + r.load.sent.json));
  const delivered = sum(runs.map((r) => r.load.delivered.audio + r.load.delivered.json));
  const others = runs.map((r) => r.otherCores).filter((x): x is number => x !== undefined);
  return {
    sessions: runs[0].sessions,
    mix: runs[0].mix,
    cpuUsPerFrame: sum(runs.map((r) => r.server.cpuUserUs + r.server.cpuSystemUs)) / sum(runs.map((r) => r.server.frames)),
    rtt: { p50Ms: mean(runs.map((r) => r.load.rtt.p50Ms)), p99Ms: mean(runs.map((r) => r.load.rtt.p99Ms)), p999Ms: mean(runs.map((r) => r.load.rtt.p999Ms)) },
    eldP99Ms: mean(runs.map((r) => r.server.eldP99Ms)),
    deliveredRatio: delivered / sent,
    sent,
    delivered,
    achieved: mean(runs.map((r) => r.sentPerSec / r.targetPerSec)),
    loadCpuPct: mean(runs.map((r) => r.load.cpuPct)),
    otherCores: others.length === 0 ? undefined : Math.max(...others),
    noisyRunsLeftOut: all.length - runs.length,
    runs: all,
  };
}

const PATH = '/ws';
const TWILIO_PATH = '/twilio';

/** Frames per second each session sends, by mix. */
const PER_SECOND: Record<Mix, number> = { mixed: 60, audio: 50, json: 50, twilio: 50 };

/** `serverExecArgv(kind)`: Node flags for each server (`--profile` passes `--cpu-prof`). */
export async function runE2e(cfg: E2eConfig, log: (line: string) => void, serverExecArgv: (kind: Kind) => string[] = () => []): Promise<E2eResult> {
  // each server is started when first needed (--only=json needs neither the pass-through one nor the accept test)
  const children = new Map<string, Child>();
  const ports = new Map<string, number>();
  const server = async (kind: Kind, graph: ServerGraph): Promise<{ child: Child; port: number }> => {
    const key = kind === 'bare' ? 'bare' : `rxcrew ${graph}`;
    let child = children.get(key);
    if (child === undefined) {
      const label = kind === 'bare' ? 'bare ws server' : `rxcrew server (${graph})`;
      // --expose-gc: each window starts from a collected heap (see `mark` in server.ts)
      child = new Child(label, 'server', [kind, graph], ['--expose-gc', ...serverExecArgv(kind)], SERVER_CPU);
      children.set(key, child);
      ports.set(key, (await child.call<{ port: number }>('info')).port);
    }
    return { child, port: ports.get(key)! };
  };
  const load = new Child('load generator', 'loadgen', [], [], LOAD_CPU);
  try {
    let accept: E2eResult['accept'];
    if (cfg.acceptCount > 0) {
      accept = {} as Record<Kind, ConnectReport>;
      for (const kind of KINDS) {
        const { child, port } = await server(kind, 'pass');
        accept[kind] = await load.call<ConnectReport>('connect', { port, path: PATH, count: cfg.acceptCount, rate: 1e9, maxInFlight: 64 });
        if (accept[kind].failed > 0) log(`  ${kind}: ${accept[kind].failed} connections failed (${accept[kind].firstError})`);
        await load.call('closeAll');
        await child.call('waitSessions', { count: 0, timeoutMs: 15_000 });
        log(`  accept ${kind}: ${Math.round(accept[kind].perSec)} sessions/s`);
      }
    }

    const levels: E2eResult['levels'] = [];
    const all: Array<{ sessions: number; mix: Mix }> = [
      ...cfg.levels.map((n) => ({ sessions: n, mix: 'mixed' as const })),
      ...cfg.audioOnlyLevels.map((n) => ({ sessions: n, mix: 'audio' as const })),
      ...(cfg.jsonOnlyLevels ?? []).map((n) => ({ sessions: n, mix: 'json' as const })),
    ];
    for (const { sessions, mix } of all) {
      // BENCH_JSON_GRAPH=pass: the JSON rows against the one-node server instead (to split the graph's cost from the rest)
      const graph: ServerGraph = mix === 'json' ? ((process.env.BENCH_JSON_GRAPH as ServerGraph | undefined) ?? 'json5') : 'pass';
      // the JSON rows as the issue measured them: bare, rxcrew, rxcrew, bare, bare, rxcrew
      const order: readonly Kind[] = mix === 'json' ? ['bare', 'rxcrew'] : KINDS;
      const runs: Record<Kind, LevelResult[]> = { rxcrew: [], bare: [] };
      for (let i = 0; i < cfg.repeats; i++) for (const kind of i % 2 === 0 ? order : [...order].reverse()) {
        await waitQuiet(cfg.quietWait, log);
        const { child, port } = await server(kind, graph);
        const r = await runLevel(cfg, sessions, mix, child, load, port);
        runs[kind].push(r);
        log(
          `  ${sessions} sessions${mix === 'mixed' ? '' : mix === 'audio' ? ' (audio only)' : ' (JSON only, 5 nodes + hook)'} ${kind}: ${r.cpuUsPerFrame.toFixed(1)} µs/frame, p99 ${r.load.rtt.p99Ms.toFixed(2)} ms, ` +
            `sent ${Math.round(r.sentPerSec)}/${r.targetPerSec} frames/s, delivered ${(r.deliveredRatio * 100).toFixed(2)}%, load gen CPU ${r.load.cpuPct.toFixed(0)}%` +
            (r.otherCores === undefined ? '' : `, machine busy elsewhere ${r.otherCores.toFixed(2)} cores (interrupts ${r.irqCores!.toFixed(2)})`),
        );
      }
      levels.push({ rxcrew: summarise(runs.rxcrew), bare: summarise(runs.bare) });
    }
    return { accept, levels };
  } finally {
    await Promise.all([...[...children.values()].map((c) => c.stop()), load.stop()]);
  }
}

let waitedMs = 0;

/** Waits until the machine is idle for a second (under 0.15 cores busy), within the budget. */
export async function waitQuiet(budget: E2eConfig['quietWait'], log: (line: string) => void): Promise<void> {
  const start = Date.now();
  const until = start + Math.max(0, Math.min(budget.perRun, budget.total - waitedMs));
  try {
    await idleOrTimeout(until, log);
  } finally {
    waitedMs += Date.now() - start;
  }
}

async function idleOrTimeout(until: number, log: (line: string) => void): Promise<void> {
  for (let waited = false; ; waited = true) {
    const a = machineCpuSeconds();
    await sleep(1000);
    const b = machineCpuSeconds();
    if (a === undefined || b === undefined) return;
    const busy = b.tasks + b.irq - a.tasks - a.irq;
    if (busy < 0.15) return;
    if (Date.now() > until) return log(`  (the machine stayed busy: ${busy.toFixed(2)} cores elsewhere; measuring anyway)`);
    if (!waited) log(`  (waiting for the machine to be idle: ${busy.toFixed(2)} cores busy elsewhere)`);
  }
}

/** How long a level waits, after its drain, for the echoes of frames sent in its window. */
const SETTLE_MS = 20_000;

const allBack = (r: LoadReport) => r.delivered.audio + r.delivered.json >= r.sent.audio + r.sent.json;

export async function runLevel(cfg: E2eConfig, sessions: number, mix: Mix, server: Child, load: Child, port: number): Promise<LevelResult> {
  const twilio = mix === 'twilio';
  const connected = await load.call<ConnectReport>('connect', { port, path: twilio ? TWILIO_PATH : PATH, twilio, count: sessions, rate: cfg.connectRate, maxInFlight: 100 });
  if (connected.failed > 0) throw new Error(`${connected.failed} of ${sessions} connections failed: ${connected.firstError}`);
  await load.call('startSending', { mix });
  await sleep(cfg.warmupMs - COLLECT_BEFORE_WINDOW_MS);
  await server.call('collect');
  await sleep(COLLECT_BEFORE_WINDOW_MS);
  await Promise.all([server.call('mark'), load.call('mark')]);
  const cpuAtMark = machineCpuSeconds();
  await sleep(cfg.measureMs);
  const [report] = await Promise.all([server.call<ServerReport>('report'), load.call('endWindow')]);
  const cpu = machineCpuSeconds();
  const windowS = report.wallMs / 1000;
  // echoes of frames sent in the window still count: wait for them (a server behind its load
  // answers late, which the round trips show), up to SETTLE_MS, so that late is not counted as lost
  await sleep(cfg.drainMs);
  let loadReport = await load.call<LoadReport>('report');
  const { skippedSlices } = await load.call<{ skippedSlices: number }>('stopSending');
  for (const until = Date.now() + SETTLE_MS; !allBack(loadReport) && Date.now() < until; ) {
    await sleep(250);
    loadReport = await load.call<LoadReport>('report');
  }
  await load.call('closeAll');
  await server.call('waitSessions', { count: 0, timeoutMs: 15_000 });
  const sent = loadReport.sent.audio + loadReport.sent.json;
  return {
    sessions,
    mix,
    server: report,
    load: loadReport,
    cpuUsPerFrame: (report.cpuUserUs + report.cpuSystemUs) / report.frames,
    deliveredRatio: (loadReport.delivered.audio + loadReport.delivered.json) / sent,
    sentPerSec: sent / (loadReport.windowMs / 1000),
    targetPerSec: sessions * PER_SECOND[mix],
    skippedSlices,
    otherCores: cpu && cpuAtMark && (cpu.tasks + cpu.irq - cpuAtMark.tasks - cpuAtMark.irq - (report.cpuUserUs + report.cpuSystemUs + loadReport.cpuUs) / 1e6) / windowS,
    irqCores: cpu && cpuAtMark && (cpu.irq - cpuAtMark.irq) / windowS,
  };
}

/** CPU seconds the machine has spent in tasks and in interrupts (Linux /proc/stat, USER_HZ = 1/100 s); undefined elsewhere. */
function machineCpuSeconds(): { tasks: number; irq: number } | undefined {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/);
    const [user, nice, system, , , irq, softirq, steal] = fields.map(Number);
    return { tasks: (user + nice + system) / 100, irq: (irq + softirq + steal) / 100 };
  } catch {
    return undefined;
  }
}
