import { EMPTY, map, Observable, tap } from 'rxjs';
import {
  CrewEvent,
  CrewNode,
  CrewSession,
  ErrorCodes,
  GraphCycleError,
  node,
  SessionContext,
} from 'rxcrew';
import { TestClient } from 'rxcrew/testing';

const quiet = { error: jest.fn(), warn: jest.fn(), info: jest.fn() };
const passThrough = (name: string) => node(name, tap());

class A extends CrewNode {
  process(input$: Observable<CrewEvent>) {
    return input$;
  }
}
class B extends A {}

describe('CrewSession: building the graph', () => {
  it('names a node after its class unless given a name', () => {
    expect(new A().name).toBe('A');
    expect(new A({ name: 'custom' }).name).toBe('custom');
  });

  it('rejects the same node instance twice with CREW_ERR_DUPLICATE_NODE', () => {
    const s = new CrewSession();
    const n = passThrough('n');
    s.addNode(n);
    expect(() => s.addNode(n)).toThrow(expect.objectContaining({ code: ErrorCodes.DUPLICATE_NODE }));
  });

  it('rejects a second node with a name already used', () => {
    const s = new CrewSession();
    s.addNode(passThrough('same'));
    expect(() => s.addNode(passThrough('same'))).toThrow(/a node named "same" already exists/);
  });

  it('rejects an edge to a node never added with CREW_ERR_UNKNOWN_NODE, naming it', () => {
    const s = new CrewSession();
    const added = passThrough('added');
    s.addNode(added);
    const stranger = passThrough('stranger');
    expect(() => s.addEdge(added, stranger)).toThrow(expect.objectContaining({ code: ErrorCodes.UNKNOWN_NODE, nodeName: 'stranger' }));
    expect(() => s.addEdge(stranger, added)).toThrow(/parent node "stranger" was never added/);
  });

  it('rejects something that is not a node', () => {
    const s = new CrewSession();
    expect(() => s.addNode({ name: 'fake', process: () => EMPTY } as unknown as CrewNode)).toThrow(
      expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }),
    );
  });

  it('rejects a repeated edge', () => {
    const s = new CrewSession();
    const p = passThrough('p');
    const c = passThrough('c');
    s.addNode(p).addNode(c).addEdge(p, c);
    expect(() => s.addEdge(p, c)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_EDGE }));
  });

  it('rejects the seed page cycle A → B → A at start(), naming the cycle, and closes the session', async () => {
    const s = new CrewSession({ logger: quiet });
    const a = new A();
    const b = new B();
    s.addNode(a).addNode(b).addEdge(a, b).addEdge(b, a);
    const client = new TestClient(s);
    const failure = s.start();
    await expect(failure).rejects.toBeInstanceOf(GraphCycleError);
    await expect(failure).rejects.toMatchObject({ code: ErrorCodes.GRAPH_CYCLE, cycle: ['A', 'B', 'A'] });
    await expect(failure).rejects.toThrow('A → B → A');
    expect(s.state).toBe('closed');
    const fatal = await client.next('agent.error');
    expect(fatal).toMatchObject({ severity: 'fatal', payload: { code: ErrorCodes.GRAPH_CYCLE } });
    expect(fatal.message).toContain('A → B → A');
    expect(await client.closed).toEqual({ code: 1011, reason: 'start failed' });
    await s.waitUntilComplete();
  });

  it('finds a self-loop and a longer cycle', async () => {
    const s1 = new CrewSession({ logger: quiet });
    const solo = passThrough('solo');
    s1.addNode(solo).addEdge(solo, solo);
    await expect(s1.start()).rejects.toThrow('solo → solo');

    const s2 = new CrewSession({ logger: quiet });
    const [x, y, z, w] = ['x', 'y', 'z', 'w'].map(passThrough);
    s2.addNode(w).addNode(x).addNode(y).addNode(z);
    s2.addEdge(w, x).addEdge(x, y).addEdge(y, z).addEdge(z, x);
    await expect(s2.start()).rejects.toMatchObject({ cycle: ['x', 'y', 'z', 'x'] });
  });

  it('locks the graph once started (CREW_ERR_GRAPH_LOCKED) and refuses a second start (CREW_ERR_ALREADY_STARTED)', async () => {
    const s = new CrewSession();
    const n = passThrough('n');
    s.addNode(n);
    await s.start();
    expect(s.state).toBe('running');
    expect(() => s.addNode(passThrough('late'))).toThrow(expect.objectContaining({ code: ErrorCodes.GRAPH_LOCKED }));
    expect(() => s.addEdge(n, n)).toThrow(expect.objectContaining({ code: ErrorCodes.GRAPH_LOCKED }));
    await expect(s.start()).rejects.toMatchObject({ code: ErrorCodes.ALREADY_STARTED });
    await s.stop();
  });

  it('refuses to start or change a closed session (CREW_ERR_SESSION_CLOSED)', async () => {
    const s = new CrewSession();
    await s.stop();
    expect(s.state).toBe('closed');
    await expect(s.start()).rejects.toMatchObject({ code: ErrorCodes.SESSION_CLOSED });
    expect(() => s.addNode(passThrough('n'))).toThrow(expect.objectContaining({ code: ErrorCodes.SESSION_CLOSED }));
  });

  it('fails start() with CREW_ERR_NODE_SETUP when process() throws, naming the node', async () => {
    class Broken extends CrewNode {
      process(): Observable<CrewEvent> {
        throw new Error('no config');
      }
    }
    const s = new CrewSession({ logger: quiet });
    s.addNode(new Broken());
    await expect(s.start()).rejects.toMatchObject({ code: ErrorCodes.NODE_SETUP, nodeName: 'Broken' });
    await expect(s.start()).rejects.toMatchObject({ code: ErrorCodes.SESSION_CLOSED });
  });

  it('fails start() when process() returns something that is not an Observable', async () => {
    const s = new CrewSession({ logger: quiet });
    s.addNode(node('bad', (() => 42) as never));
    await expect(s.start()).rejects.toThrow(/node "bad" threw in process\(\): process\(\) must return an Observable/);
  });

  it('does not crash the process when an un-awaited start() fails', async () => {
    const s = new CrewSession({ logger: quiet });
    const n = passThrough('n');
    s.addNode(n).addEdge(n, n);
    void s.start();
    await s.waitUntilComplete();
    expect(s.state).toBe('closed');
  });
});

describe('CrewSession: lifecycle', () => {
  it('sends agent.ready, then emits system.user.joined, on start()', async () => {
    const s = new CrewSession({ id: 'abc' });
    s.addNode(passThrough('n'));
    const client = new TestClient(s);
    await s.start();
    expect(client.received.map((e) => e.type)).toEqual(['agent.ready', 'system.user.joined']);
    expect(client.received[1]).toMatchObject({ session_id: 'abc' });
  });

  it('sends what nodes emit while being subscribed after agent.ready', async () => {
    const s = new CrewSession();
    s.addNode(node('greeter', (input$) => new Observable<CrewEvent>((sub) => {
      sub.next({ type: 'agent.speak', text: 'hello' });
      return input$.subscribe(sub);
    })));
    const client = new TestClient(s);
    await s.start();
    expect(client.received.map((e) => e.type).slice(0, 2)).toEqual(['agent.ready', 'agent.speak']);
  });

  it('copies system.init initial_variables into context even before start()', async () => {
    const s = new CrewSession();
    const client = new TestClient(s);
    client.send({ type: 'system.init', version: '1.0', session_context: { initial_variables: { customer: 'Ada', tier: 2 }, conversation_type: 'chat' } });
    expect(s.context.get('customer')).toBe('Ada');
    expect(s.context.toJSON()).toEqual({ customer: 'Ada', tier: 2 });
    expect(s.context).toBeInstanceOf(SessionContext);
    expect(s.context.getOr('missing', 'default')).toBe('default');
  });

  it('waitForInit() resolves with the init when it arrives, or at once if it has', async () => {
    const s = new CrewSession();
    const client = new TestClient(s);
    const waiting = s.waitForInit();
    const init = { type: 'system.init', version: '1', session_context: { initial_variables: { a: 1 }, conversation_type: 'chat' } };
    client.send(init);
    await expect(waiting).resolves.toMatchObject(init);
    expect(s.init).toMatchObject(init);
    await expect(s.waitForInit()).resolves.toBe(s.init);
  });

  it('waitForInit() resolves with undefined after the timeout (virtual time) or when the session ends', async () => {
    jest.useFakeTimers();
    try {
      const s = new CrewSession();
      const waiting = s.waitForInit(250);
      jest.advanceTimersByTime(250);
      await expect(waiting).resolves.toBeUndefined();
      const ended = s.waitForInit(60_000);
      await s.stop();
      await expect(ended).resolves.toBeUndefined();
    } finally {
      jest.useRealTimers();
    }
  });

  it('keeps context per session', () => {
    const one = new CrewSession();
    const two = new CrewSession();
    one.context.set('k', 1);
    expect(two.context.has('k')).toBe(false);
  });

  it('emits system.user.left once on stop(), flows it through the graph, and closes the client with 1000', async () => {
    const s = new CrewSession({ id: 's' });
    const seenByNode: CrewEvent[] = [];
    s.addNode(node('n', tap((e) => seenByNode.push(e))));
    const left: CrewEvent[] = [];
    s.onEvent('system.user_left', (_session, e) => void left.push(e));
    const client = new TestClient(s);
    await s.start();
    const stopping = s.stop('done');
    expect(s.stop('again')).toBe(stopping);
    await stopping;
    expect(left).toEqual([expect.objectContaining({ type: 'system.user.left', session_id: 's', code: 1000, reason: 'done' })]);
    expect(seenByNode.map((e) => e.type)).toContain('system.user.left');
    expect(await client.closed).toEqual({ code: 1000, reason: 'done' });
    expect(s.state).toBe('closed');
    await s.waitUntilComplete();
  });

  it('stop() works on a session with no connection and one never started', async () => {
    const running = new CrewSession();
    await running.start();
    await running.stop();
    expect(running.state).toBe('closed');

    const fresh = new CrewSession();
    const left: number[] = [];
    fresh.onEvent('system.user.left', (_s, e) => void left.push(e.code as number));
    await fresh.stop();
    expect(left).toEqual([1000]);
  });

  it('stop() takes an application close code and refuses reserved ones', async () => {
    const s = new CrewSession();
    const client = new TestClient(s);
    expect(() => s.stop('x', 1005)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    await s.stop('moved', 4001);
    expect(client.closeInfo).toEqual({ code: 4001, reason: 'moved' });
  });

  it('ends when the client hangs up, with the client code in system.user.left', async () => {
    const s = new CrewSession();
    const codes: number[] = [];
    s.onEvent('system.user.left', (_s, e) => void codes.push(e.code as number));
    const client = new TestClient(s);
    await s.start();
    client.close(1001, 'bye');
    await s.waitUntilComplete();
    expect(codes).toEqual([1001]);
    expect(s.state).toBe('closed');
  });

  it('completes node inputs at teardown so nodes can flush, then unsubscribes', async () => {
    const s = new CrewSession();
    let completed = 0;
    let unsubscribed = 0;
    s.addNode(node('flusher', (input$) => new Observable<CrewEvent>((sub) => {
      const inner = input$.subscribe({ complete: () => { completed++; sub.next({ type: 'agent.log', name: 'flushed', payload: null }); } });
      return () => { unsubscribed++; inner.unsubscribe(); };
    })));
    const client = new TestClient(s);
    await s.start();
    await s.stop();
    expect(completed).toBe(1);
    expect(unsubscribed).toBe(1);
    expect(client.all('agent.log')).toHaveLength(1);
  });

  it('waits for async system.user.left hooks before waitUntilComplete() resolves', async () => {
    const s = new CrewSession();
    let release!: () => void;
    let hookDone = false;
    s.onEvent('system.user.left', async () => {
      await new Promise<void>((r) => (release = r));
      hookDone = true;
    });
    await s.start();
    const done = s.stop();
    let resolved = false;
    void done.then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(false);
    release();
    await done;
    expect(hookDone).toBe(true);
  });

  it('drops send() and inject() after close instead of throwing', async () => {
    const s = new CrewSession();
    await s.stop();
    expect(() => s.send({ type: 'agent.speak', text: 'late' })).not.toThrow();
    expect(() => s.inject({ type: 'test.late' })).not.toThrow();
  });

  it('refuses send() and inject() of something that is not an event', () => {
    const s = new CrewSession();
    expect(() => s.send({ text: 'no type' } as unknown as CrewEvent)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => s.inject(null as unknown as CrewEvent)).toThrow(/inject: expected an event object/);
  });

  it('turns inbound binary audio into user.audio at the declared input rate', async () => {
    const s = new CrewSession();
    const audio: CrewEvent[] = [];
    s.addNode(node('ear', tap((e) => e.type === 'user.audio' && audio.push(e))));
    const client = new TestClient(s);
    client.send({ type: 'system.init', version: 1, session_context: { initial_variables: {}, conversation_type: 'voice' }, audio: { input_sample_rate: 8000 } });
    await s.start();
    const frame = Buffer.from([1, 2, 3, 4]);
    client.send(frame);
    expect(audio).toHaveLength(1);
    expect(audio[0].audio).toBe(frame);
    expect(audio[0].sample_rate).toBe(8000);
  });

  it('serves one node class in any number of sessions with separate state', async () => {
    class Counter extends CrewNode {
      process(input$: Observable<CrewEvent>) {
        let n = 0;
        return input$.pipe(map((e) => ({ type: 'test.count', n: ++n, of: e.type })));
      }
    }
    const sessions = [new CrewSession(), new CrewSession()];
    const clients = sessions.map((s) => {
      s.addNode(new Counter());
      return new TestClient(s);
    });
    await Promise.all(sessions.map((s) => s.start()));
    sessions[0].inject({ type: 'test.x' });
    sessions[0].inject({ type: 'test.x' });
    sessions[1].inject({ type: 'test.x' });
    expect(clients[0].all('test.count').map((e) => e.n)).toEqual([1, 2, 3]);
    expect(clients[1].all('test.count').map((e) => e.n)).toEqual([1, 2]);
  });

  it('has no node by default and sends nothing for injected events (the root feeds only nodes)', async () => {
    const s = new CrewSession();
    const client = new TestClient(s);
    await s.start();
    s.inject({ type: 'test.x' });
    expect(client.received.map((e) => e.type)).toEqual(['agent.ready']);
  });
});

describe('CrewSession: client limits', () => {
  it('closes a client (1008) that sends more events before start() than maxPrestartEvents', async () => {
    const s = new CrewSession({ logger: quiet, limits: { maxPrestartEvents: 3 } });
    const client = new TestClient(s);
    for (let i = 0; i < 4; i++) client.send({ type: 'system.control.interrupt' });
    const fatal = await client.next('agent.error');
    expect(fatal).toMatchObject({ severity: 'fatal', payload: { code: ErrorCodes.BUFFER_FULL } });
    expect((await client.closed).code).toBe(1008);
    expect(s.state).toBe('closed');
  });

  it('exposes its limits, defaults merged with the options', () => {
    const s = new CrewSession({ limits: { maxJsonDepth: 4 } });
    expect(s.limits).toMatchObject({ maxJsonDepth: 4, maxEventsPerSecond: 100, maxAudioFramesPerSecond: 200, maxPrestartEvents: 1024 });
    expect(new CrewSession({ auth: { user: 'u1' } }).auth).toEqual({ user: 'u1' });
  });
});
