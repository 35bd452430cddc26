import type { IncomingMessage } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { CrewAppOptions, CrewSession } from 'rxcrew';
import { deferred, echoNode, Harness, recordingLogger, say, within } from './helpers';

/*
 * Who may connect, decided in the HTTP upgrade before a WebSocket exists:
 * `authenticate(request)` (401 on refusal, its result is `session.auth`),
 * `allowedOrigins` (403), and a deadline on the upgrade request's headers.
 */

const TOKEN = 'good-token';

/** A bearer token from the Authorization header, `?token=`, or a `bearer.TOKEN` subprotocol. */
function tokenOf(req: IncomingMessage): { token: string; via: string } | undefined {
  const header = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
  if (header) return { token: header, via: 'header' };
  const query = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
  if (query) return { token: query, via: 'query' };
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const sub = offered.find((p) => p.startsWith('bearer.'));
  if (sub) return { token: sub.slice('bearer.'.length), via: 'subprotocol' };
  return undefined;
}

function checkToken(req: IncomingMessage): { user: string; via: string } | false {
  const found = tokenOf(req);
  return found?.token === TOKEN ? { user: 'ada', via: found.via } : false;
}

describe('CrewApp authentication and origin checks (real ws clients)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  /** An app whose setup records each session; sessions echo. */
  async function start(options: Omit<CrewAppOptions, 'host' | 'setup'>) {
    const sessions: CrewSession[] = [];
    const setup = jest.fn((s: CrewSession) => {
      sessions.push(s);
      s.addNode(echoNode());
    });
    const running = await h.start({ ...options, setup });
    return { ...running, sessions, setup };
  }

  describe('authenticate', () => {
    it.each([
      ['the Authorization header', '/ws', { headers: { Authorization: `Bearer ${TOKEN}` } }, 'header'],
      ['the query string', `/ws?token=${TOKEN}`, {}, 'query'],
      ['a subprotocol', '/ws', { protocols: ['rxcrew', `bearer.${TOKEN}`] }, 'subprotocol'],
    ])('accepts a token in %s; the result is session.auth in setup', async (_where, path, options, via) => {
      const { connect, sessions } = await start({ authenticate: checkToken });
      const client = await connect(path, options);
      await client.next('agent.ready');

      expect(sessions[0].auth).toEqual({ user: 'ada', via });
      client.send(say('hi'));
      expect((await client.next('agent.speak')).text).toBe('hi');
    });

    it.each([
      ['rxcrew first', ['rxcrew', `bearer.${TOKEN}`]],
      ['the token first', [`bearer.${TOKEN}`, 'rxcrew']],
    ])("agrees on the 'rxcrew' subprotocol, never on the token (%s)", async (_order, protocols) => {
      const { connect } = await start({ authenticate: checkToken });
      const client = await connect('/ws', { protocols });
      await client.next('agent.ready');
      expect(client.socket.protocol).toBe('rxcrew');
    });

    it.each([
      ['false', () => false],
      ['null', () => null],
      ['undefined', () => undefined],
      ['a throw', () => {
        throw new Error('auth backend down');
      }],
      ['a rejection', () => Promise.reject(new Error('auth backend down'))],
      ['a wrong token', checkToken],
    ])('refuses with 401 on %s, and never runs setup', async (_what, authenticate) => {
      const logger = recordingLogger();
      const { connect, app, setup } = await start({ authenticate, logger });

      await expect(connect(`/ws?token=wrong`)).rejects.toThrow('upgrade refused: 401');
      expect(setup).not.toHaveBeenCalled();
      expect(app.sessions.size).toBe(0);
    });

    it('logs an authenticate that throws', async () => {
      const logger = recordingLogger();
      const { connect } = await start({ logger, authenticate: () => {
        throw new Error('auth backend down');
      } });
      await expect(connect()).rejects.toThrow('upgrade refused: 401');
      expect(logger.warn).toHaveBeenCalledWith({ err: expect.objectContaining({ message: 'auth backend down' }) }, expect.stringMatching(/authenticate threw/));
    });

    it('refuses with 503 an authenticate that does not answer within authenticateTimeout, and logs it', async () => {
      const logger = recordingLogger();
      const never = new Promise<unknown>(() => undefined);
      const { connect, app, setup } = await start({ authenticate: () => never, authenticateTimeout: 50, logger });
      await expect(connect()).rejects.toThrow('upgrade refused: 503');
      expect(setup).not.toHaveBeenCalled();
      expect(app.sessions.size).toBe(0);
      expect(logger.warn).toHaveBeenCalledWith({ authenticate_timeout_ms: 50 }, expect.stringMatching(/authenticate did not answer within 50 ms/));
    });

    it('waits for an async authenticate', async () => {
      const verdict = deferred<unknown>();
      const asked = deferred<IncomingMessage>();
      const { connect, sessions } = await start({
        authenticate: (req) => {
          asked.resolve(req);
          return verdict.promise;
        },
      });
      const connecting = connect();
      const req = await within(asked.promise, 'authenticate to be called');
      expect(req.url).toBe('/ws');
      expect(sessions).toHaveLength(0); // nothing exists before the verdict
      verdict.resolve({ user: 'late' });
      const client = await connecting;
      await client.next('agent.ready');
      expect(sessions[0].auth).toEqual({ user: 'late' });
    });
  });

  describe('allowedOrigins', () => {
    it('lets a listed Origin and a request without Origin in, refuses another Origin with 403 before authenticate runs', async () => {
      const authenticate = jest.fn(() => true);
      const { connect, setup } = await start({ allowedOrigins: ['https://app.example'], authenticate });

      const listed = await connect('/ws', { origin: 'https://app.example' });
      await listed.next('agent.ready');
      const noOrigin = await connect('/ws');
      await noOrigin.next('agent.ready');
      expect(authenticate).toHaveBeenCalledTimes(2);

      await expect(connect('/ws', { origin: 'https://evil.example' })).rejects.toThrow('upgrade refused: 403');
      await expect(connect('/ws', { origin: 'https://app.example.evil.example' })).rejects.toThrow('upgrade refused: 403');
      expect(authenticate).toHaveBeenCalledTimes(2);
      expect(setup).toHaveBeenCalledTimes(2);
    });
  });

  describe('the upgrade request', () => {
    it('is cut with 408 when its headers take longer than headersTimeout (slowloris)', async () => {
      const { port, setup } = await start({ headersTimeout: 100 });
      const socket = tcpConnect(port, '127.0.0.1');
      let answer = '';
      socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
      socket.on('error', () => undefined);
      socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'); // never finished

      await within(new Promise((resolve) => socket.once('close', resolve)), 'the server to cut the slow request', 2000);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(setup).not.toHaveBeenCalled();
    });
  });
});
