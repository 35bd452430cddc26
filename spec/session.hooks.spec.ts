import { delay, filter, map, Subject, tap } from 'rxjs';
import { CrewEvent, CrewSession, ErrorCodes, node } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';

const quiet = () => ({ error: jest.fn(), warn: jest.fn(), info: jest.fn() });

async function started(build: (s: CrewSession) => void = () => undefined) {
  const session = new CrewSession({ logger: quiet() });
  build(session);
  const client = new TestClient(session);
  await session.start();
  return { session, client };
}

describe('CrewSession.onEvent: patterns', () => {
  it('matches an exact type, an alias, a prefix and everything', async () => {
    const calls: string[] = [];
    await started((s) => {
      s.onEvent('system.user.joined', (_s, e) => void calls.push(`exact:${e.type}`));
      s.onEvent('system.user_joined', (_s, e) => void calls.push(`alias:${e.type}`));
      s.onEvent('system.*', (_s, e) => void calls.push(`prefix:${e.type}`));
      s.onEvent('*', (_s, e) => void calls.push(`all:${e.type}`));
    });
    expect(calls).toEqual([
      'all:agent.ready',
      'exact:system.user.joined',
      'alias:system.user.joined',
      'prefix:system.user.joined',
      'all:system.user.joined',
    ]);
  });

  it('treats "agent.*" as a dotted prefix (not "agentx")', async () => {
    const calls: string[] = [];
    const { session } = await started((s) => s.onEvent('agent.*', (_s, e) => void calls.push(e.type)));
    session.send({ type: 'agentx.thing' });
    session.send({ type: 'agent.speak', text: 'hi' });
    expect(calls).toEqual(['agent.ready', 'agent.speak']);
  });

  it('refuses malformed patterns with CREW_ERR_INVALID_ARGUMENT', () => {
    const s = new CrewSession();
    for (const bad of ['', 'a*', '*.x', 'a.*.b', '.*']) {
      expect(() => s.onEvent(bad, () => undefined)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    }
    expect(() => s.onEvent('x', 'nope' as never)).toThrow(/handler must be a function/);
  });

  it('stops calling a hook once it is removed', async () => {
    const calls: string[] = [];
    const { session } = await started();
    const off = session.onEvent('test.*', (_s, e) => void calls.push(e.type));
    session.send({ type: 'test.one' });
    off();
    off();
    session.send({ type: 'test.two' });
    expect(calls).toEqual(['test.one']);
  });
});

describe('CrewSession.onEvent: every event exactly once', () => {
  it('sees client events after validation, node emissions, runtime events and sends', async () => {
    const calls: string[] = [];
    const { session, client } = await started((s) => {
      s.addNode(node('reply', map((e) => (e.type === 'agent.transcript.update' ? { type: 'agent.speak', text: `you said ${e.content}` } : e))));
      s.onEvent('*', (_s, e) => void calls.push(e.type));
    });
    client.send({ type: 'agent.transcript.update', role: 'user', content: 'hi' });
    client.send({ type: 'agent.transcript.update', role: 'robot', content: 'invalid' });
    session.send({ type: 'agent.log', name: 'n', payload: 1 });
    await session.stop();
    expect(calls).toEqual([
      'agent.ready',
      'system.user.joined',
      'agent.transcript.update',
      'agent.speak',
      'agent.error',
      'agent.log',
      'system.user.left',
    ]);
  });

  it('sees an object passed on by several nodes once, and a new object as a new event', async () => {
    const seen: CrewEvent[] = [];
    const { session } = await started((s) => {
      const first = node('first', tap());
      const second = node('second', tap());
      const copier = node('copier', map((e) => ({ ...e, copied: true })));
      s.addNode(first).addNode(second).addNode(copier);
      s.addEdge(first, second).addEdge(first, copier);
      s.onEvent('test.x', (_s, e) => void seen.push(e));
    });
    const x = { type: 'test.x' };
    session.inject(x);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(x);
    expect(seen[1]).toEqual({ type: 'test.x', copied: true });
  });

  it('sees an object once even when a node passes it on later (asynchronously)', async () => {
    const seen: CrewEvent[] = [];
    const { session, client } = await started((s) => {
      const late = node('late', (input$) => input$.pipe(filter((e) => e.type === 'test.x'), delay(1)));
      s.addNode(late);
      s.onEvent('test.x', (_s, e) => void seen.push(e));
    });
    session.inject({ type: 'test.x' });
    await client.next('test.x');
    expect(seen).toHaveLength(1);
  });

  it('feeds events$ with the same events, once each', async () => {
    const viaBus: string[] = [];
    const { session } = await started((s) => {
      s.addNode(node('a', tap())).addNode(node('b', tap()));
      s.events$.subscribe((e) => viaBus.push(e.type));
    });
    session.inject({ type: 'test.x' });
    expect(viaBus).toEqual(['agent.ready', 'system.user.joined', 'test.x']);
  });

  it('keeps bus order when an events$ subscriber makes a node emit synchronously', async () => {
    const order: string[] = [];
    const { session } = await started((s) => {
      const echo = new Subject<CrewEvent>();
      s.addNode(node('bus-reactor', () => echo));
      s.events$.pipe(filter((e) => e.type === 'test.ping')).subscribe(() => echo.next({ type: 'test.pong' }));
      s.onEvent('test.*', (_s, e) => void order.push(`first:${e.type}`));
      s.onEvent('test.*', (_s, e) => void order.push(`second:${e.type}`));
    });
    session.send({ type: 'test.ping' });
    // the pong published from inside the ping's publication waits for the ping's hooks
    expect(order).toEqual(['first:test.ping', 'second:test.ping', 'first:test.pong', 'second:test.pong']);
  });
});

describe('CrewSession.onEvent: failures', () => {
  it('reports a throwing hook as agent.error and still runs the other hooks', async () => {
    const ran: string[] = [];
    const { session, client } = await started((s) => {
      s.onEvent('test.x', () => {
        throw new TypeError('hook broke');
      });
      s.onEvent('test.x', () => void ran.push('second'));
    });
    session.send({ type: 'test.x' });
    const report = await client.next('agent.error');
    expect(report).toMatchObject({
      severity: 'warning',
      payload: { code: ErrorCodes.HOOK_FAILED, pattern: 'test.x', event_type: 'test.x', error_class: 'TypeError', message: 'hook broke' },
    });
    expect(report.message).toContain('hook broke');
    expect(ran).toEqual(['second']);
    session.send({ type: 'test.y' });
    expect(client.all('test.y')).toHaveLength(1);
    expect(session.state).toBe('running');
  });

  it('reports a rejecting async hook', async () => {
    const { session, client } = await started((s) => {
      s.onEvent('test.x', async () => {
        await Promise.resolve();
        throw new Error('async hook broke');
      });
    });
    session.send({ type: 'test.x' });
    const report = await client.next('agent.error');
    expect(report.payload).toMatchObject({ code: ErrorCodes.HOOK_FAILED, message: 'async hook broke' });
  });

  it('only logs a hook that fails on a hook-failure report (no loop)', async () => {
    const logger = quiet();
    const session = new CrewSession({ logger });
    session.onEvent('agent.error', () => {
      throw new Error('error hook broke');
    });
    session.onEvent('test.x', () => {
      throw new Error('x hook broke');
    });
    const client = new TestClient(session);
    await session.start();
    session.send({ type: 'test.x' });
    expect(client.all('agent.error')).toHaveLength(1);
    expect(logger.error).toHaveBeenCalledWith(
      { session_id: session.id, event_type: 'agent.error', pattern: 'agent.error', err: expect.any(Error) },
      expect.stringContaining('hook "agent.error" failed'),
    );
  });

  it('calls hooks with the session and the event', async () => {
    const args: unknown[][] = [];
    const { session } = await started((s) => s.onEvent('test.x', (...a) => void args.push(a)));
    const x = { type: 'test.x' };
    session.send(x);
    expect(args).toEqual([[session, x]]);
  });
});

describe("CrewSession.onEvent('on_event_received')", () => {
  const say = (content: string) => ({ type: 'agent.transcript.update', role: 'user', content });

  it('sees client events only, also with more hooks than the uncached scan handles', async () => {
    // past 8 hooks, matches are cached per type; client and non-client matches must not share a cache entry
    const received: string[] = [];
    const typed: string[] = [];
    const { session, client } = await started((s) => {
      s.addNode(node('reply', map((e) => (e.type === 'agent.transcript.update' ? { type: 'agent.transcript.update', role: 'assistant', content: 'echo' } : e))));
      for (let i = 0; i < 9; i++) s.onEvent(`test.unused${i}`, () => undefined);
      s.onEvent('on_event_received', (_s, e) => void received.push(`${e.type}:${String(e.content ?? '')}`));
      s.onEvent('agent.transcript.update', (_s, e) => void typed.push(String(e.content)));
    });
    client.send(say('one'));
    session.inject(say('injected'));
    client.send(say('two'));
    expect(received).toEqual(['system.user.joined:', 'agent.transcript.update:one', 'agent.transcript.update:two']);
    // the same type from a node or inject() reaches type hooks, not on_event_received
    expect(typed).toEqual(['one', 'echo', 'injected', 'echo', 'two', 'echo']);
  });

  it('sees a client event once even when a node passes the same object on later', async () => {
    const received: CrewEvent[] = [];
    const { client } = await started((s) => {
      s.addNode(node('late', (input$) => input$.pipe(filter((e) => e.type === 'agent.transcript.update'), delay(1))));
      s.onEvent('on_event_received', (_s, e) => void received.push(e));
    });
    client.send(say('x'));
    await client.next('agent.transcript.update');
    expect(received.map((e) => e.type)).toEqual(['system.user.joined', 'agent.transcript.update']);
  });

  it('does not see frames dropped by the rate limit, nor those after the session ended', async () => {
    const received: string[] = [];
    const session = new CrewSession({ logger: quiet(), limits: { maxEventsPerSecond: 2 }, now: () => 0 });
    session.onEvent('on_event_received', (_s, e) => void (e.type === 'agent.transcript.update' && received.push(String(e.content))));
    const client = new TestClient(session);
    await session.start();
    client.send(say('a'));
    client.send(say('b'));
    client.send(say('dropped')); // the clock stands still: the bucket is empty
    expect(client.all('agent.error').map((e) => (e.payload as { code: string }).code)).toEqual([ErrorCodes.RATE_LIMITED]);
    await session.stop();
    client.send(say('late'));
    expect(received).toEqual(['a', 'b']);
  });

  it('sees only what arrives after it was added', async () => {
    const { session, client } = await started();
    client.send(say('before'));
    const received: string[] = [];
    const off = session.onEvent('on_event_received', (_s, e) => void received.push(String(e.content)));
    client.send(say('during'));
    off();
    client.send(say('after'));
    expect(received).toEqual(['during']);
  });
});
