import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { finalize, filter, mergeMap, NEVER } from 'rxjs';
import { CrewEvent, CrewSession, node } from 'rxcrew';
import { runTs } from '../cli/helpers';
import { CrewClient, deferred, echoNode, Harness, recordingLogger, say, within } from './helpers';

/*
 * Graceful shutdown: app.close() (and SIGTERM in a real process) stops accepting,
 * closes every client with 1001, lets system.user.left hooks and node teardown
 * run, and is bounded by closeTimeout whatever the nodes and hooks do.
 */

async function status(url: string): Promise<number> {
  const res = await within(fetch(url), `GET ${url}`);
  await res.text();
  return res.status;
}

describe('CrewApp graceful shutdown', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('is bounded by closeTimeout when hooks and nodes never finish: clients see 1001, /ready answers 503 meanwhile, no session is left', async () => {
    const hooksStarted: number[] = [];
    const logger = recordingLogger();
    const { app, http, connect, connectReady } = await h.start({
      closeTimeout: 400,
      logger,
      setup: (s) => {
        s.addNode(echoNode());
        // an inner observable that never completes, started by the first transcript
        s.addNode(node('stubborn', (input$) => input$.pipe(filter((e) => e.type === 'agent.transcript.update'), mergeMap(() => NEVER))));
        s.onEvent('system.user.left', (_s, e) => {
          hooksStarted.push(e.code as number);
          return new Promise<void>(() => undefined); // never settles
        });
      },
    });
    const clients = [await connectReady(), await connectReady()];
    for (const c of clients) {
      c.send(say('start the stubborn node'));
      await c.next('agent.speak');
    }

    const started = performance.now();
    let closed = false;
    const closing = app.close().then(() => (closed = true));
    expect(app.ready).toBe(false);
    expect(await status(`${http}/ready`)).toBe(503);
    await expect(connect()).rejects.toThrow('upgrade refused: 503');
    const codes = await Promise.all(clients.map((c) => within(c.closed, 'a client close')));
    expect(codes.map((c) => c.code)).toEqual([1001, 1001]);
    expect(closed).toBe(false); // still draining: the hooks have not settled

    await within(closing, 'close() to resolve', 2000);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1400);
    expect(hooksStarted).toEqual([1001, 1001]);
    expect(app.sessions.size).toBe(0);
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ close_timeout_ms: expect.any(Number) }), expect.stringMatching(/close timed out/));
    await expect(within(fetch(`${http}/ready`), 'a refused request')).rejects.toThrow();
  });

  it('resolves well before the deadline when hooks finish quickly; hooks and node teardown run with 1001', async () => {
    const left: CrewEvent[] = [];
    const tornDown: string[] = [];
    const sessions: CrewSession[] = [];
    const { app, connectReady } = await h.start({
      closeTimeout: 10_000,
      setup: (s) => {
        sessions.push(s);
        s.addNode(node('flusher', (input$) => input$.pipe(filter(() => false), finalize(() => tornDown.push(s.id)))));
        s.onEvent('system.user.left', async (_s, e) => {
          await new Promise((resolve) => setImmediate(resolve));
          left.push(e);
        });
      },
    });
    const clients: CrewClient[] = [];
    for (let i = 0; i < 3; i++) clients.push(await connectReady());

    await within(app.close(), 'a graceful close well before the 10 s deadline', 2000);
    expect(left.map((e) => e.code)).toEqual([1001, 1001, 1001]);
    expect(left.map((e) => e.session_id).sort()).toEqual(sessions.map((s) => s.id).sort());
    expect(tornDown.sort()).toEqual(sessions.map((s) => s.id).sort());
    const codes = await Promise.all(clients.map((c) => within(c.closed, 'a client close')));
    expect(codes.map((c) => c.code)).toEqual([1001, 1001, 1001]);
    expect(app.sessions.size).toBe(0);
  });
});

describe('CrewApp shutdown and upgrades in flight', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('does not wait for an authenticate that never settles: that upgrade is answered 503', async () => {
    const asked = deferred();
    const setup = jest.fn();
    const { app, connect } = await h.start({
      closeTimeout: 5000,
      setup,
      authenticate: () => {
        asked.resolve();
        return new Promise(() => undefined);
      },
    });
    const connecting = connect();
    await within(asked.promise, 'authenticate to be called');

    const closing = app.close();
    await expect(connecting).rejects.toThrow('upgrade refused: 503');
    await within(closing, 'close() to resolve without the verdict', 1000);
    expect(setup).not.toHaveBeenCalled();
  });

  it('is not held by a refused client that keeps its half of the connection open', async () => {
    const { app, port } = await h.start({ closeTimeout: 5000, setup: () => undefined, authenticate: () => false });
    const socket = tcpConnect({ port, host: '127.0.0.1', allowHalfOpen: true });
    socket.on('error', () => undefined);
    let answer = '';
    const ended = new Promise((resolve) => socket.once('end', resolve));
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await within(ended, 'the 401 and the end of the answer');
    expect(answer).toMatch(/^HTTP\/1\.1 401/);

    try {
      await within(app.close(), 'close() while the refused client holds its side open', 1000);
    } finally {
      socket.destroy();
    }
  });
});

describe('app.drain()', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('refuses new sessions but lets live ones go on; resolves once the last one has ended, before drainTimeout', async () => {
    const left: number[] = [];
    const { app, http, connect, connectReady } = await h.start({
      drainTimeout: 60_000,
      setup: (s) => {
        s.addNode(echoNode());
        s.onEvent('system.user.left', (_s, e) => void left.push(e.code as number));
      },
    });
    const client = await connectReady();
    let drained = false;
    const drain = app.drain();
    expect(app.drain()).toBe(drain); // idempotent
    const draining = drain.then(() => (drained = true));
    expect(app.ready).toBe(false);
    expect(await status(`${http}/ready`)).toBe(503);
    await expect(connect()).rejects.toThrow('upgrade refused: 503');
    client.send(say('still here'));
    expect(await client.next('agent.speak')).toMatchObject({ text: 'still here' });
    expect(drained).toBe(false);
    void client.close(1000);
    await within(draining, 'the drain to end with the last session', 5000);
    expect(left).toEqual([1000]);
    expect(app.sessions.size).toBe(0);
  });

  it('closes what is still live after drainTimeout with 1012 (service restart), hooks seeing 1012', async () => {
    const left: number[] = [];
    const logger = recordingLogger();
    const { app, connectReady } = await h.start({
      drainTimeout: 200,
      logger,
      setup: (s) => {
        s.addNode(echoNode());
        s.onEvent('system.user.left', (_s, e) => void left.push(e.code as number));
      },
    });
    const clients = [await connectReady(), await connectReady()];
    await within(app.drain(), 'the drain', 5000);
    const codes = await Promise.all(clients.map((c) => within(c.closed, 'a client close')));
    expect(codes.map((c) => c.code)).toEqual([1012, 1012]);
    expect(left).toEqual([1012, 1012]);
    expect(logger.info).toHaveBeenCalledWith(expect.objectContaining({ sessions: 2, drain_timeout_ms: 200 }), 'drain: closing 2 session(s) with 1012');
  });

  it('close() during a drain ends the wait at once; the drain\'s 1012 stands (the clients may resume elsewhere)', async () => {
    const { app, connectReady } = await h.start({ drainTimeout: 60_000, logger: recordingLogger(), setup: (s) => void s.addNode(echoNode()) });
    const client = await connectReady();
    const draining = app.drain();
    const closing = app.close();
    expect(closing).toBe(draining);
    await within(closing, 'close() to end the drain', 5000);
    expect((await within(client.closed, 'the client close')).code).toBe(1012);
  });

  it('drainTimeout 0 closes every session with 1012 at once', async () => {
    const { app, connectReady } = await h.start({ drainTimeout: 0, logger: recordingLogger(), setup: (s) => void s.addNode(echoNode()) });
    const client = await connectReady();
    await within(app.drain(), 'the drain', 5000);
    expect((await within(client.closed, 'the client close')).code).toBe(1012);
  });
});

describe('a server process on SIGINT and SIGTERM', () => {
  const FIXTURE = join('spec', 'integration', 'fixtures', 'shutdown-server.ts');

  async function startServer(env: NodeJS.ProcessEnv = {}) {
    const server = runTs(FIXTURE, [], { env, guardMs: 15_000 });
    const match = await within(server.printed(/listening on http:\/\/127\.0\.0\.1:(\d+)\//, 'stderr'), 'the server to listen', 10_000);
    const client = await CrewClient.connect(`ws://127.0.0.1:${match![1]}/ws`);
    await client.next('agent.ready', 5000);
    client.send(say('hello'));
    await client.roundTrip();
    return { server, client };
  }

  it('SIGTERM drains: the call goes on for drainTimeout, then closes with 1012; the hook runs; exit 0', async () => {
    const { server, client } = await startServer({ DRAIN_TIMEOUT: '300' });
    server.child.kill('SIGTERM');
    const closed = within(client.closed, 'the client close', 5000);
    // the drain has begun (logged) and the call still answers
    await within(server.printed('draining 1 session(s)', 'stderr'), 'the drain to begin', 5000);
    await client.roundTrip();
    expect((await closed).code).toBe(1012);
    const { code, stdout, stderr } = await server.exited;
    const records = stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toContainEqual({ level: 'info', time: expect.any(Number), msg: 'SIGTERM, draining 1 session(s) for up to 300 ms', signal: 'SIGTERM', sessions: 1, drain_timeout_ms: 300 });
    expect(stdout).toContain('user.left hook ran: code 1012');
    expect(stdout).toContain('server closed');
    expect(code).toBe(0);
  });

  it('SIGINT closes the client with 1001, runs its user.left hook, and exits 0 on its own', async () => {
    const { server, client } = await startServer();
    server.child.kill('SIGINT');

    expect((await within(client.closed, 'the client close', 5000)).code).toBe(1001);
    const { code, stdout, stderr } = await server.exited;
    // the default logger: one JSON record per line on stderr
    const records = stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records).toContainEqual({ level: 'info', time: expect.any(Number), msg: 'SIGINT, closing 1 session(s)', signal: 'SIGINT', sessions: 1 });
    expect(records[0]).toMatchObject({ level: 'info', msg: expect.stringMatching(/^rxcrew listening on/), host: '127.0.0.1' });
    expect(stdout).toContain('user.left hook ran: code 1001');
    expect(stdout).toContain('server closed');
    expect(code).toBe(0);
  });

  it('exits 0 after closeTimeout even when its hook and node never finish', async () => {
    const { server, client } = await startServer({ HANG: '1', CLOSE_TIMEOUT: '300' });
    server.child.kill('SIGINT');

    expect((await within(client.closed, 'the client close', 5000)).code).toBe(1001);
    const { code, stdout, stderr } = await server.exited;
    expect(stdout).toContain('user.left hook started: code 1001');
    expect(stdout).not.toContain('user.left hook ran');
    expect(stderr).toContain('close timed out');
    expect(code).toBe(0);
  });
});
