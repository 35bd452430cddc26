import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type * as ReconnectModule from '../dist/lib/cli/reconnect';
import { startHaproxy } from '../spec/support/haproxy';
import { freePort, RedisServer, startRedis } from '../spec/support/redis-server';
import { ResumingCaller } from '../spec/support/resuming-caller';
import { E2eConfig, LevelResult, LevelSummary, runLevel, summarise, waitQuiet } from './e2e';
import { canPin, Child, LOAD_CPU, SERVER_CPU } from './ipc';

/*
 * Scale-out: what the session store costs, and what it buys.
 * - Store cost: the JSON rows' server (5 pass-through nodes and a `'*'` hook)
 *   with a `redisStore` on a Debian redis-server (pinned to the load
 *   generator's core), its sessions recorded (every accepted event logged) or
 *   not, alternated (on, off, off, on, …) in one process, as the metrics rows
 *   are. Redis's own CPU per event is read from `INFO cpu` over each run.
 * - Redis memory per idle session: `INFO memory` before and after K idle
 *   sessions connect to that server (store on).
 * - Resume after kill -9: three worker processes (the fleet spec's worker,
 *   built) behind Debian's haproxy on one redis-server; N callers connect
 *   while only the first worker runs (so that all N are its), converse once,
 *   the other two start, every caller asks again, and when every answer has
 *   begun the first worker is killed (SIGKILL). Each caller reconnects with
 *   its token as `rxcrew chat` does (lib/cli/reconnect.ts: 50–100 ms after a
 *   cut, then doubling); the time from the kill to its `agent.ready` on
 *   another worker, with the same session id, is the figure. Every answer
 *   must then come whole from the restored conversation.
 */

export interface ScaleConfig extends Omit<E2eConfig, 'levels' | 'audioOnlyLevels' | 'jsonOnlyLevels' | 'acceptCount'> {
  /** JSON-only session counts, store on against off. */
  storeLevels: number[];
  /** Idle sessions for Redis's memory per session. */
  idleSessions: number;
  /** Callers on the worker that is killed. */
  resumeCallers: number;
  /** Kills, each on a fresh fleet. */
  resumeRuns: number;
}

export const STORE_SETTINGS = ['on', 'off'] as const;
export type StoreSetting = (typeof STORE_SETTINGS)[number];

export interface StoreLevel extends Record<StoreSetting, LevelSummary> {
  /** Redis's CPU (user + system) over the client events the server handled, in the runs with the store on (µs). */
  redisCpuUsPerEvent: number;
}

export interface ResumeResult {
  /** Sessions of the killed worker, over all runs. */
  sessions: number;
  /** ms from the kill to each resumed session's `agent.ready`. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** ms from the kill to the last interrupted answer's end (answered again, whole). */
  lastAnswerMs: number;
  /** Per run: the slowest resume (ms). */
  runs: Array<{ sessions: number; p50Ms: number; p99Ms: number; maxMs: number; lastAnswerMs: number }>;
}

export interface ScaleResult {
  store: StoreLevel[];
  memory: { sessions: number; redisBytesPerSession: number; workerHeapBytesPerSession: number; keysPerSession: number };
  resume: ResumeResult;
}

const SECRET = 'the bench secret, long enough';
const WORKER = join(__dirname, '..', 'spec', 'integration', 'fixtures', 'fleet-worker.js');
const { reconnectDelay } = require(join(__dirname, '../../../dist/lib/cli/reconnect.js')) as typeof ReconnectModule;

export async function runScale(cfg: ScaleConfig, log: (line: string) => void): Promise<ScaleResult> {
  const { store, memory } = await storeSuite(cfg, log);
  const runs: ResumeRun[] = [];
  for (let i = 0; i < cfg.resumeRuns; i++) {
    await waitQuiet(cfg.quietWait, log);
    const run = await resumeRun(cfg.resumeCallers);
    runs.push(run);
    log(
      `  kill -9 (run ${i + 1}): ${run.times.length} sessions resumed on the other workers; p50 ${percentile(run.times, 50).toFixed(0)} ms, ` +
        `p99 ${percentile(run.times, 99).toFixed(0)} ms, max ${Math.max(...run.times).toFixed(0)} ms; every answer whole after ${run.lastAnswerMs.toFixed(0)} ms`,
    );
  }
  const times = runs.flatMap((r) => r.times);
  const resume: ResumeResult = {
    sessions: times.length,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: Math.max(...times),
    lastAnswerMs: Math.max(...runs.map((r) => r.lastAnswerMs)),
    runs: runs.map((r) => ({ sessions: r.times.length, p50Ms: percentile(r.times, 50), p99Ms: percentile(r.times, 99), maxMs: Math.max(...r.times), lastAnswerMs: r.lastAnswerMs })),
  };
  return { store, memory, resume };
}

async function storeSuite(cfg: ScaleConfig, log: (line: string) => void): Promise<Pick<ScaleResult, 'store' | 'memory'>> {
  const redis = await startRedis({ cpu: canPin() ? LOAD_CPU : undefined });
  const probe = new Redis(redis.url);
  const server = new Child('rxcrew server (json5, store toggled)', 'server', ['rxcrew', 'json5', 'no-metrics', redis.url], ['--expose-gc'], SERVER_CPU);
  const load = new Child('load generator', 'loadgen', [], [], LOAD_CPU);
  const e2e: E2eConfig = { ...cfg, levels: [], audioOnlyLevels: [], acceptCount: 0 };
  try {
    const { port } = await server.call<{ port: number }>('info');
    const store: StoreLevel[] = [];
    for (const sessions of cfg.storeLevels) {
      const runs: Record<StoreSetting, LevelResult[]> = { on: [], off: [] };
      let redisUs = 0;
      let eventsOn = 0;
      for (let i = 0; i < cfg.repeats; i++) {
        for (const setting of i % 2 === 0 ? STORE_SETTINGS : [...STORE_SETTINGS].reverse()) {
          await waitQuiet(cfg.quietWait, log);
          await server.call('setStore', { on: setting === 'on' });
          const before = { redis: await redisCpuUs(probe), frames: await server.call<number>('frames') };
          const r = await runLevel(e2e, sessions, 'json', server, load, port);
          if (setting === 'on') {
            redisUs += (await redisCpuUs(probe)) - before.redis;
            eventsOn += (await server.call<number>('frames')) - before.frames;
          }
          runs[setting].push(r);
          log(
            `  ${sessions} sessions (JSON only), store ${setting}: ${r.cpuUsPerFrame.toFixed(1)} µs/message, p99 ${r.load.rtt.p99Ms.toFixed(2)} ms, ` +
              `sent ${Math.round(r.sentPerSec)}/${r.targetPerSec} messages/s, delivered ${(r.deliveredRatio * 100).toFixed(2)}%` +
              (r.otherCores === undefined ? '' : `, machine busy elsewhere ${r.otherCores.toFixed(2)} cores`),
          );
        }
      }
      store.push({ on: summarise(runs.on), off: summarise(runs.off), redisCpuUsPerEvent: redisUs / eventsOn });
      log(`  Redis: ${(redisUs / eventsOn).toFixed(1)} µs of its CPU per event logged`);
    }
    const memory = await idleMemory(cfg.idleSessions, server, load, port, probe);
    log(
      `  ${memory.sessions} idle sessions recorded: Redis ${(memory.redisBytesPerSession / 1024).toFixed(2)} KiB/session (${memory.keysPerSession.toFixed(1)} keys), ` +
        `the worker's heap ${(memory.workerHeapBytesPerSession / 1024).toFixed(1)} KiB/session`,
    );
    return { store, memory };
  } finally {
    await Promise.all([server.stop(), load.stop()]);
    probe.disconnect();
    await redis.stop();
  }
}

/** Redis's `INFO memory` and the worker's heap before and after `count` idle recorded sessions connect. */
async function idleMemory(count: number, server: Child, load: Child, port: number, probe: Redis): Promise<ScaleResult['memory']> {
  await server.call('setStore', { on: true });
  await untilSettled(probe); // the last level's records are removed after their calls' ends
  const keysBefore = await probe.dbsize();
  const redisBefore = await usedMemory(probe);
  const heapBefore = (await server.call<{ heapUsed: number }>('memory')).heapUsed;
  const connected = await load.call<{ failed: number; firstError?: string }>('connect', { port, path: '/ws', count, rate: 1000, maxInFlight: 200 });
  if (connected.failed > 0) throw new Error(`${connected.failed} idle connections failed: ${connected.firstError}`);
  await untilSettled(probe);
  const keys = (await probe.dbsize()) - keysBefore;
  const redisBytes = (await usedMemory(probe)) - redisBefore;
  const heapBytes = (await server.call<{ heapUsed: number }>('memory')).heapUsed - heapBefore;
  await load.call('closeAll');
  await server.call('waitSessions', { count: 0, timeoutMs: 15_000 });
  return { sessions: count, redisBytesPerSession: redisBytes / count, workerHeapBytesPerSession: heapBytes / count, keysPerSession: keys / count };
}

/** Waits until Redis's key count has not changed for half a second (the workers' pipelined writes are in). */
async function untilSettled(probe: Redis): Promise<void> {
  let last = -1;
  for (let stable = 0; stable < 5; ) {
    await sleep(100);
    const keys = await probe.dbsize();
    stable = keys === last ? stable + 1 : 0;
    last = keys;
  }
}

async function usedMemory(probe: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await probe.info('memory'))![1]);
}

async function redisCpuUs(probe: Redis): Promise<number> {
  const info = await probe.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)![1]);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

interface ResumeRun {
  /** ms from the kill to each of the killed worker's sessions' `agent.ready` elsewhere. */
  times: number[];
  lastAnswerMs: number;
}

interface Worker {
  kill(signal: NodeJS.Signals): void;
  exited: Promise<void>;
}

function startWorker(id: string, port: number, redisUrl: string): Promise<Worker> {
  const env = { ...process.env, PORT: String(port), RXCREW_WORKER_ID: id, REDIS_URL: redisUrl, RXCREW_SECRET: SECRET, RXCREW_LOG_LEVEL: 'info', DRAIN_TIMEOUT: '300' };
  const child = spawn(process.execPath, [WORKER], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (err.length < 10_000) err += d;
      if (err.includes('rxcrew listening on')) resolve({ kill: (signal) => child.kill(signal), exited });
    });
    void exited.then(() => reject(new Error(`worker ${id} exited before listening: ${err}`)));
  });
}

async function resumeRun(count: number): Promise<ResumeRun> {
  const redis: RedisServer = await startRedis();
  const ports = [await freePort(), await freePort(), await freePort()];
  const workers: Worker[] = [];
  const callers: ResumingCaller[] = [];
  let proxy: Awaited<ReturnType<typeof startHaproxy>> | undefined;
  try {
    workers.push(await startWorker('w1', ports[0], redis.url));
    proxy = await startHaproxy(ports.map((port) => ({ host: '127.0.0.1', port })));
    await sleep(500); // w2 and w3 refuse: haproxy's checks (every 100 ms, fall 1) take them out
    const url = `ws://127.0.0.1:${proxy.port}/ws`;
    callers.push(...Array.from({ length: count }, () => new ResumingCaller(url, 50, (attempt, code) => reconnectDelay(attempt, code))));
    await Promise.all(callers.map((c) => c.connect()));
    const first = await Promise.all(callers.map((c, i) => c.ask(`c${i}-r1`)));
    const elsewhere = first.filter((a) => !a.startsWith('[w1] ')).length;
    if (elsewhere > 0) throw new Error(`${elsewhere} of ${count} callers were not on w1: ${first.find((a) => !a.startsWith('[w1] '))}`);
    workers.push(...(await Promise.all([startWorker('w2', ports[1], redis.url), startWorker('w3', ports[2], redis.url)])));
    await sleep(1000); // haproxy's checks bring them in
    // every caller asks again; when every answer has begun, w1 dies
    const answered: number[] = [];
    let killedAt = 0;
    const answers = callers.map((c, i) =>
      c.ask(`c${i}-r2`).then((text) => {
        answered.push(performance.now() - killedAt);
        return text;
      }),
    );
    for (const deadline = Date.now() + 10_000; callers.some((c) => c.chunksReceived === 0); await sleep(5)) {
      if (Date.now() > deadline) throw new Error('the answers did not begin within 10 s');
    }
    killedAt = performance.now();
    workers[0].kill('SIGKILL');
    const texts = await withTimeout(Promise.all(answers), 30_000, 'every answer after the kill');
    const wrong = texts.findIndex((t, i) => !new RegExp(`^\\[w[23]\\] 4 messages; you said c${i}-r2$`).test(t));
    if (wrong >= 0) throw new Error(`caller ${wrong} was answered "${texts[wrong]}"`);
    const times = callers.map((c, i) => {
      if (c.sessionIds.length !== 2 || c.sessionIds[1] !== c.sessionIds[0]) throw new Error(`caller ${i} was given sessions ${c.sessionIds.join(', ')}`);
      return c.readyAt[1] - killedAt;
    });
    return { times, lastAnswerMs: Math.max(...answered) };
  } finally {
    for (const c of callers) c.terminate();
    for (const w of workers) w.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await proxy?.stop();
    await redis.stop();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
