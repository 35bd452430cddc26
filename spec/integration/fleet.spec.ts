import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CrewApp, redisStore } from '../../lib';
import { runTs, TsProcess } from '../cli/helpers';
import { Haproxy, startHaproxy } from '../support/haproxy';
import { freePort, RedisServer, startRedis } from '../support/redis-server';
import { ResumingCaller } from '../support/resuming-caller';
import { silentLogger, within } from './helpers';

/*
 * Three worker processes (spec/integration/fixtures/fleet-worker.ts) share a
 * real Redis behind a real haproxy, all on loopback. 200 callers converse
 * through the proxy; workers are killed (-9), drained one after another, and
 * Redis itself is restarted — and no call is cut: every caller keeps its
 * session id, its conversation and its answers.
 */

const CALLERS = 200;
const SECRET = 'fleet spec secret, long enough';
const PREFIX = 'rxcrew:'; // the default: the fixture's store comes from REDIS_URL
const FIXTURE = join('spec', 'integration', 'fixtures', 'fleet-worker.ts');
const REGISTER = './spec/support/register-rxcrew.js';

jest.setTimeout(120_000);

interface Worker {
  id: string;
  port: number;
  process: TsProcess;
}

describe('a fleet of three workers on Redis behind haproxy', () => {
  let redis: RedisServer;
  let proxy: Haproxy;
  let probe: Redis;
  const workers: Worker[] = [];
  let callers: ResumingCaller[] = [];
  /** Rounds each caller has completed: its next answer counts 2 × (rounds + 1) messages. */
  const rounds = new Map<ResumingCaller, number>();

  async function startWorker(id: string, port: number): Promise<Worker> {
    const env = { PORT: String(port), RXCREW_WORKER_ID: id, REDIS_URL: redis.url, RXCREW_SECRET: SECRET, DRAIN_TIMEOUT: '300', RXCREW_LOG_LEVEL: 'info' };
    const process = runTs(FIXTURE, [], { env, guardMs: false, require: [REGISTER] });
    await within(process.printed('rxcrew listening on', 'stderr'), `worker ${id} to listen`, 20_000);
    return { id, port, process };
  }

  /** One round for every caller: says `r<round>` and checks the answer (who answered is free; the count is not). */
  async function round(label: string, group = callers): Promise<Map<ResumingCaller, string>> {
    const answers = new Map<ResumingCaller, string>();
    await Promise.all(
      group.map(async (caller, i) => {
        const n = rounds.get(caller) ?? 0;
        const words = `c${i}-${label}`;
        const answer = await caller.ask(words);
        expect(answer).toMatch(new RegExp(`^\\[w[123]\\] ${2 * (n + 1)} messages; you said ${words}$`));
        rounds.set(caller, n + 1);
        answers.set(caller, answer);
      }),
    );
    return answers;
  }

  beforeAll(async () => {
    redis = await startRedis();
    probe = new Redis(redis.url, { lazyConnect: false });
    const ports = [await freePort(), await freePort(), await freePort()];
    workers.push(...(await Promise.all(ports.map((port, i) => startWorker(`w${i + 1}`, port)))));
    proxy = await startHaproxy(ports.map((port) => ({ host: '127.0.0.1', port })));
    callers = Array.from({ length: CALLERS }, () => new ResumingCaller(`ws://127.0.0.1:${proxy.port}/ws`));
    await within(Promise.all(callers.map((c) => c.connect())), 'every caller to connect', 30_000).catch(explain);
    await within(round('hello'), 'the first round', 30_000).catch(explain);
  });

  /** What the callers and workers were at when a wait ran out. */
  async function explain(err: Error): Promise<never> {
    const stuck = callers.filter((c) => c.sessionId === undefined || c.chunksReceived > 0 || c.partial !== '' || c.busy);
    const lines = await Promise.all(
      stuck.slice(0, 6).map(async (c) => {
        const stored = c.sessionId === undefined ? {} : await probe.hgetall(`${PREFIX}s:${c.sessionId}`);
        const log = c.sessionId === undefined ? [] : await probe.lrange(`${PREFIX}s:${c.sessionId}:log`, -4, -1);
        return `caller ${callers.indexOf(c)}: sessions ${c.sessionIds.length}x${c.sessionId} closes ${c.closes.join(',')} partial "${c.partial}" busy ${c.busy}\n  stored ${JSON.stringify(stored).slice(-600)}\n  log ${log.join(' ')}`;
      }),
    );
    const logs = workers.map((w) => `${w.id}: ${w.process.stderr().slice(-1500)}`);
    throw new Error(`${err.message}\n${stuck.length} callers not done:\n${lines.join('\n')}\n${logs.join('\n')}`);
  }

  afterAll(async () => {
    for (const c of callers) c.terminate();
    for (const w of workers) w.process.child.kill('SIGKILL');
    await proxy?.stop();
    probe?.disconnect();
    await redis?.stop();
  });

  afterEach(() => {
    for (const c of callers) expect(c.failure).toBeUndefined();
  });

  it('kill -9 of one worker: its sessions resume on the others, mid-answer, with every accepted event', async () => {
    const asked = callers.map((c, i) => c.ask(`c${i}-killed`));
    // every answer has begun (its first piece names the worker): each request was accepted well before
    await within(waitUntil(() => callers.every((c) => c.chunksReceived >= 1)), 'every answer to begin', 20_000);
    const victims = callers.filter((c) => c.partial.startsWith('[w1]'));
    expect(victims.length).toBeGreaterThan(CALLERS / 6);
    const before = new Map(victims.map((c) => [c, c.readyAt.length]));
    const killedAt = performance.now();
    workers[0].process.child.kill('SIGKILL');
    const answers = await Promise.all(asked);
    callers.forEach((c, i) => {
      const n = rounds.get(c)!;
      expect(answers[i]).toMatch(new RegExp(`^\\[w[123]\\] ${2 * (n + 1)} messages; you said c${i}-killed$`));
      rounds.set(c, n + 1);
    });
    for (const v of victims) {
      expect(answers[callers.indexOf(v)]).toMatch(/^\[w[23]\]/); // answered again by a live worker
      expect(v.readyAt.length).toBe(before.get(v)! + 1);
    }
    for (const c of callers) expect(new Set(c.sessionIds).size).toBe(1); // never a new session
    const resumeMs = victims.map((v) => v.readyAt.at(-1)! - killedAt).sort((a, b) => a - b);
    console.log(`fleet: ${victims.length} sessions resumed after kill -9; p50 ${resumeMs[Math.floor(resumeMs.length / 2)].toFixed(0)} ms, max ${resumeMs.at(-1)!.toFixed(0)} ms`);
    // the store's log holds every client event the session accepted, in order, across both workers
    for (const v of victims.slice(0, 5)) {
      const log = (await probe.lrange(`${PREFIX}s:${v.sessionId}:log`, 0, -1)).map((s) => JSON.parse(s) as { type: string; content?: string });
      const i = callers.indexOf(v);
      expect(log.filter((e) => e.type === 'agent.transcript.update').map((e) => e.content)).toEqual([`c${i}-hello`, `c${i}-killed`]);
      expect(log.filter((e) => e.type === 'system.llm.request')).toHaveLength(2);
    }
    await round('after-kill');
    workers[0] = await startWorker('w1', workers[0].port);
  });

  it('fleet: lists every session across workers and reaches one on another worker', async () => {
    const supervisor = new CrewApp({ setup: () => undefined, port: 0, host: '127.0.0.1', logger: silentLogger, workerId: 'supervisor', secret: SECRET, store: redisStore({ url: redis.url, keyPrefix: PREFIX }) });
    await supervisor.listen();
    try {
      const listed = await supervisor.fleet.sessions();
      expect(listed.map((s) => s.id).sort()).toEqual(callers.map((c) => c.sessionId).sort());
      expect(new Set(listed.map((s) => s.worker)).size).toBeGreaterThanOrEqual(2);
      const target = callers[7];
      const whisper = new Promise<Record<string, unknown>>((resolve) => (target.onEvent = (e) => e.type === 'agent.speak' && resolve(e)));
      expect(await supervisor.fleet.send(target.sessionId!, { type: 'agent.speak', text: 'the supervisor speaks' })).toBe(true);
      expect(await within(whisper, 'the whisper')).toMatchObject({ text: 'the supervisor speaks' });
      // an injected request is answered by the agent on the target's worker
      const answered = new Promise<Record<string, unknown>>((resolve) => (target.onEvent = (e) => e.type === 'agent.llm.response.start' && resolve(e)));
      expect(await supervisor.fleet.inject(target.sessionId!, { type: 'system.llm.request', request_id: 'from-supervisor', messages: [] })).toBe(true);
      expect(await within(answered, 'the injected request to be answered')).toMatchObject({ request_id: 'from-supervisor' });
      target.onEvent = undefined;
      expect(await supervisor.fleet.send('no-such-session', { type: 'agent.speak', text: 'x' })).toBe(false);
    } finally {
      await supervisor.close();
    }
  });

  it('a rolling restart of all three workers under load cuts no call', async () => {
    // callers[7]'s conversation was replaced by the injected request: keep it out of the counts
    const group = callers.filter((_, i) => i !== 7);
    let going = true;
    const load = Promise.all(
      group.map(async (caller) => {
        const i = callers.indexOf(caller);
        for (let k = 0; going; k++) {
          const n = rounds.get(caller)!;
          const words = `c${i}-rolling-${k}`;
          expect(await caller.ask(words)).toMatch(new RegExp(`^\\[w[123]\\] ${2 * (n + 1)} messages; you said ${words}$`));
          rounds.set(caller, n + 1);
        }
      }),
    );
    for (let w = 0; w < workers.length; w++) {
      const { id, port, process } = workers[w];
      process.child.kill('SIGTERM');
      const exit = await within(process.exited, `${id} to drain and exit`, 20_000);
      expect({ code: exit.code, stderr: exit.code === 0 ? '' : exit.stderr.slice(-2000) }).toEqual({ code: 0, stderr: '' });
      workers[w] = await startWorker(id, port);
    }
    going = false;
    await within(load, 'the load to finish its questions', 30_000).catch(explain);
    for (const c of group) expect(new Set(c.sessionIds).size).toBe(1);
    const drained = group.filter((c) => c.closes.includes(1012));
    expect(drained.length).toBeGreaterThan(0); // drains did close calls, which resumed
  });

  it('Redis restarted mid-call: calls go on, and a worker killed afterwards still loses nothing', async () => {
    const group = callers.filter((_, i) => i !== 7);
    const asked = round('redis-down', group);
    await redis.restart(); // empty: it kept nothing
    await asked;
    // the workers write their sessions again once reconnected
    await within(waitUntil(async () => (await probe.exists(...group.map((c) => `${PREFIX}s:${c.sessionId}`))) === group.length), 'every session to be written again', 20_000);
    // each worker saw the loss, counted it and said so
    for (const w of workers) {
      const text = await (await fetch(`http://127.0.0.1:${w.port}/metrics`)).text();
      expect(Number(/^rxcrew_store_reconnects_total (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1);
      expect(w.process.stderr()).toContain('session store reconnected; writing every live session again');
    }
    const asked2 = group.map((c) => c.ask(`c${callers.indexOf(c)}-after-redis`));
    await within(waitUntil(() => group.every((c) => c.chunksReceived >= 1)), 'every answer to begin', 20_000);
    const victim = workers.findIndex((w) => group.some((c) => c.partial.startsWith(`[${w.id}]`)));
    workers[victim].process.child.kill('SIGKILL');
    const answers = await Promise.all(asked2);
    group.forEach((c, j) => {
      const n = rounds.get(c)!;
      expect(answers[j]).toMatch(new RegExp(`^\\[w[123]\\] ${2 * (n + 1)} messages; you said c${callers.indexOf(c)}-after-redis$`));
      rounds.set(c, n + 1);
    });
    for (const c of group) expect(new Set(c.sessionIds).size).toBe(1);
  });
});

async function waitUntil(test: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await test())) await new Promise((r) => setTimeout(r, 20));
}
