import WebSocket from 'ws';

/**
 * The wait before reconnect attempt `attempt` (0: the first after the loss)
 * after a connection closed with `code` (ms).
 */
export type ReconnectDelay = (attempt: number, code: number) => number;

/** At once, then every 50 ms: the specs' callers come back as fast as they can. */
export const AT_ONCE: ReconnectDelay = (attempt) => (attempt === 0 ? 0 : 50);

/**
 * A chat client that does what ours do when the connection goes: it
 * reconnects with its `resume_token` (waiting `delay` before each attempt; by
 * default at once, then every 50 ms; up to `maxAttempts`), and waits for the
 * answer to the question it asked — which a resumed session gives again from
 * the start (`agent.llm.response.start` with the same `request_id`). It
 * records every session id it was given.
 */
export class ResumingCaller {
  /** Every session id `agent.ready` gave, in order (one, for a call never cut). */
  readonly sessionIds: string[] = [];
  /** When each `agent.ready` came (ms, `performance.now()`). */
  readonly readyAt: number[] = [];
  token: string | undefined;
  /** Close codes of the connections that ended, in order. */
  readonly closes: number[] = [];
  /** Set when the caller gave up (cannot reconnect); the call is cut. */
  failure: Error | undefined;
  private ws: WebSocket | undefined;
  /** Whether the current connection has had its `agent.ready` (the session is there to take events). */
  private joined = false;
  /** Events sent while there was no joined connection: they go, in order, after the next `agent.ready`. */
  private readonly waiting: string[] = [];
  private ready: (() => void) | undefined;
  private asking: { id: string; text: string; chunks: number; resolve: (text: string) => void; reject: (err: Error) => void } | undefined;
  private stopping = false;
  /** Called on each message (a test may watch for events). */
  onEvent: ((e: Record<string, unknown>) => void) | undefined;

  constructor(
    private readonly url: string,
    private readonly maxAttempts = 200,
    private readonly delay: ReconnectDelay = AT_ONCE,
  ) {}

  /** Connects (with the token, once it has one); resolves on `agent.ready`. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ready = resolve;
      this.open(0, 0, reject);
    });
  }

  get sessionId(): string | undefined {
    return this.sessionIds.at(-1);
  }

  /** How many pieces of the answer in progress have come (0 when none is asked). */
  get chunksReceived(): number {
    return this.asking?.chunks ?? 0;
  }

  /** Whether a question is waiting for its answer. */
  get busy(): boolean {
    return this.asking !== undefined;
  }

  /** The text of the answer in progress so far. */
  get partial(): string {
    return this.asking?.text ?? '';
  }

  /** Says `words` and asks for an answer (request id = `words`); resolves with the answer's whole text, wherever it came from. */
  ask(words: string): Promise<string> {
    if (this.asking !== undefined) throw new Error('one question at a time');
    return new Promise((resolve, reject) => {
      this.asking = { id: words, text: '', chunks: 0, resolve, reject };
      this.send({ type: 'agent.transcript.update', role: 'user', content: words });
      this.send({ type: 'system.llm.request', request_id: words });
    });
  }

  /** Sends `e` now, or — between connections, as our clients do — after the next `agent.ready` (ws drops a send on a closing socket). */
  send(e: object): void {
    const text = JSON.stringify(e);
    if (this.joined && this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
    else this.waiting.push(text);
  }

  /** Ends the call normally (1000). */
  close(): Promise<void> {
    this.stopping = true;
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000);
    });
  }

  terminate(): void {
    this.stopping = true;
    this.ws?.terminate();
  }

  /** `attempt`: attempts since the connection was lost with close code `lost`. */
  private open(attempt: number, lost: number, reject?: (err: Error) => void): void {
    const url = this.token === undefined ? this.url : `${this.url}?resume=${encodeURIComponent(this.token)}`;
    const ws = (this.ws = new WebSocket(url));
    let opened = false;
    ws.on('open', () => (opened = true));
    ws.on('message', (data) => this.message(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('error', () => undefined); // the close follows
    ws.on('close', (code) => {
      this.joined = false;
      if (opened) this.closes.push(code);
      if (this.stopping || code === 1000) return;
      if (attempt + 1 >= this.maxAttempts) {
        this.failure = new Error(`could not reconnect after ${this.maxAttempts} attempts (last close ${code})`);
        this.asking?.reject(this.failure);
        reject?.(this.failure);
        return;
      }
      // a refused upgrade (a draining or dead worker) does not open: the next attempt; a cut call starts again from the first
      const [next, cause] = opened ? [0, code] : [attempt + 1, lost];
      setTimeout(() => this.open(next, cause, reject), this.delay(next, cause));
    });
  }

  private message(e: Record<string, unknown>): void {
    this.onEvent?.(e);
    const asking = this.asking;
    switch (e.type) {
      case 'agent.ready':
        this.sessionIds.push(String(e.session_id));
        this.readyAt.push(performance.now());
        if (typeof e.resume_token === 'string') this.token = e.resume_token;
        this.joined = true;
        for (const text of this.waiting.splice(0)) this.ws!.send(text);
        this.ready?.();
        this.ready = undefined;
        return;
      case 'agent.llm.response.start':
        // the answer begins (again, after a resume): what came before is void
        if (asking !== undefined && e.request_id === asking.id) {
          asking.text = '';
          asking.chunks = 0;
        }
        return;
      case 'agent.llm.response.chunk':
        if (asking !== undefined) {
          asking.text += String(e.text);
          asking.chunks++;
        }
        return;
      case 'agent.llm.response.end':
        // an end cut short by the connection's end is not the answer: the resumed session gives it again
        if (asking !== undefined && e.interrupted !== true) {
          this.asking = undefined;
          asking.resolve(asking.text);
        }
        return;
    }
  }
}
