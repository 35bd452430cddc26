import { filter, map } from 'rxjs';
import { CrewApp, CrewSession, event, node } from 'rxcrew';
import { deferred, echoNode, Harness, say, silentLogger, within } from '../../integration/helpers';

/*
 * The inspector over real HTTP (127.0.0.1, port 0): its routes, `authenticate`
 * on them, and the feed (server-sent events, read with fetch's stream) as a
 * real client talks. Every wait is for a feed message or a close.
 */

interface Feed {
  total: number;
  sessions: Array<{ id: string; started: number | null; state: string; in: number; out: number }>;
  session?: {
    id: string;
    state: string;
    mermaid: string;
    in: number;
    out: number;
    nodes: Array<{ id: string; name: string; in: number; out: number }>;
    recent: Array<{ t: number; type: string; dir: string; n: number; bytes?: number; name?: string }>;
    turns: unknown[];
  };
}

/** An open feed: every message parsed, `next(test)` waits for one passing `test`. */
class FeedReader {
  readonly messages: Feed[] = [];
  readonly ended: Promise<void>;
  private readonly controller = new AbortController();
  private wake: () => void = () => undefined;
  private done = false;

  constructor(readonly url: string) {
    this.ended = this.read();
  }

  next(test: (f: Feed) => boolean, what: string): Promise<Feed> {
    return within(
      new Promise<Feed>((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < this.messages.length; seen++) if (test(this.messages[seen])) return resolve(this.messages[seen]);
          if (this.done) reject(new Error(`feed ended while waiting for ${what}`));
        };
        const previous = this.wake;
        this.wake = () => {
          previous();
          check();
        };
        check();
      }),
      what,
    );
  }

  close(): void {
    this.controller.abort();
  }

  private async read(): Promise<void> {
    try {
      const res = await fetch(this.url, { signal: this.controller.signal });
      if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error(`feed answered ${res.status}`);
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) this.messages.push(JSON.parse(line.slice(6)) as Feed);
          this.wake();
        }
      }
    } catch (err) {
      if (!this.controller.signal.aborted) throw err;
    } finally {
      this.done = true;
      this.wake();
    }
  }
}

/** The app's inspector (private): how many feeds it holds open. */
const openFeeds = (app: CrewApp): number => (app['inspector'] as { feeds: number }).feeds;

describe('the session inspector over HTTP', () => {
  const h = new Harness();
  const readers: FeedReader[] = [];
  afterEach(async () => {
    for (const r of readers.splice(0)) r.close();
    await h.cleanup();
  });
  const feed = (url: string) => {
    const reader = new FeedReader(url);
    readers.push(reader);
    return reader;
  };

  it('is not served without the option: /inspector and its feed are 404', async () => {
    const { http } = await h.start({ setup: (s) => void s.addNode(echoNode()) });
    for (const path of ['/inspector', '/inspector/feed', '/inspector/mermaid.js']) expect((await fetch(`${http}${path}`)).status).toBe(404);
  });

  it('serves the page and the Mermaid library when on', async () => {
    const { http } = await h.start({ setup: (s) => void s.addNode(echoNode()), inspector: true });
    const page = await fetch(`${http}/inspector`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<title>rxcrew inspector</title>');
    const script = await fetch(`${http}/inspector/mermaid.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('globalThis["mermaid"]');
    expect((await fetch(`${http}/inspector/other`)).status).toBe(404);
    expect((await fetch(`${http}/inspector`, { method: 'POST' })).status).toBe(405);
  });

  it('answers 401 when authenticate refuses (or throws), 200 when it accepts', async () => {
    const { http } = await h.start({
      setup: (s) => void s.addNode(echoNode()),
      inspector: true,
      logger: silentLogger,
      authenticate: (req) => {
        const token = new URL(req.url!, 'http://x').searchParams.get('token');
        if (token === 'throw') throw new Error('auth backend down');
        return token === 'secret' ? { user: 'ops' } : false;
      },
    });
    for (const path of ['/inspector', '/inspector/feed', '/inspector/mermaid.js']) {
      expect((await fetch(`${http}${path}`)).status).toBe(401);
      expect((await fetch(`${http}${path}?token=wrong`)).status).toBe(401);
      expect((await fetch(`${http}${path}?token=throw`)).status).toBe(401);
    }
    expect((await fetch(`${http}/inspector?token=secret`)).status).toBe(200);
    const reader = feed(`${http}/inspector/feed?token=secret`);
    expect((await reader.next(() => true, 'the first feed message')).sessions).toEqual([]);
  });

  it('lists live sessions, and the counts of a watched session move as its client sends events', async () => {
    const sessions: CrewSession[] = [];
    const shout = node('shout', (input$) =>
      input$.pipe(
        filter((e) => e.type === 'agent.speak'),
        map((e) => event('agent.speak', { text: String(e.text).toUpperCase() })),
      ),
    );
    const { app, http, connectReady } = await h.start({
      inspector: true,
      setup: async (s) => {
        sessions.push(s);
        const echo = echoNode();
        s.addNode(echo).addNode(shout).addEdge(echo, shout);
        await s.start();
      },
    });
    const client = await connectReady();
    const id = sessions[0].id;

    const list = feed(`${http}/inspector/feed`);
    const listed = await list.next((f) => f.sessions.some((s) => s.id === id), 'the session in the list');
    expect(listed.total).toBe(1);
    expect(listed.sessions[0]).toEqual({ id, started: expect.any(Number), state: 'running', in: expect.any(Number), out: expect.any(Number) });
    expect(listed.session).toBeUndefined();

    const watch = feed(`${http}/inspector/feed?session=${id}`);
    const first = await watch.next((f) => f.session?.id === id, 'the watched session');
    expect(first.session!.mermaid).toBe(sessions[0].toMermaid());
    expect(first.session!.nodes.map((n) => [n.id, n.name])).toEqual([
      ['n1', 'echo'],
      ['n2', 'shout'],
    ]);
    const echoBefore = first.session!.nodes[0];

    client.send(say('hi'));
    client.send(say('there'));
    await client.next((e) => e.type === 'agent.speak' && e.text === 'THERE');
    const moved = await watch.next((f) => f.session!.nodes[1].out >= 2, 'shout to have emitted 2');
    const [echo, shouted] = moved.session!.nodes;
    expect(echo.in - echoBefore.in).toBe(2);
    expect(echo.out - echoBefore.out).toBe(2);
    expect(shouted).toMatchObject({ in: 2, out: 2 });
    // each event once, as it entered or left (summaries: type, direction, time)
    expect(moved.session!.recent.slice(-4).map((e) => `${e.dir} ${e.type}`)).toEqual([
      'in agent.transcript.update',
      'out agent.speak',
      'in agent.transcript.update',
      'out agent.speak',
    ]);
    // the list moves too (at most one update per period, only when something changed)
    await list.next((f) => f.sessions[0].in >= listed.sessions[0].in + 2, 'the list counts to move');

    // a feed that goes away is forgotten (no timer is left once none is open)
    list.close();
    watch.close();
    await Promise.all([list.ended, watch.ended]);
    await within(waitFor(() => openFeeds(app) === 0), 'the feeds to be dropped');
    expect((app['inspector'] as unknown as { timer?: unknown }).timer).toBeUndefined();
  });

  it('shows audio as a type and a byte count, and turn.metrics as turns', async () => {
    const sessions: CrewSession[] = [];
    const { http, connectReady } = await h.start({
      inspector: true,
      setup: async (s) => {
        sessions.push(s);
        s.addNode(node('mute', (input$) => input$.pipe(filter(() => false))));
        await s.start();
      },
    });
    const client = await connectReady();
    const watch = feed(`${http}/inspector/feed?session=${sessions[0].id}`);
    await watch.next((f) => f.session !== undefined, 'the watched session');
    client.sendRaw(Buffer.alloc(640, 1));
    client.sendRaw(Buffer.alloc(320, 1));
    const metrics = { request_id: 'r1', ttft_ms: 12, duration_ms: 40, tool_ms: 0, interrupted: false, chunks: 3, outcome: 'completed' };
    sessions[0].send(event('agent.log', { name: 'turn.metrics', payload: metrics }));
    const seen = await watch.next((f) => f.session!.turns.length === 1 && f.session!.recent.some((e) => e.type === 'user.audio' && e.n === 2), 'audio and a turn');
    expect(seen.session!.recent.find((e) => e.type === 'user.audio')).toEqual({ t: expect.any(Number), type: 'user.audio', dir: 'in', n: 2, bytes: 960 });
    expect(seen.session!.turns).toEqual([metrics]);
  });

  it('app.close() ends the open feeds', async () => {
    const { app, http } = await h.start({ setup: (s) => void s.addNode(echoNode()), inspector: true });
    const reader = feed(`${http}/inspector/feed`);
    await reader.next(() => true, 'the first message');
    const closed = deferred();
    void reader.ended.then(() => closed.resolve());
    await app.close();
    await within(closed.promise, 'the feed to end');
    expect(openFeeds(app)).toBe(0);
  });
});

/** Resolves once `test()` holds, checking on each turn of the event loop. */
function waitFor(test: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => (test() ? resolve() : setImmediate(check));
    check();
  });
}
