import type { IncomingMessage } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { within } from '../integration/helpers';
import type { ChatOptions } from '../../lib/cli/chat';
import { ChatRun, startChat } from './helpers';
import { Json, JsonFrames } from '../support/json-frames';

/*
 * rxcrew chat losing its connection, against a stand-in for a server with a
 * session store, built on plain `ws`: it hands out resume tokens, closes or
 * drops the connection when the test says, and shows each connection's URL and
 * frames. Every wait is on a frame, a connection or a line of output.
 */

/** One connection to the fake: its URL, every JSON frame it got, and waits on them. */
class Connection extends JsonFrames {
  readonly closed: Promise<number>;

  constructor(
    readonly socket: WebSocket,
    readonly url: URL,
  ) {
    super();
    this.closed = new Promise((resolve) => socket.on('close', resolve));
    this.record(socket);
  }

  send(...events: Json[]): void {
    for (const e of events) this.socket.send(JSON.stringify(e));
  }

  /** What the user said on this connection, in order. */
  lines(): unknown[] {
    return this.received.filter((e) => e.type === 'agent.transcript.update' && e.role === 'user').map((e) => e.content);
  }
}

class FakeServer {
  static async listen(): Promise<FakeServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    return new FakeServer(wss);
  }

  readonly connections: Connection[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly wss: WebSocketServer) {
    this.url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/ws`;
    wss.on('connection', (ws, req: IncomingMessage) => {
      this.connections.push(new Connection(ws, new URL(req.url ?? '/', 'ws://127.0.0.1')));
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** Where it listens (kept after it stops listening). */
  readonly url: string;

  /** The `n`th connection (1 = the first), once it is open. */
  connection(n: number): Promise<Connection> {
    return within(
      new Promise<Connection>((resolve) => {
        const check = () => {
          if (this.connections.length < n) return;
          this.waiters.delete(check);
          resolve(this.connections[n - 1]);
        };
        this.waiters.add(check);
        check();
      }),
      `connection ${n}; ${this.connections.length} so far`,
    );
  }

  /** Stops listening at once (connections from now on are refused); open ones stay. */
  stopListening(): void {
    this.wss.close();
  }

  /** Drops every connection and resolves once the server has closed. */
  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

const ready = (session_id: string, resume_token?: string): Json => ({ type: 'agent.ready', session_id, ...(resume_token ? { resume_token } : {}) });
const start = { type: 'agent.llm.response.start', request_id: 'r1' };
const end = { type: 'agent.llm.response.end' };
const chunk = (text: string) => ({ type: 'agent.llm.response.chunk', text });
const refusal: Json = {
  type: 'agent.error',
  severity: 'warning',
  message: 'the session could not be resumed (the session has ended or expired); this is a new session',
  payload: { code: 'CREW_ERR_RESUME_REFUSED', reason: 'the session has ended or expired' },
};

describe('rxcrew chat after a lost connection', () => {
  let server: FakeServer;
  beforeEach(async () => {
    server = await FakeServer.listen();
  });
  afterEach(() => server.close());

  /** A chat joined to connection 1, which gave it `token` (none: no store). */
  async function joinedChat(token: string | undefined, options: Partial<ChatOptions> = {}, url = server.url): Promise<{ run: ChatRun; first: Connection }> {
    const run = startChat(url, options);
    const first = await server.connection(1);
    await first.got('system.init');
    first.send(ready('s-1', token));
    await first.got('system.user.joined');
    return { run, first };
  }

  /** Answers the `count`th request on `conn` with `text` in one chunk. */
  async function answer(conn: Connection, count: number, text: string): Promise<void> {
    await conn.got('system.llm.request', count);
    conn.send(start, chunk(text), end);
  }

  it('reconnects after 1012 with ?resume=TOKEN, keeps the query, and sends a line typed meanwhile after the resume', async () => {
    const { run, first } = await joinedChat('tok-1', {}, `${server.url}?agent=sales`);
    run.say('hello');
    await answer(first, 1, 'hi!');
    await run.output.printed('agent: hi!\n');

    first.socket.close(1012, 'server restart');
    await run.errors.printed('rxcrew: connection lost (1012 server restart); reconnecting…\n');
    run.say('typed while away');
    const second = await server.connection(2);
    expect(second.url.pathname).toBe('/ws');
    expect(second.url.searchParams.get('resume')).toBe('tok-1');
    expect(second.url.searchParams.get('agent')).toBe('sales');
    await second.got('system.init');
    second.send(ready('s-1', 'tok-2'));
    await answer(second, 1, 'welcome back');
    run.end();

    expect(await run.done()).toBe(0);
    expect(await second.closed).toBe(1000);
    expect(first.lines()).toEqual(['hello']);
    expect(second.received.map((e) => e.type)).toEqual(['system.init', 'system.user.joined', 'agent.transcript.update', 'system.llm.request', 'agent.transcript.update']);
    expect(second.lines()).toEqual(['typed while away']);
    expect(run.output.text).toBe('agent: hi!\nagent: welcome back\n');
    expect(run.errors.text).toBe('rxcrew: connection lost (1012 server restart); reconnecting…\nrxcrew: resumed session s-1\n');
  });

  it('reconnects after the socket is dropped (1006) and shows the reply in flight again from the start', async () => {
    const { run, first } = await joinedChat('tok-1');
    run.say('tell me a story');
    await first.got('system.llm.request');
    first.send(start, chunk('Once'));
    await run.output.printed('agent: Once');
    first.socket.terminate();

    const second = await server.connection(2);
    expect(second.url.searchParams.get('resume')).toBe('tok-1');
    await second.got('system.init');
    // a resumed session answers the request in flight again, at once
    second.send(ready('s-1', 'tok-2'), start, chunk('Once upon '), chunk('a time'), end);
    await second.got('agent.transcript.update');
    run.end();

    expect(await run.done()).toBe(0);
    expect(run.output.text).toBe('agent: Once (connection lost)\nagent: Once upon a time\n');
    expect(run.errors.text).toBe('rxcrew: connection lost (1006); reconnecting…\nrxcrew: resumed session s-1\n');
    // the line is not asked again; the agent hears what the user saw of the answer
    expect(second.received.slice(1)).toEqual([
      { type: 'system.user.joined' },
      { type: 'agent.transcript.update', role: 'assistant', content: 'Once upon a time' },
    ]);
  });

  it('prints a refusal, goes on with the new session, asks the cut line again there, and resumes later with the new token', async () => {
    const { run, first } = await joinedChat('tok-1');
    run.say('a question');
    await first.got('system.llm.request'); // never answered on this connection
    first.socket.close(1012, 'server restart');

    const second = await server.connection(2);
    await second.got('system.init');
    second.send(ready('s-2', 'tok-new'), refusal, { type: 'agent.speak', text: 'Hello again!' });
    await answer(second, 1, 'an answer');
    await run.output.printed('agent: an answer\n');
    expect(run.errors.text).toBe(
      'rxcrew: connection lost (1012 server restart); reconnecting…\nrxcrew: could not resume (the session has ended or expired); new session s-2\n',
    );
    expect(second.lines()).toEqual(['a question']);

    second.socket.close(1001, 'going away');
    const third = await server.connection(3);
    expect(third.url.searchParams.get('resume')).toBe('tok-new');
    await third.got('system.init');
    third.send(ready('s-2', 'tok-3'));
    await third.got('system.user.joined');
    run.end();
    expect(await run.done()).toBe(0);
    expect(run.errors.text).toMatch(/going away\); reconnecting…\nrxcrew: resumed session s-2\n$/);
    expect(run.output.text).toBe('agent: Hello again!\nagent: an answer\n');
  });

  it('does not reconnect without a resume token: exits 1 as before', async () => {
    const { run, first } = await joinedChat(undefined);
    first.socket.close(1012, 'server restart');
    expect(await run.done()).toBe(1);
    expect(run.errors.text).toBe('rxcrew: the server closed the connection (1012 server restart)\n');
    expect(server.connections).toHaveLength(1);
  });

  it('does not reconnect after a normal close (1000), even with a token', async () => {
    const { run, first } = await joinedChat('tok-1');
    first.socket.close(1000, 'bye');
    expect(await run.done()).toBe(1);
    expect(run.errors.text).toBe('rxcrew: the server closed the connection (1000 bye)\n');
    expect(server.connections).toHaveLength(1);
  });

  it('gives up after the last attempt and exits 1', async () => {
    const { run, first } = await joinedChat('tok-1', { reconnect: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 } });
    server.stopListening();
    first.socket.close(1012, 'server restart');
    expect(await run.done()).toBe(1);
    expect(run.errors.text).toBe(
      `rxcrew: connection lost (1012 server restart); reconnecting…\nrxcrew: could not reconnect to ${server.url} after 3 attempts (last: ECONNREFUSED)\n`,
    );
  });

  it('counts an attempt without agent.ready in time as failed, without a normal close that would end the session', async () => {
    const { run, first } = await joinedChat('tok-1', { readyTimeout: 200, reconnect: { maxAttempts: 1 } });
    first.socket.close(1012, 'server restart');
    const second = await server.connection(2);
    expect(await run.done()).toBe(1);
    expect(await second.closed).toBe(1006);
    expect(run.errors.text).toMatch(/after 1 attempt \(last: no agent.ready within 0.2 s\)\n$/);
  });

  it('leaves with 1000 and exit code 0 on Ctrl-C while reconnecting', async () => {
    const { run, first } = await joinedChat('tok-1');
    first.socket.close(1012, 'server restart');
    const second = await server.connection(2);
    await second.got('system.init'); // no agent.ready: still reconnecting
    run.handle.interrupt();
    expect(await run.done()).toBe(0);
    expect(await second.closed).toBe(1000);
    expect(server.connections).toHaveLength(2);
  });
});
