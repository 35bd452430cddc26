import { Redis } from 'ioredis';
import { CrewEvent, CrewSession, redisStore } from '../../lib';
import type { RedisStore } from '../../lib/scale/redis-store';
import { signResumeToken } from '../../lib/scale/token';
import { startRedis, RedisServer } from '../support/redis-server';
import { CrewClient, deferred, Harness, init, RunningApp, say, silentLogger, within } from './helpers';
import { Counter } from '../support/counter-agent';

/*
 * Two apps in this process share one real Redis (Debian's redis-server on a
 * free loopback port): a client that loses its connection to one comes back
 * on the other with its resume token and finds its session as it was.
 */

const SECRET = 'a test secret of enough length';

describe('resuming a session from the Redis store', () => {
  let redis: RedisServer;
  const h = new Harness();
  const stores: RedisStore[] = [];
  const setups: CrewSession[] = [];
  const resumedEvents: CrewEvent[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  afterEach(async () => {
    await h.cleanup();
    stores.length = 0;
    setups.length = 0;
    resumedEvents.length = 0;
    Counter.hold.clear();
  });

  async function worker(workerId: string, options: { keepClosed?: boolean } = {}, drainTimeout = 0): Promise<RunningApp> {
    const store = redisStore({ url: redis.url, keyPrefix: `t${process.pid}:`, ...options });
    stores.push(store);
    return h.start({
      logger: silentLogger,
      workerId,
      secret: SECRET,
      store,
      drainTimeout,
      setup: async (session) => {
        setups.push(session);
        await session.waitForInit(200);
        session.onEvent('system.session.resumed', (_s, e) => void resumedEvents.push(e));
        session.addNode(new Counter());
        await session.start();
      },
    });
  }

  async function ask(client: CrewClient, words: string): Promise<string> {
    client.send(say(words));
    client.send({ type: 'system.llm.request', request_id: words });
    await client.next((e) => e.type === 'agent.llm.response.start' && e.request_id === words);
    let text = '';
    for (;;) {
      const e = await client.next((x) => x.type === 'agent.llm.response.chunk' || x.type === 'agent.llm.response.end');
      if (e.type === 'agent.llm.response.end') return text;
      text += String(e.text);
    }
  }

  it('comes back on another worker with the same id, context and conversation; setup sees resumed; no second greeting', async () => {
    const a = await worker('a');
    const b = await worker('b');
    const first = await a.connect();
    first.send(init({ name: 'Ada' }));
    const ready = await first.next('agent.ready');
    expect(typeof ready.resume_token).toBe('string');
    await first.next((e) => e.type === 'agent.speak' && e.text === 'hello');
    expect(await ask(first, 'one')).toBe('3 messages; you said one'); // system, greeting, one
    first.terminate(); // the connection is lost without a close

    const second = await b.connect(`/ws?resume=${encodeURIComponent(String(ready.resume_token))}`);
    const again = await second.next('agent.ready');
    expect(again.session_id).toBe(ready.session_id);
    expect(typeof again.resume_token).toBe('string');
    const resumed = setups.at(-1)!;
    expect(resumed.resumed).toBe(true);
    expect(resumed.id).toBe(ready.session_id);
    expect(resumed.context.get('name')).toBe('Ada');
    expect(setups[0].resumed).toBe(false);
    // the conversation came back: system, greeting, one, its reply, two
    expect(await ask(second, 'two')).toBe('5 messages; you said two');
    await within(waitFor(() => resumedEvents.length === 1), 'system.session.resumed on the hooks');
    expect(resumedEvents[0]).toMatchObject({ type: 'system.session.resumed', session_id: ready.session_id });
    expect(second.types).not.toContain('agent.speak'); // the greeting was heard once

    // the store logged what the session accepted from the client, in order, across both connections
    const log = (await stores[1].eventLog(String(ready.session_id))) as CrewEvent[];
    expect(log.map((e) => (e.type === 'agent.transcript.update' ? `say ${e.content}` : e.type))).toEqual([
      'system.init',
      'say one',
      'system.llm.request',
      'say two',
      'system.llm.request',
    ]);
  });

  it('answers again a turn that was in flight when its worker went down', async () => {
    const a = await worker('a');
    const b = await worker('b');
    const first = await a.connect();
    const ready = await first.next('agent.ready');
    const never = deferred();
    Counter.hold.set('slow', never.promise);
    first.send(say('slow'));
    first.send({ type: 'system.llm.request', request_id: 'slow' });
    await first.next('agent.llm.response.chunk'); // the turn has begun
    await a.app.close(); // the worker goes; the turn never ends there
    Counter.hold.clear();

    const second = await b.connect(`/ws?resume=${encodeURIComponent(String(ready.resume_token))}`);
    await second.next('agent.ready');
    const start = await second.next('agent.llm.response.start');
    expect(start.request_id).toBe('slow');
    const chunks: string[] = [];
    for (;;) {
      const e = await second.next((x) => x.type === 'agent.llm.response.chunk' || x.type === 'agent.llm.response.end');
      if (e.type === 'agent.llm.response.end') break;
      chunks.push(String(e.text));
    }
    // answered from the restored conversation: system, greeting, slow
    expect(chunks.join('')).toBe('3 messages; you said slow');
    never.resolve();
  });

  it('a drain hands the session over: what the client sent after the close went out is answered by the next holder', async () => {
    const a = await worker('a');
    const b = await worker('b');
    const first = await a.connect();
    const ready = await first.next('agent.ready');
    expect(await ask(first, 'one')).toBe('3 messages; you said one');
    // the client speaks as the drain's close frame reaches it, before its ws has read it (0x88: a close frame's first byte)
    const tcp = (first.socket as unknown as { _socket: import('node:net').Socket })._socket;
    let spoke = false;
    tcp.prependListener('data', (chunk: Buffer) => {
      if (spoke || chunk.indexOf(0x88) < 0) return;
      spoke = true;
      first.send(say('late'));
      first.send({ type: 'system.llm.request', request_id: 'late' });
    });
    await within(a.app.drain(), 'the drain', 5000);
    expect(spoke).toBe(true);
    expect((await within(first.closed, 'the close')).code).toBe(1012);
    // (the drained worker's store has closed: the other reads the log)
    const log = (await stores[1].eventLog(String(ready.session_id))) as CrewEvent[];
    expect(log.filter((e) => e.type === 'agent.transcript.update').map((e) => e.content)).toEqual(['one', 'late']);

    const second = await b.connect(`/ws?resume=${encodeURIComponent(String(ready.resume_token))}`);
    expect((await second.next('agent.ready')).session_id).toBe(ready.session_id);
    const start = await second.next('agent.llm.response.start');
    expect(start.request_id).toBe('late');
    let text = '';
    for (;;) {
      const e = await second.next((x) => x.type === 'agent.llm.response.chunk' || x.type === 'agent.llm.response.end');
      if (e.type === 'agent.llm.response.end') break;
      text += String(e.text);
    }
    // system, greeting, one, its reply, late: given to the new holder's graph once, and logged once
    expect(text).toBe('5 messages; you said late');
    const after = (await stores[1].eventLog(String(ready.session_id))) as CrewEvent[];
    expect(after.filter((e) => e.type === 'agent.transcript.update').map((e) => e.content)).toEqual(['one', 'late']);
  });

  it('counts resumes and refusals, and the store\'s failures, on /metrics', async () => {
    const a = await worker('a');
    const first = await a.connect();
    const ready = await first.next('agent.ready');
    first.terminate();
    const second = await a.connect(`/ws?resume=${encodeURIComponent(String(ready.resume_token))}`);
    expect((await second.next('agent.ready')).session_id).toBe(ready.session_id);
    const third = await a.connect('/ws?resume=nonsense');
    await third.next('agent.error');
    const text = await (await within(fetch(`${a.http}/metrics`), 'GET /metrics')).text();
    expect(text).toContain('rxcrew_session_resumes_total{outcome="resumed"} 1');
    expect(text).toContain('rxcrew_session_resumes_total{outcome="refused"} 1');
    for (const name of ['rxcrew_store_failed_writes_total', 'rxcrew_store_unserialisable_total', 'rxcrew_store_reconnects_total']) {
      expect(text).toMatch(new RegExp(`^${name} 0$`, 'm'));
    }
  });

  it('sends a resume elsewhere (1012) when its worker began to drain while it looked the session up', async () => {
    const a = await worker('a');
    const b = await worker('b');
    const first = await a.connect();
    first.send(init());
    const ready = await first.next('agent.ready');
    first.terminate();
    await within(setups[0].waitUntilComplete(), 'the first session to end');
    const token = encodeURIComponent(String(ready.resume_token));
    const probe = new Redis(redis.url);
    try {
      // Redis holds every command for 300 ms: b's look-up of the session waits, and b drains meanwhile
      await probe.call('CLIENT', 'PAUSE', '300', 'ALL');
      const second = await b.connect(`/ws?resume=${token}`);
      const drained = b.app.drain();
      expect((await within(second.closed, 'the resuming connection to close')).code).toBe(1012);
      expect(second.events.map((e) => e.type)).not.toContain('agent.ready'); // no session was opened there
      await within(drained, 'b to finish draining');
    } finally {
      probe.disconnect();
    }
    const third = await a.connect(`/ws?resume=${token}`);
    expect((await third.next('agent.ready')).session_id).toBe(ready.session_id);
  });

  it('takes the token from system.init too', async () => {
    const a = await worker('a');
    const first = await a.connect();
    const ready = await first.next('agent.ready');
    first.terminate();
    const second = await a.connect();
    second.send({ ...init(), resume_token: ready.resume_token });
    const again = await second.next('agent.ready');
    expect(again.session_id).toBe(ready.session_id);
    expect(setups.at(-1)!.resumed).toBe(true);
  });

  it.each([
    ['a made-up token', () => 'nonsense', 'the token is not valid'],
    ['a token signed with another secret', (id: string) => signResumeToken('another secret of enough length', id), 'the token is not valid'],
    ['a tampered token', (id: string) => signResumeToken(SECRET, id).replace(/^./, (c) => (c === 'e' ? 'f' : 'e')), 'the token is not valid'],
    ['a token for a session that never was', () => signResumeToken(SECRET, 'no-such-session'), 'the session has ended or expired'],
  ])('refuses %s with CREW_ERR_RESUME_REFUSED and gives a fresh session', async (_what, token, reason) => {
    const a = await worker('a');
    const owner = await a.connect();
    const theirs = await owner.next('agent.ready');
    const intruder = await a.connect(`/ws?resume=${encodeURIComponent(token(String(theirs.session_id)))}`);
    const ready = await intruder.next('agent.ready');
    expect(ready.session_id).not.toBe(theirs.session_id);
    const error = await intruder.next('agent.error');
    expect(error).toMatchObject({ severity: 'warning', payload: { code: 'CREW_ERR_RESUME_REFUSED', reason } });
    expect(setups.at(-1)!.resumed).toBe(false);
  });

  it('removes a call that ended normally (1000); a later resume is refused', async () => {
    const a = await worker('a');
    const first = await a.connect();
    const ready = await first.next('agent.ready');
    await ask(first, 'bye');
    const id = String(ready.session_id);
    await first.close(1000);
    await within(setups[0].waitUntilComplete(), 'the session to end');
    await within(waitFor(async () => (await stores[0].load(id, 1000)) === undefined), 'its keys to go');
    const again = await a.connect(`/ws?resume=${encodeURIComponent(String(ready.resume_token))}`);
    expect((await again.next('agent.error')).payload).toMatchObject({ code: 'CREW_ERR_RESUME_REFUSED', reason: 'the session has ended or expired' });
  });

  it('keeps a normally ended call for audit with keepClosed', async () => {
    const a = await worker('a', { keepClosed: true });
    const first = await a.connect();
    const ready = await first.next('agent.ready');
    await ask(first, 'kept');
    await first.close(1000);
    await within(setups[0].waitUntilComplete(), 'the session to end');
    const stored = await stores[0].load(String(ready.session_id), 1000);
    expect(stored?.conversations.agent).toMatchObject({ messages: expect.arrayContaining([{ role: 'user', content: 'kept' }]) });
  });

  it('fleet: lists the sessions of both workers and reaches one on the other worker', async () => {
    const a = await worker('a');
    const b = await worker('b');
    const onA = await a.connect();
    const readyA = await onA.next('agent.ready');
    const onB = await b.connect();
    const readyB = await onB.next('agent.ready');
    const listed = await a.app.fleet.sessions();
    expect(listed.map((s) => [s.id, s.worker]).sort()).toEqual(
      [
        [readyA.session_id, 'a'],
        [readyB.session_id, 'b'],
      ].sort(),
    );
    // a supervisor on worker a whispers into the call on worker b
    const sessionB = setups.find((s) => s.id === readyB.session_id)!;
    const injected = deferred<CrewEvent>();
    sessionB.onEvent('agent.transcript.update', (_s, e) => injected.resolve(e));
    expect(await a.app.fleet.inject(String(readyB.session_id), say('from the supervisor'))).toBe(true);
    expect(await within(injected.promise, 'the injected event on b')).toMatchObject({ content: 'from the supervisor' });
    expect(await a.app.fleet.send(String(readyB.session_id), { type: 'agent.speak', text: 'whisper' })).toBe(true);
    expect(await onB.next((e) => e.type === 'agent.speak' && e.text === 'whisper')).toMatchObject({ text: 'whisper' });
    expect(await a.app.fleet.inject('no-such-session', say('x'))).toBe(false);
    await expect(a.app.fleet.inject('', say('x'))).rejects.toMatchObject({ code: 'CREW_ERR_INVALID_ARGUMENT' });
  });
});

async function waitFor(test: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await test())) await new Promise((r) => setTimeout(r, 10));
}
