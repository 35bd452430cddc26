import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { introspect } from '../introspection';
import type { CrewSession } from '../../session';
import { INSPECTOR_PAGE } from './page';
import { SessionRecorder } from './recorder';

/** Whether the app's `authenticate` lets an HTTP request in (the upgrade gate's `allows`). */
export type Allows = (req: IncomingMessage) => Promise<boolean>;

/** The feed's period (ms): each watcher gets at most one update per period, only when something changed. */
export const FEED_INTERVAL_MS = 250;
/** The session list shows at most this many (the newest); `total` says how many are live. */
const LISTED_SESSIONS = 200;
/** A comment is sent after this long without an update, so that a dead connection is noticed (ms). */
const KEEPALIVE_MS = 15_000;

interface Watcher {
  readonly res: ServerResponse;
  readonly session: CrewSession | undefined;
  last: string;
  lastWrite: number;
}

interface Watched {
  readonly recorder: SessionRecorder;
  watchers: number;
}

/**
 * The session inspector (`inspector: true`): `GET /inspector` is a page, `GET
 * /inspector/feed[?session=ID]` a stream of server-sent events with the live
 * sessions and, for the one asked for, its graph, per-node counts, recent
 * events and turn metrics; `GET /inspector/mermaid.js` the Mermaid library the
 * page draws with (read from the `mermaid` package once, when first asked).
 *
 * Nothing runs while no one watches: the per-node counters are plain fields the
 * delivery always bumps; a session gets a recorder (its delivery tap) only
 * while a feed watches it; the one timer runs only while a feed is open.
 */
export class Inspector {
  private readonly startedAt = new WeakMap<CrewSession, number>();
  private readonly watchers = new Set<Watcher>();
  private readonly watched = new Map<CrewSession, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private mermaid: Promise<Buffer> | undefined;

  constructor(
    private readonly sessions: ReadonlyMap<string, CrewSession>,
    private readonly allows: Allows,
  ) {}

  /** A session has opened (the list shows when). */
  opened(session: CrewSession): void {
    this.startedAt.set(session, Date.now());
  }

  /** Answers the inspector's routes; `false` for any other path. */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const route = ROUTES.get(pathname);
    if (route === undefined) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return plain(res, 405, 'method not allowed');
    if (!(await this.allows(req))) return plain(res, 401, 'unauthorized');
    if (route === 'page') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(INSPECTOR_PAGE) });
      res.end(req.method === 'HEAD' ? undefined : INSPECTOR_PAGE);
    } else if (route === 'mermaid') {
      const body = await this.mermaidScript();
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=3600', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    } else {
      this.openFeed(req, res);
    }
    return true;
  }

  /** Ends every feed and stops the timer (the app is closing). */
  close(): void {
    for (const w of [...this.watchers]) {
      this.drop(w);
      w.res.end();
    }
  }

  /** How many feeds are open (for tests). */
  get feeds(): number {
    return this.watchers.size;
  }

  private openFeed(req: IncomingMessage, res: ServerResponse): void {
    const id = new URL(req.url ?? '/', 'http://inspector').searchParams.get('session');
    const session = id === null ? undefined : this.sessions.get(id);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    if (req.method === 'HEAD') return void res.end();
    res.write('retry: 2000\n\n');
    const watcher: Watcher = { res, session, last: '', lastWrite: Date.now() };
    this.watchers.add(watcher);
    if (session !== undefined && session.state !== 'closed') this.watch(session);
    res.once('close', () => this.drop(watcher));
    this.push(watcher, this.listing());
    this.timer ??= setInterval(() => this.tick(), FEED_INTERVAL_MS);
    this.timer.unref();
  }

  private watch(session: CrewSession): void {
    const entry = this.watched.get(session);
    if (entry !== undefined) {
      entry.watchers++;
      return;
    }
    const recorder = new SessionRecorder();
    this.watched.set(session, { recorder, watchers: 1 });
    introspect(session)?.setTap(recorder);
  }

  private drop(w: Watcher): void {
    if (!this.watchers.delete(w)) return;
    const entry = w.session && this.watched.get(w.session);
    if (entry !== undefined && --entry.watchers === 0) {
      this.watched.delete(w.session!);
      introspect(w.session!)?.setTap(undefined);
    }
    if (this.watchers.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    const listing = this.listing();
    const now = Date.now();
    for (const w of this.watchers) {
      if (!this.push(w, listing) && now - w.lastWrite > KEEPALIVE_MS) {
        w.lastWrite = now;
        w.res.write(': keepalive\n\n');
      }
    }
  }

  /** Sends `w` the current picture if it differs from the last one sent; whether it did. */
  private push(w: Watcher, listing: unknown): boolean {
    const text = JSON.stringify({ ...(listing as object), session: w.session && this.detail(w.session) });
    if (text === w.last) return false;
    w.last = text;
    w.lastWrite = Date.now();
    w.res.write(`data: ${text}\n\n`);
    return true;
  }

  private listing(): { total: number; sessions: unknown[] } {
    const all = [...this.sessions.values()];
    const shown = all.length > LISTED_SESSIONS ? all.slice(all.length - LISTED_SESSIONS) : all;
    const sessions = shown.map((s) => {
      const counts = introspect(s)?.counts();
      return { id: s.id, started: this.startedAt.get(s) ?? null, state: s.state, in: counts?.fromClient ?? 0, out: counts?.toClient ?? 0 };
    });
    return { total: all.length, sessions };
  }

  private detail(session: CrewSession): unknown {
    const counts = introspect(session)?.counts();
    const byName = new Map(counts?.nodes.map((n) => [n.name, n]));
    // ids as session.toMermaid() numbers the nodes: n1, n2, … in the order added
    const nodes = session.nodes.map((n, i) => ({ id: `n${i + 1}`, name: n.name, in: byName.get(n.name)?.received ?? 0, out: byName.get(n.name)?.emitted ?? 0 }));
    const recorder = this.watched.get(session)?.recorder;
    return {
      id: session.id,
      state: session.state,
      started: this.startedAt.get(session) ?? null,
      mermaid: session.toMermaid(),
      in: counts?.fromClient ?? 0,
      out: counts?.toClient ?? 0,
      nodes,
      recent: recorder?.recent() ?? [],
      turns: recorder?.turns() ?? [],
    };
  }

  private mermaidScript(): Promise<Buffer> {
    this.mermaid ??= readFile(require.resolve('mermaid/dist/mermaid.min.js'));
    // a failed read is tried again next time
    this.mermaid.catch(() => (this.mermaid = undefined));
    return this.mermaid;
  }
}

const ROUTES = new Map<string, 'page' | 'feed' | 'mermaid'>([
  ['/inspector', 'page'],
  ['/inspector/', 'page'],
  ['/inspector/feed', 'feed'],
  ['/inspector/mermaid.js', 'mermaid'],
]);

function plain(res: ServerResponse, status: number, text: string): true {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
  return true;
}
