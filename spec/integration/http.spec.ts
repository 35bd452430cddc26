import { hostname } from 'node:os';
import { CrewEvent, CrewSession } from 'rxcrew';
import { deferred, echoNode, Harness, recordingLogger, say, within } from './helpers';

async function get(url: string): Promise<{ status: number; type: string | null; body: unknown }> {
  const res = await within(fetch(url), `GET ${url}`);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : undefined };
}

describe('CrewApp HTTP routes', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('GET / reports status, ready and the number of connected clients', async () => {
    const sessions: CrewSession[] = [];
    const { http, connectReady } = await h.start({
      setup: (session) => {
        sessions.push(session);
        session.addNode(echoNode());
      },
    });

    expect(await get(`${http}/`)).toEqual({
      status: 200,
      type: 'application/json',
      body: { status: 'ok', ready: true, active_sessions: 0, worker: `${hostname()}-${process.pid}` },
    });

    const a = await connectReady();
    await connectReady();
    expect((await get(`${http}/`)).body).toEqual({ status: 'ok', ready: true, active_sessions: 2, worker: expect.any(String) });
    await connectReady();
    expect((await get(`${http}/`)).body).toEqual({ status: 'ok', ready: true, active_sessions: 3, worker: expect.any(String) });

    await a.close();
    await within(sessions[0].waitUntilComplete(), 'the first session to complete');
    expect((await get(`${http}/?probe=1`)).body).toEqual({ status: 'ok', ready: true, active_sessions: 2, worker: expect.any(String) });
  });

  it('GET /health and GET /ready answer 200 while accepting; an unknown path is 404', async () => {
    const { http } = await h.start({ setup: () => undefined });

    expect(await get(`${http}/health`)).toMatchObject({ status: 200, type: 'application/json' });
    expect(await get(`${http}/ready`)).toEqual({ status: 200, type: 'application/json', body: { ready: true } });
    expect((await get(`${http}/nope`)).status).toBe(404);
    expect((await get(`${http}/ws`)).status).toBe(404);
    expect((await get(`${http}/health?verbose=1`)).status).toBe(200);
  });

  it('refuses methods other than GET and HEAD', async () => {
    const { http } = await h.start({ setup: () => undefined });
    const res = await within(fetch(`${http}/`, { method: 'POST', body: '{}' }), 'POST /');
    expect(res.status).toBe(405);
    await res.text();
  });

  it('refuses a WebSocket upgrade on a path other than /ws, and runs no setup for it', async () => {
    const setup = jest.fn((session) => void session.addNode(echoNode()));
    const { app, connect } = await h.start({ setup });

    await expect(connect('/other')).rejects.toThrow(/404/);
    await expect(connect('/')).rejects.toThrow(/404/);
    await expect(connect('/ws/extra')).rejects.toThrow(/404/);
    expect(setup).not.toHaveBeenCalled();
    expect(app.sessions.size).toBe(0);

    // /ws with a query string is the WebSocket path
    const client = await connect('/ws?token=abc');
    await client.next('agent.ready');
    expect(setup).toHaveBeenCalledTimes(1);
  });

  it('serves a custom path when configured', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(echoNode()), path: '/agent' });
    await expect(connect('/ws')).rejects.toThrow(/404/);
    const client = await connect('/agent');
    client.send(say('custom'));
    expect((await client.next('agent.speak')).text).toBe('custom');
  });

  it('GET /ready answers 503 (and GET / says closing) while app.close() waits for a session to finish', async () => {
    const leftStarted = deferred<CrewEvent>();
    const release = deferred();
    const { app, http, connectReady, connect } = await h.start({
      setup: (session) => {
        session.addNode(echoNode());
        session.onEvent('system.user.left', async (_s, e) => {
          leftStarted.resolve(e);
          await release.promise;
        });
      },
    });
    const client = await connectReady();
    expect((await get(`${http}/ready`)).status).toBe(200);

    let closeDone = false;
    const closing = app.close().then(() => (closeDone = true));
    expect(await within(leftStarted.promise, 'the user.left hook')).toMatchObject({ code: 1001 });

    expect(await get(`${http}/ready`)).toEqual({ status: 503, type: 'application/json', body: { ready: false } });
    expect((await get(`${http}/`)).body).toEqual({ status: 'closing', ready: false, active_sessions: 1, worker: expect.any(String) });
    expect((await get(`${http}/health`)).status).toBe(200);
    await expect(connect()).rejects.toThrow(/503/);
    expect(app.ready).toBe(false);
    expect(closeDone).toBe(false);

    release.resolve();
    await within(closing, 'app.close()');
    expect((await within(client.closed, 'the close')).code).toBe(1001);
    expect(app.sessions.size).toBe(0);
  });
  it('lets the http option serve routes first and falls back to the built-in ones', async () => {
    const { http } = await h.start({
      setup: () => undefined,
      http: (req, res) => {
        if (req.url !== '/') return false;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ page: true }));
        return true;
      },
    });
    expect(await get(`${http}/`)).toEqual({ status: 200, type: 'application/json', body: { page: true } });
    expect((await get(`${http}/ready`)).status).toBe(200);
  });

  it('answers 500 and logs when the http option throws', async () => {
    const logger = recordingLogger();
    const { http } = await h.start({
      logger,
      setup: () => undefined,
      http: async () => {
        throw new Error('route broke');
      },
    });
    expect((await get(`${http}/anything`)).status).toBe(500);
    expect(logger.error).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.objectContaining({ message: 'route broke' }) }),
      expect.stringContaining('http handler failed'),
    );
  });
});
