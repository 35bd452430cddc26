import { createServer, IncomingMessage, Server } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { CrewApp, CrewSession, redisStore } from 'rxcrew';
import WebSocket, { WebSocketServer } from 'ws';
import { createVoiceSetup } from '../../demos/voice-agent/setup';
import { publicFolder, staticFiles } from '../../demos/voice-agent/static-files';
import { within } from '../integration/helpers';
import { RedisServer, startRedis } from '../support/redis-server';
import { describeIfChromium, launchChromiumWithMicrophone } from '../support/chromium';

/*
 * The voice demo page losing its connection, in Debian's Chromium: the page is
 * served as the demo serves it, and /ws is a stand-in for a server with a
 * session store (plain `ws`) that hands out resume tokens and closes or drops
 * the page's socket when the test says; the last test runs the demo's own app
 * with its sessions in a real Redis. Every wait is on something the page shows
 * or a frame the stand-in gets; timeouts only guard.
 */

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };
type Json = { type: string; [field: string]: unknown };

/** One connection of the page: its URL, its JSON frames and how many audio frames came. */
class Connection {
  readonly received: Json[] = [];
  audioFrames = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly socket: WebSocket,
    readonly url: URL,
  ) {
    socket.on('message', (data: Buffer, isBinary) => {
      if (isBinary) this.audioFrames++;
      else this.received.push(JSON.parse(data.toString()) as Json);
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** Resolves once `ok()` holds. */
  until(ok: () => boolean, what: string): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (!ok()) return;
          this.waiters.delete(check);
          resolve();
        };
        this.waiters.add(check);
        check();
      }),
      `${what}; got ${JSON.stringify(this.received)} and ${this.audioFrames} audio frames`,
      15_000,
    );
  }

  got(type: string, count = 1): Promise<void> {
    return this.until(() => this.received.filter((e) => e.type === type).length >= count, `${count} × ${type}`);
  }

  send(...events: Json[]): void {
    for (const e of events) this.socket.send(JSON.stringify(e));
  }

  lines(): unknown[] {
    return this.received.filter((e) => e.type === 'agent.transcript.update' && e.role === 'user').map((e) => e.content);
  }
}

const ready = (session_id: string, resume_token?: string): Json => ({ type: 'agent.ready', session_id, ...(resume_token ? { resume_token } : {}) });

describeIfChromium('voice demo page resuming in Chromium', () => {
  let http: Server;
  let wss: WebSocketServer;
  let browser: Browser;
  let page: Page;
  let url: string;
  const connections: Connection[] = [];
  const arrivals = new Set<() => void>();

  beforeAll(async () => {
    const files = staticFiles(publicFolder());
    http = createServer((req, res) => {
      void Promise.resolve(files(req, res)).then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    wss = new WebSocketServer({ server: http, path: '/ws' });
    wss.on('connection', (ws, req: IncomingMessage) => {
      connections.push(new Connection(ws, new URL(req.url ?? '/', 'ws://127.0.0.1')));
      for (const wake of [...arrivals]) wake();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(http.address() as { port: number }).port}/`;
    browser = await launchChromiumWithMicrophone();
  }, 60_000);

  beforeEach(async () => {
    page = await browser.newPage();
    // counts the page's microphone requests: a resume must not ask again
    // (a string: it runs in the page, and this project compiles without the DOM types)
    await page.addInitScript(`
      window.micRequests = 0;
      const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (constraints) => {
        window.micRequests++;
        return original(constraints);
      };
    `);
  });

  afterEach(async () => {
    await page?.close();
    for (const c of connections) c.socket.terminate();
    connections.length = 0;
  });

  afterAll(async () => {
    await browser?.close();
    wss?.close();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  });

  /** The `n`th connection (1 = the first) of this test's page. */
  function connection(n: number): Promise<Connection> {
    return within(
      new Promise<Connection>((resolve) => {
        const check = () => {
          if (connections.length < n) return;
          arrivals.delete(check);
          resolve(connections[n - 1]);
        };
        arrivals.add(check);
        check();
      }),
      `connection ${n}; ${connections.length} so far`,
      15_000,
    );
  }

  const status = (state: string, text: string) => page.waitForSelector(`#status[data-state="${state}"]:has-text("${text}")`, { timeout: 15_000 });

  /** Opens the page and makes it ready on connection 1 with `token` (none: no store). */
  async function readyPage(token: string | undefined): Promise<Connection> {
    await page.goto(url);
    const first = await connection(1);
    await first.got('system.init');
    first.send(ready('s-1', token));
    await status('ready', 'connected');
    return first;
  }

  async function type(text: string): Promise<void> {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
  }

  it('reconnects after 1012 with ?resume=, shows "resumed", sends what was typed meanwhile, and keeps the microphone', async () => {
    const first = await readyPage('tok-1');
    await page.click('#mic');
    await first.until(() => first.audioFrames > 0, 'microphone audio');

    first.socket.close(1012, 'server restart');
    const second = await connection(2);
    expect(second.url.pathname).toBe('/ws');
    expect(second.url.searchParams.get('resume')).toBe('tok-1');
    await second.got('system.init');
    // no agent.ready yet: the page is still reconnecting, and what is typed waits
    await status('reconnecting', 'connection lost (1012); reconnecting');
    await type('typed while away');
    await page.waitForSelector('#messages li.user.queued:has-text("typed while away")');

    second.send(ready('s-1', 'tok-2'));
    await status('ready', 'resumed');
    await second.got('system.llm.request');
    expect(second.received.map((e) => e.type)).toEqual(['system.init', 'system.user.joined', 'agent.transcript.update', 'system.llm.request']);
    expect(second.lines()).toEqual(['typed while away']);
    expect(first.lines()).toEqual([]);
    await page.waitForSelector('#messages li.user:not(.queued):has-text("typed while away")');

    // the same microphone pipeline, now on the new socket
    const before = second.audioFrames;
    await second.until(() => second.audioFrames > before, 'microphone audio after the resume');
    expect(await page.evaluate('window.micRequests')).toBe(1);
    expect(await page.getAttribute('#mic', 'aria-pressed')).toBe('true');
  }, 60_000);

  it('after a dropped socket (1006) and a refused token, says so and asks the cut message again in the new session', async () => {
    const first = await readyPage('tok-1');
    await type('a question');
    await first.got('system.llm.request'); // never answered there
    first.send({ type: 'agent.llm.response.start', request_id: 'r1' }, { type: 'agent.llm.response.chunk', text: 'Let me' });
    await page.waitForSelector('#messages li.agent:has-text("Let me")');
    first.socket.terminate();

    const second = await connection(2);
    expect(second.url.searchParams.get('resume')).toBe('tok-1');
    await second.got('system.init');
    second.send(ready('s-2', 'tok-new'), {
      type: 'agent.error',
      severity: 'warning',
      message: 'the session could not be resumed (the session has ended or expired); this is a new session',
      payload: { code: 'CREW_ERR_RESUME_REFUSED', reason: 'the session has ended or expired' },
    });
    await status('ready', 'new session (could not resume: the session has ended or expired)');
    await second.got('system.llm.request');
    expect(second.lines()).toEqual(['a question']);
    await page.waitForSelector('#messages li.agent.cut:has-text("Let me")');

    // a later loss resumes with the new session's token
    second.socket.close(1011, 'oops');
    const third = await connection(3);
    expect(third.url.searchParams.get('resume')).toBe('tok-new');
  }, 60_000);

  it('does not reconnect without a resume token', async () => {
    const first = await readyPage(undefined);
    first.socket.close(1012, 'server restart');
    await status('closed', 'closed (1012)');
    expect(await page.evaluate('window.rxcrewDemo.lost')).toBeNull();
    expect(connections).toHaveLength(1);
  }, 60_000);

  describe('with the demo app and a Redis store', () => {
    let redis: RedisServer;
    let app: CrewApp;
    let demoUrl: string;
    const sessions: CrewSession[] = [];

    beforeAll(async () => {
      redis = await startRedis();
      const setup = createVoiceSetup({ log: () => undefined });
      app = new CrewApp({
        setup: (session) => (sessions.push(session), setup(session)),
        http: staticFiles(publicFolder()),
        host: '127.0.0.1',
        port: 0,
        logger: quiet,
        secret: 'a test secret of enough length',
        store: redisStore({ url: redis.url, keyPrefix: `voice${process.pid}:` }),
      });
      demoUrl = `http://127.0.0.1:${(await app.listen()).port}/`;
    }, 20_000);
    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    it('comes back to the same session after the server closes with 1012, without a second greeting', async () => {
      await page.goto(demoUrl);
      await status('ready', 'connected');
      await page.waitForSelector('#messages li.agent:has-text("Hello!")', { timeout: 15_000 });
      const [first] = sessions;
      await first.stop('draining', 1012);
      await status('ready', 'resumed');
      expect(sessions.map((x) => [x.id, x.resumed])).toEqual([
        [first.id, false],
        [first.id, true],
      ]);
      expect(await page.evaluate('window.rxcrewDemo.sessionId')).toBe(first.id);
      await type('hello');
      await page.waitForFunction("window.rxcrewDemo.events.includes('in agent.llm.response.end')", undefined, { timeout: 15_000 });
      // the greeting came once (a second one would have come right after agent.ready, before this answer)
      expect(await page.locator(`#messages li.agent:has-text("I'm the rxcrew voice demo")`).count()).toBe(1);
    }, 60_000);
  });
});
