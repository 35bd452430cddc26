import { createServer } from 'node:net';
import { CrewApp, CrewEvent, CrewSession } from 'rxcrew';
import { deferred, echoNode, Harness, recordingLogger, say, silentLogger, within } from './helpers';

interface Left {
  sessionId: string;
  event: CrewEvent;
}

/** Starts an app whose sessions record their `system.user.left` events. */
async function startRecording(h: Harness) {
  const sessions: CrewSession[] = [];
  const left: Left[] = [];
  const running = await h.start({
    setup: (session) => {
      sessions.push(session);
      session.addNode(echoNode());
      session.onEvent('agent.transcript.update', (s, e) => {
        if (e.content === 'stop me') void s.stop('done talking');
      });
      session.onEvent('system.user.left', (s, e) => void left.push({ sessionId: s.id, event: e }));
    },
  });
  return { ...running, sessions, left };
}

describe('CrewApp close codes and session end (real ws client)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('app.close() closes every client with 1001 after running each session’s system.user.left hooks', async () => {
    const { app, port, connectReady, sessions, left } = await startRecording(h);
    const clients = await Promise.all([connectReady(), connectReady(), connectReady()]);
    expect(app.sessions.size).toBe(3);

    await within(app.close(), 'app.close()');
    const closes = await Promise.all(clients.map((c) => within(c.closed, 'the close')));

    expect(closes.map((c) => c.code)).toEqual([1001, 1001, 1001]);
    expect(left.map((l) => l.sessionId).sort()).toEqual(sessions.map((s) => s.id).sort());
    for (const l of left) expect(l.event).toMatchObject({ type: 'system.user.left', session_id: l.sessionId, code: 1001 });
    expect(app.sessions.size).toBe(0);
    expect(sessions.every((s) => s.state === 'closed')).toBe(true);
    // the server is gone: a new connection is refused
    await expect(h.connect(`ws://127.0.0.1:${port}/ws`)).rejects.toThrow();
  });

  it('app.close() is idempotent and works with no clients', async () => {
    const { app } = await h.start({ setup: (session) => void session.addNode(echoNode()) });
    const first = app.close();
    const second = app.close();
    expect(second).toBe(first);
    await within(first, 'app.close()');
  });

  it('session.stop() from the server closes the client with 1000 and the given reason', async () => {
    const { app, connectReady, sessions, left } = await startRecording(h);
    const client = await connectReady();

    client.send(say('stop me'));
    const closed = await within(client.closed, 'the close');
    await within(sessions[0].waitUntilComplete(), 'the session to complete');

    expect(closed).toEqual({ code: 1000, reason: 'done talking' });
    expect(left).toHaveLength(1);
    expect(left[0].event).toMatchObject({ code: 1000, reason: 'done talking', session_id: sessions[0].id });
    expect(app.sessions.size).toBe(0);
  });

  it('session.stop() replies still reach the client before the close', async () => {
    const { connectReady } = await startRecording(h);
    const client = await connectReady();

    client.send(say('stop me'));
    await within(client.closed, 'the close');
    expect(client.types).toEqual(['agent.ready', 'agent.speak']);
  });

  it('a client closing normally ends its session: user.left with the client’s code, sessions empty, waitUntilComplete resolves', async () => {
    const { app, connectReady, sessions, left } = await startRecording(h);
    const client = await connectReady();
    const other = await connectReady();
    expect(app.sessions.size).toBe(2);

    const closed = await client.close(4001, 'client done');
    await within(sessions[0].waitUntilComplete(), 'waitUntilComplete()');

    expect(closed.code).toBe(4001);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatchObject({ sessionId: sessions[0].id, event: { code: 4001, reason: 'client done' } });
    expect(sessions[0].state).toBe('closed');
    expect([...app.sessions.keys()]).toEqual([sessions[1].id]);

    // the other session is untouched
    other.send(say('hi'));
    expect((await other.next('agent.speak')).text).toBe('hi');
    await other.close(1000);
    await within(sessions[1].waitUntilComplete(), 'waitUntilComplete()');
    expect(left[1]).toMatchObject({ sessionId: sessions[1].id, event: { code: 1000 } });
    expect(app.sessions.size).toBe(0);
  });

  it('a client that drops the connection without a close frame ends its session too (code 1006)', async () => {
    const { app, connectReady, sessions, left } = await startRecording(h);
    const client = await connectReady();

    client.terminate();
    await within(sessions[0].waitUntilComplete(), 'waitUntilComplete()');

    expect(left).toHaveLength(1);
    expect(left[0].event).toMatchObject({ code: 1006 });
    expect(app.sessions.size).toBe(0);
  });
  it('a client that leaves while an async setup is pending: the session ends and is never started', async () => {
    const logger = recordingLogger();
    const entered = deferred<CrewSession>();
    const finish = deferred();
    const setupDone = deferred();
    const left: CrewEvent[] = [];
    const { app, connect } = await h.start({
      logger,
      setup: async (session) => {
        session.addNode(echoNode());
        session.onEvent('system.user.left', (_s, e) => void left.push(e));
        entered.resolve(session);
        await finish.promise;
        setupDone.resolve();
      },
    });
    const client = await connect();
    const session = await within(entered.promise, 'setup');

    await client.close(1000, 'bored');
    await within(session.waitUntilComplete(), 'waitUntilComplete()');
    finish.resolve();
    await within(setupDone.promise, 'setup to return');
    await Promise.resolve();

    expect(session.state).toBe('closed');
    expect(left).toEqual([expect.objectContaining({ code: 1000, reason: 'bored' })]);
    expect(client.types).toEqual([]);
    expect(app.sessions.size).toBe(0);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('app.close() gives up on a session whose user.left hook hangs after closeTimeout, and still closes with 1001', async () => {
    const logger = recordingLogger();
    const hang = deferred();
    const { app, connectReady } = await h.start({
      logger,
      closeTimeout: 100,
      setup: (session) => void session.onEvent('system.user.left', () => hang.promise),
    });
    const client = await connectReady();
    try {
      await within(app.close(), 'app.close()');
      expect((await within(client.closed, 'the close')).code).toBe(1001);
      expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ close_timeout_ms: expect.any(Number) }), expect.stringContaining('close timed out'));
    } finally {
      hang.resolve();
    }
  });
});

describe('CrewApp port selection', () => {
  const h = new Harness();
  const savedPort = process.env.PORT;
  afterEach(async () => {
    if (savedPort === undefined) delete process.env.PORT;
    else process.env.PORT = savedPort;
    await h.cleanup();
  });

  /** A port held by another server for as long as `release` is not called. */
  async function takenPort(): Promise<{ port: number; release(): Promise<void> }> {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as { port: number };
    return { port, release: () => new Promise<void>((resolve) => holder.close(() => resolve())) };
  }

  it('listens on $PORT when no port option is given', async () => {
    const { port, release } = await takenPort();
    await release(); // now free, and known
    process.env.PORT = String(port);
    const app = new CrewApp({ setup: (session) => void session.addNode(echoNode()), host: '127.0.0.1', logger: silentLogger });
    const running = h.running(app, port);

    const address = await app.listen();
    expect(address).toEqual({ port, host: '127.0.0.1' });
    const client = await running.connectReady();
    client.send(say('on $PORT'));
    expect((await client.next('agent.speak')).text).toBe('on $PORT');
  });

  it('prefers the port option over $PORT', async () => {
    // $PORT is busy: listening there would fail, so a successful listen proves it was not used
    const taken = await takenPort();
    try {
      process.env.PORT = String(taken.port);
      const { port } = await h.start({ setup: () => undefined, port: 0 });
      expect(port).not.toBe(taken.port);
    } finally {
      await taken.release();
    }
  });

  it('listen() rejects when the port is already taken', async () => {
    const taken = await takenPort();
    try {
      const app = new CrewApp({ setup: () => undefined, port: taken.port, host: '127.0.0.1', logger: silentLogger });
      h.running(app, taken.port);
      await expect(app.listen()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await taken.release();
    }
  });

  it('rejects a $PORT that is not a port number', () => {
    process.env.PORT = 'eighty';
    expect(() => new CrewApp({ setup: () => undefined })).toThrow(expect.objectContaining({ code: 'CREW_ERR_INVALID_ARGUMENT' }));
  });
});
