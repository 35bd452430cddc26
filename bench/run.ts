import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { E2eConfig, E2eResult, LevelSummary, NOISY_CORES, runE2e, waitQuiet } from './e2e';
import type { ClientFramesArgs, ClientFramesResult, MetricsFramesResult, StartCostResult, ThroughputArgs, ThroughputResult } from './inprocess';
import { canPin, Child, LOAD_CPU, SERVER_CPU } from './ipc';
import { MemoryResult, runMemory } from './memory';
import { MetricsCostConfig, MetricsCostResult, runMetricsCost } from './metrics-cost';
import { runProfiles } from './profile';
import { runScale, ScaleConfig, ScaleResult } from './scale';
import { runTwilio, TwilioConfig, TwilioResult } from './twilio';
import { costRow, fmt, formatTable, machine, rateRow, Row } from './report';

/*
 * `npm run bench [-- --quick] [--only=inprocess|e2e|json|twilio|metrics|memory|scale] [--repeats=N]`:
 * every suite (or one), each measured side by side with its limit in this one
 * run; prints the table and writes bench/results.json. `--repeats=N` sets the
 * runs per server and level of the end-to-end suites. `--profile` instead records CPU profiles
 * of rxcrew's in-process chain and of its server under load, and heap snapshots
 * of idle sessions, and prints where the time and the memory go.
 */

interface Config {
  inprocess: { events: number; rounds: number; builds: number };
  e2e: E2eConfig;
  /** The JSON rows: JSON only, 5 pass-through nodes and a `'*'` hook (an end-to-end suite of its own). */
  json: E2eConfig;
  /** The phone rows: Twilio Media Streams calls against the Atoms audio path, one echo server. */
  twilio: TwilioConfig;
  /** The metrics rows: the e2e mix against rxcrew with metrics on and off. */
  metrics: MetricsCostConfig;
  /** The scale-out rows: the store's cost (JSON only, on against off), Redis memory per idle session, resume after kill -9. */
  scale: ScaleConfig;
  memoryLevels: number[];
}

const FULL: Config = {
  inprocess: { events: 1_000_000, rounds: 7, builds: 2000 },
  e2e: { levels: [100, 500, 1000], audioOnlyLevels: [1000], warmupMs: 5000, measureMs: 10_000, drainMs: 1500, connectRate: 500, acceptCount: 2000, repeats: 3, quietWait: { perRun: 60_000, total: 300_000 } },
  json: { levels: [], audioOnlyLevels: [], jsonOnlyLevels: [200, 1000], warmupMs: 5000, measureMs: 10_000, drainMs: 1500, connectRate: 500, acceptCount: 0, repeats: 3, quietWait: { perRun: 60_000, total: 300_000 } },
  twilio: { callLevels: [200], warmupMs: 5000, measureMs: 10_000, drainMs: 1500, connectRate: 500, repeats: 3, quietWait: { perRun: 60_000, total: 300_000 } },
  metrics: { levels: [100, 500], warmupMs: 5000, measureMs: 10_000, drainMs: 1500, connectRate: 500, repeats: 6, quietWait: { perRun: 60_000, total: 300_000 } },
  scale: { storeLevels: [200], idleSessions: 1000, resumeCallers: 200, resumeRuns: 3, warmupMs: 5000, measureMs: 10_000, drainMs: 1500, connectRate: 500, repeats: 3, quietWait: { perRun: 60_000, total: 300_000 } },
  memoryLevels: [1000, 5000],
};

const QUICK: Config = {
  inprocess: { events: 200_000, rounds: 5, builds: 500 },
  e2e: { levels: [100, 1000], audioOnlyLevels: [1000], warmupMs: 2000, measureMs: 5000, drainMs: 1000, connectRate: 500, acceptCount: 500, repeats: 1, quietWait: { perRun: 5000, total: 10_000 } },
  json: { levels: [], audioOnlyLevels: [], jsonOnlyLevels: [200, 1000], warmupMs: 2000, measureMs: 5000, drainMs: 1000, connectRate: 500, acceptCount: 0, repeats: 1, quietWait: { perRun: 5000, total: 10_000 } },
  twilio: { callLevels: [200], warmupMs: 2000, measureMs: 5000, drainMs: 1000, connectRate: 500, repeats: 1, quietWait: { perRun: 5000, total: 10_000 } },
  metrics: { levels: [100, 500], warmupMs: 2000, measureMs: 5000, drainMs: 1000, connectRate: 500, repeats: 4, quietWait: { perRun: 5000, total: 10_000 } },
  scale: { storeLevels: [200], idleSessions: 1000, resumeCallers: 200, resumeRuns: 1, warmupMs: 2000, measureMs: 5000, drainMs: 1000, connectRate: 500, repeats: 2, quietWait: { perRun: 5000, total: 10_000 } },
  memoryLevels: [1000],
};

/**
 * Targets the project is held to (see the issue and docs/benchmarks.md). Tail latency is held
 * as a ratio to bare `ws`'s p99 in the same run (an absolute p99 on a shared 2-core machine is
 * the machine's noise: the limit itself swings 6–67 ms): the audio-only level at
 * `p99AtSessions`, and the JSON-only levels.
 */
const TARGETS = { inprocessRatio: 1.5, cpuPerFrameRatio: 1.3, p99Ratio: 1.5, p99AtSessions: 1000, memoryRatio: 2, jsonCpuRatio: 1.2, jsonP99Ratio: 1.5, twilioCpuRatio: 1.3, metricsCpuRatio: 1.05, storeCpuRatio: 1.25, resumeP99Ms: 2000 };

const log = (line: string) => console.log(line);

async function inprocessSuite(cfg: Config['inprocess']) {
  const child = new Child('in-process bench', 'inprocess', [], ['--expose-gc'], SERVER_CPU);
  try {
    const run = (topology: ThroughputArgs['topology'], hooks: number) =>
      child.call<ThroughputResult>('throughput', { topology, hooks, events: cfg.events, rounds: cfg.rounds } satisfies ThroughputArgs);
    const throughput: ThroughputResult[] = [];
    for (const [topology, hooks] of [['chain', 0], ['diamond', 0], ['chain', 10], ['chain', 100]] as const) {
      const r = await run(topology, hooks);
      throughput.push(r);
      const ns = r.nsPerEvent;
      log(`  ${topology} ${hooks} hooks: rxcrew ${fmt(ns.rxcrew)} ns/event, bare RxJS ${fmt(ns.rxjs)}, plain ${fmt(ns.plain)}`);
    }
    const start = await child.call<StartCostResult>('startCost', { builds: cfg.builds, rounds: cfg.rounds });
    log(`  20-node graph: rxcrew ${fmt(start.rxcrewUs)} µs, bare RxJS ${fmt(start.rxjsUs)} µs`);
    const frames: ClientFramesResult[] = [];
    for (const kind of ['audio', 'json', 'json5'] as const) {
      const r = await child.call<ClientFramesResult>('clientFrames', { kind, sessions: 1000, frames: 20, rounds: cfg.rounds } satisfies ClientFramesArgs);
      frames.push(r);
      log(`  client ${kind} frames over 1,000 sessions: rxcrew ${fmt(r.rxcrewNs)} ns/frame, plain ${fmt(r.plainNs)}`);
    }
    const metricsFrames: MetricsFramesResult[] = [];
    for (const kind of ['audio', 'json'] as const) {
      const r = await child.call<MetricsFramesResult>('metricsFrames', { kind, sessions: 1000, frames: 20, rounds: cfg.rounds * 2 });
      metricsFrames.push(r);
      log(`  client ${kind} frames over 1,000 sessions, metrics on: ${fmt(r.onNs)} ns/frame, off ${fmt(r.offNs)}`);
    }
    return { throughput, start, frames, metricsFrames };
  } finally {
    await child.stop();
  }
}

type Inprocess = Awaited<ReturnType<typeof inprocessSuite>>;

function rows(inproc?: Inprocess, e2e?: E2eResult, json?: E2eResult, memory?: MemoryResult, twilio?: TwilioResult, metrics?: MetricsCostResult, scale?: ScaleResult): Row[] {
  const out: Row[] = [];
  for (const r of inproc?.throughput ?? []) {
    const name = r.hooks === 0 ? `graph ${r.topology === 'chain' ? '5-node chain' : 'diamond + join'}` : `hooks: ${r.hooks} onEvent (chain)`;
    out.push(costRow(name, 'ns/event', r.nsPerEvent.rxcrew, r.nsPerEvent.rxjs, 'bare RxJS', TARGETS.inprocessRatio));
    if (r.hooks === 0) out.push(costRow(name, 'ns/event', r.nsPerEvent.rxcrew, r.nsPerEvent.plain, 'plain functions'));
  }
  for (const level of [...(e2e?.levels ?? []), ...(json?.levels ?? [])]) {
    const { rxcrew: x, bare: b } = level;
    const noisy = [x, b].some((s) => s.otherCores !== undefined && s.otherCores >= NOISY_CORES) ? ' (noisy)' : '';
    const isJson = x.mix === 'json';
    const n = `e2e ${x.sessions} sessions${x.mix === 'mixed' ? '' : isJson ? ', JSON only (5 nodes + hook)' : ', audio only'}${noisy}`;
    out.push(costRow(`${n}: server CPU per ${isJson ? 'message' : 'frame'}`, 'µs', x.cpuUsPerFrame, b.cpuUsPerFrame, 'bare ws', isJson ? TARGETS.jsonCpuRatio : TARGETS.cpuPerFrameRatio));
    out.push(costRow(`${n}: RTT p50`, 'ms', x.rtt.p50Ms, b.rtt.p50Ms, 'bare ws'));
    // the audio target is worded for 1,000 sessions × 50 frames/s: the audio-only level (with JSON it is 60 frames/s)
    const p99Target = isJson ? TARGETS.jsonP99Ratio : x.sessions === TARGETS.p99AtSessions && x.mix === 'audio' ? TARGETS.p99Ratio : undefined;
    out.push(costRow(`${n}: RTT p99`, 'ms', x.rtt.p99Ms, b.rtt.p99Ms, 'bare ws', p99Target));
    out.push(costRow(`${n}: RTT p99.9`, 'ms', x.rtt.p999Ms, b.rtt.p999Ms, 'bare ws'));
    out.push(costRow(`${n}: event-loop delay p99`, 'ms', x.eldP99Ms, b.eldP99Ms, 'bare ws'));
    if (isJson) out.push(countRow(`${n}: messages received / sent`, x, b));
    else out.push(rateRow(`${n}: delivered / sent`, '', x.deliveredRatio, b.deliveredRatio, 'bare ws'));
    out.push(rateRow(`${n}: load achieved / asked`, '', x.achieved, b.achieved, 'bare ws'));
  }
  for (const { atoms: a, twilio: t } of twilio?.levels ?? []) {
    const n = `phone ${t.sessions} Twilio calls (echo)`;
    out.push(costRow(`${n}: server CPU per audio message`, 'µs', t.cpuUsPerFrame, a.cpuUsPerFrame, 'Atoms binary audio', TARGETS.twilioCpuRatio));
    out.push(rateRow(`${n}: audio back / sent`, '', t.deliveredRatio, a.deliveredRatio, 'Atoms binary audio'));
    out.push(rateRow(`${n}: load achieved / asked`, '', t.achieved, a.achieved, 'Atoms binary audio'));
  }
  for (const { on, off } of metrics?.levels ?? []) {
    const n = `e2e ${on.sessions} sessions, metrics on (scraped 1/s)`;
    out.push(costRow(`${n}: server CPU per frame`, 'µs', on.cpuUsPerFrame, off.cpuUsPerFrame, 'metrics off', TARGETS.metricsCpuRatio));
    out.push(costRow(`${n}: RTT p99`, 'ms', on.rtt.p99Ms, off.rtt.p99Ms, 'metrics off'));
    out.push(rateRow(`${n}: delivered / sent`, '', on.deliveredRatio, off.deliveredRatio, 'metrics off'));
  }
  for (const { on, off, redisCpuUsPerEvent } of scale?.store ?? []) {
    const n = `scale ${on.sessions} sessions, JSON only, store on (Redis)`;
    out.push(costRow(`${n}: server CPU per message`, 'µs', on.cpuUsPerFrame, off.cpuUsPerFrame, 'store off', TARGETS.storeCpuRatio));
    out.push(costRow(`${n}: server + Redis CPU per message`, 'µs', on.cpuUsPerFrame + redisCpuUsPerEvent, off.cpuUsPerFrame, 'store off'));
    out.push(costRow(`${n}: RTT p99`, 'ms', on.rtt.p99Ms, off.rtt.p99Ms, 'store off'));
    const row = rateRow(`${n}: messages received / sent`, '', on.deliveredRatio, off.deliveredRatio, 'store off');
    out.push({ ...row, note: `store on ${on.delivered}/${on.sent}, off ${off.delivered}/${off.sent}`, target: 'none dropped', pass: on.delivered === on.sent });
  }
  if (scale !== undefined) {
    const { resume: r, memory: m } = scale;
    const target = { baseline: TARGETS.resumeP99Ms, baselineName: 'the target' };
    out.push({ name: `scale kill -9 → ${r.sessions} sessions resumed elsewhere: p50`, unit: 'ms', rxcrew: r.p50Ms, ...target, ratio: r.p50Ms / TARGETS.resumeP99Ms });
    out.push({ name: `scale kill -9 → ${r.sessions} sessions resumed elsewhere: p99`, unit: 'ms', rxcrew: r.p99Ms, ...target, ratio: r.p99Ms / TARGETS.resumeP99Ms, target: `≤ ${TARGETS.resumeP99Ms / 1000} s`, pass: r.p99Ms <= TARGETS.resumeP99Ms });
    out.push({ name: `scale kill -9 → every interrupted answer whole`, unit: 'ms', rxcrew: r.lastAnswerMs, ...target, ratio: r.lastAnswerMs / TARGETS.resumeP99Ms });
    out.push(costRow(`scale ${m.sessions} idle sessions: Redis memory`, 'KiB/session', m.redisBytesPerSession / 1024, m.workerHeapBytesPerSession / 1024, "the worker's heap"));
  }
  for (const level of memory?.levels ?? []) {
    const { rxcrew: x, bare: b } = level;
    const n = `memory ${x.sessions} idle sessions (demo graph)`;
    out.push(costRow(`${n}: RSS`, 'KiB/session', x.rssPerSession / 1024, b.rssPerSession / 1024, 'bare ws', TARGETS.memoryRatio));
    // the target is held against RSS, what a session costs the process; the heap is the part V8 holds (shown, no target)
    out.push(costRow(`${n}: heap used`, 'KiB/session', x.heapPerSession / 1024, b.heapPerSession / 1024, 'bare ws'));
  }
  for (const r of inproc?.frames ?? []) {
    const what = r.kind === 'audio' ? 'audio frame' : r.kind === 'json' ? 'JSON event' : "JSON event, 5 nodes + '*' hook, stringified";
    out.push(costRow(`client ${what}, 1,000 sessions round-robin (no socket)`, 'ns', r.rxcrewNs, r.plainNs, r.kind === 'audio' ? 'plain: wrap and hand on' : 'plain: parse + stringify'));
  }
  for (const r of inproc?.metricsFrames ?? []) {
    out.push(costRow(`client ${r.kind === 'audio' ? 'audio frame' : 'JSON event'}, 1,000 sessions, metrics on (no socket)`, 'ns', r.onNs, r.offNs, 'metrics off', TARGETS.metricsCpuRatio));
  }
  if (inproc) out.push(costRow('start: build + validate + wire a 20-node graph', 'µs', inproc.start.rxcrewUs, inproc.start.rxjsUs, 'bare RxJS'));
  if (e2e?.accept) out.push(rateRow('start: sessions accepted per second', '/s', e2e.accept.rxcrew.perSec, e2e.accept.bare.perSec, 'bare ws'));
  return out;
}

/** Echoes received over messages sent in the windows, both servers; the target: nothing dropped by either. */
function countRow(name: string, x: LevelSummary, b: LevelSummary): Row {
  const row = rateRow(name, '', x.deliveredRatio, b.deliveredRatio, 'bare ws');
  return { ...row, note: `rxcrew ${x.delivered}/${x.sent}, bare ws ${b.delivered}/${b.sent}`, target: 'none dropped', pass: x.delivered === x.sent };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--profile')) return runProfiles(args.includes('--quick'), log, args.find((a) => a.startsWith('--only='))?.slice('--only='.length));
  const mode = args.includes('--quick') ? 'quick' : 'full';
  const cfg = mode === 'quick' ? QUICK : FULL;
  // --repeats=N: runs per server and level in the end-to-end suites (more runs, steadier ratios)
  const repeats = Number(args.find((a) => a.startsWith('--repeats='))?.slice('--repeats='.length) ?? NaN);
  if (Number.isInteger(repeats) && repeats > 0) cfg.e2e.repeats = cfg.json.repeats = cfg.twilio.repeats = cfg.metrics.repeats = cfg.scale.repeats = repeats;
  const m = machine();
  const began = Date.now();
  log(`rxcrew bench (${mode}) — ${m.cpu}, ${m.cores} cores, Node ${m.node}, commit ${m.commit}`);
  log(canPin() ? `servers and in-process runs pinned to core ${SERVER_CPU}, the load generator to core ${LOAD_CPU}` : 'processes not pinned to cores');
  // --only=inprocess|e2e|json|twilio|metrics|memory|scale runs one suite (for iterating on one number)
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const wanted = (suite: string) => only === undefined || only === suite;
  const loadAtStart = loadavg()[0]; // recorded only: right after `npm run build` it is never low
  const suite = async <T>(name: string, title: string, run: () => Promise<T>): Promise<T | undefined> => {
    if (!wanted(name)) return undefined;
    log(title);
    return run();
  };
  const inproc = await suite('inprocess', 'in-process graph, hooks, start cost:', async () => {
    await waitQuiet(cfg.e2e.quietWait, log);
    return inprocessSuite(cfg.inprocess);
  });
  const e2e = await suite('e2e', 'end to end over WebSocket (loopback):', () => runE2e(cfg.e2e, log));
  const json = await suite('json', "end to end, JSON only (5 pass-through nodes and a '*' hook, echoed):", () => runE2e(cfg.json, log));
  const twilio = await suite('twilio', 'phone calls (Twilio Media Streams) against the Atoms audio path, echo graph:', () => runTwilio(cfg.twilio, log));
  const metrics = await suite('metrics', 'end to end, Prometheus metrics on against off (one pass-through node):', () => runMetricsCost(cfg.metrics, log));
  const memory = await suite('memory', 'memory per idle session:', () => runMemory(cfg.memoryLevels, log));
  const scale = await suite('scale', 'scale-out on Redis: the store on against off (JSON only), Redis memory, resume after kill -9:', () => runScale(cfg.scale, log));
  const table = rows(inproc, e2e, json, memory, twilio, metrics, scale);
  log(`\n${formatTable(table)}\n`);
  const failed = table.filter((r) => r.pass === false).length;
  log(`${table.filter((r) => r.pass !== undefined).length - failed} targets pass, ${failed} fail; ${Math.round((Date.now() - began) / 1000)} s`);
  for (const r of table) if (r.note !== undefined) log(`${r.name}: ${r.note}`);
  const others = [...(e2e?.levels ?? []), ...(json?.levels ?? [])].flatMap((l) => [l.rxcrew.otherCores ?? 0, l.bare.otherCores ?? 0]);
  if (Math.max(0, ...others) >= NOISY_CORES) {
    log(`warning: the machine was busy elsewhere with up to ${Math.max(...others).toFixed(2)} cores during an end-to-end window; rerun on a quiet machine`);
  }
  const file = join(__dirname, '..', '..', 'results.json');
  writeFileSync(file, `${JSON.stringify({ mode, only, pinned: canPin(), loadAverageAtStart: loadAtStart, machine: m, config: cfg, targets: TARGETS, rows: table, raw: { inprocess: inproc, e2e, json, twilio, metrics, memory, scale } }, null, 2)}\n`);
  log(`raw numbers: ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
