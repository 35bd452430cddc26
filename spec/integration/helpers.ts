import WebSocket from 'ws';
import { filter, map } from 'rxjs';
import { CrewApp, CrewAppOptions, CrewEvent, CrewLogger, CrewNode, CrewSession, event, node } from 'rxcrew';

/*
 * Shared helpers for the integration specs: a real CrewApp on 127.0.0.1 port 0
 * and real `ws` clients. Nothing here sleeps on wall time; every wait is for a
 * message, a close or a promise, with a timeout only as a failure guard.
 */

/** How long a single wait may take before the test fails with a useful message. */
export const WAIT_MS = 3000;

/** A logger that prints nothing (for tests where errors are expected). */
export const silentLogger: CrewLogger = { error() {}, warn() {}, info() {} };

/** A silent logger whose calls can be asserted on. */
export function recordingLogger(): CrewLogger & { error: jest.Mock; warn: jest.Mock; info: jest.Mock } {
  return { error: jest.fn(), warn: jest.fn(), info: jest.fn() };
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

/** A promise the test settles by hand. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** `promise`, or a rejection naming `what` once `ms` have passed (a failure guard, not a delay). */
export function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** A node that answers each `agent.transcript.update` with `agent.speak` {text: content, session_id}. */
export function echoNode(name = 'echo'): CrewNode {
  return node(name, (input$, ctx) =>
    input$.pipe(
      filter((e) => e.type === 'agent.transcript.update'),
      map((e) => event('agent.speak', { text: e.content, session_id: ctx.session.id })),
    ),
  );
}

/** A setup that adds `echoNode()` and then holds the session unstarted until `gate` settles. */
export function gatedEchoSetup(gate: Promise<void>): (s: CrewSession) => Promise<void> {
  return async (s) => {
    s.addNode(echoNode());
    await gate;
  };
}

/** A valid client event that `echoNode` answers. */
export function say(content: string): CrewEvent {
  return { type: 'agent.transcript.update', role: 'user', content };
}

/** A valid `system.init`. */
export function init(initialVariables: Record<string, unknown> = {}, conversationType = 'chat'): CrewEvent {
  return {
    type: 'system.init',
    version: '1.0',
    session_context: { initial_variables: initialVariables, conversation_type: conversationType },
  };
}

// ---- client ---------------------------------------------------------------

export interface CloseInfo {
  code: number;
  reason: string;
}

/** One frame the client received: a JSON event or an audio buffer, and how it was framed. */
export interface Frame {
  kind: 'json' | 'audio';
  binary: boolean;
  event?: CrewEvent;
  audio?: Buffer;
}

type Matcher = string | ((e: CrewEvent) => boolean);

/** `ws` client options, and the subprotocols to offer. */
export type ConnectOptions = WebSocket.ClientOptions & { protocols?: string[] };

/**
 * A real `ws` client that records every frame. `next(type)` returns the first
 * received event of that type not returned before (also if it arrived before
 * the call), waiting for it if needed.
 */
export class CrewClient {
  readonly frames: Frame[] = [];
  /** Resolves with the close code and reason once the connection has closed. */
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | undefined;

  private readonly taken = new Set<Frame>();
  private waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise<CloseInfo>((resolve) => {
      socket.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        resolve(this.closeInfo);
        this.wake();
      });
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.frames.push(parseFrame(data, isBinary));
      this.wake();
    });
    // errors after the open are reflected in `closed`; keep them from crashing the test process
    socket.on('error', () => undefined);
  }

  /**
   * Opens a connection; rejects when the server refuses the upgrade (the message
   * holds the status). `options` go to `ws` (headers, origin, autoPong, protocols).
   */
  static connect(url: string, options: ConnectOptions = {}): Promise<CrewClient> {
    const { protocols, ...wsOptions } = options;
    return within(
      new Promise<CrewClient>((resolve, reject) => {
        const socket = new WebSocket(url, protocols, wsOptions);
        const client = new CrewClient(socket);
        socket.once('open', () => resolve(client));
        socket.once('error', reject);
        socket.once('unexpected-response', (_req, res) => {
          reject(new Error(`upgrade refused: ${res.statusCode}`));
          socket.terminate();
        });
      }),
      `connection to ${url}`,
    );
  }

  /** Every JSON event received so far, in order. */
  get events(): CrewEvent[] {
    return this.frames.filter((f) => f.kind === 'json').map((f) => f.event!);
  }

  /** Types of every JSON event received so far. */
  get types(): string[] {
    return this.events.map((e) => e.type);
  }

  /** The next JSON event of `type` (or matching a predicate). */
  async next(match: Matcher, ms = WAIT_MS): Promise<CrewEvent> {
    const test = typeof match === 'string' ? (e: CrewEvent) => e.type === match : match;
    const frame = await this.nextFrame((f) => f.kind === 'json' && test(f.event!), typeof match === 'string' ? match : 'predicate', ms);
    return frame.event!;
  }

  /** The next JSON frame (event and framing) of `type`. */
  nextJsonFrame(type: string, ms = WAIT_MS): Promise<Frame> {
    return this.nextFrame((f) => f.kind === 'json' && f.event!.type === type, type, ms);
  }

  /** The next audio frame. */
  async nextAudio(ms = WAIT_MS): Promise<Buffer> {
    return (await this.nextFrame((f) => f.kind === 'audio', 'an audio frame', ms)).audio!;
  }

  nextFrame(test: (f: Frame) => boolean, what: string, ms = WAIT_MS): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const attempt = (): boolean => {
        const found = this.frames.find((f) => !this.taken.has(f) && test(f));
        if (found) {
          this.taken.add(found);
          resolve(found);
          return true;
        }
        if (this.closeInfo) {
          reject(new Error(`connection closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${what}; ${this.describe()}`));
          return true;
        }
        return false;
      };
      const waiter = () => {
        if (!attempt()) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      if (attempt()) return;
      this.waiters.add(waiter);
      timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; ${this.describe()}`));
      }, ms);
    });
  }

  /** Sends an event as JSON, in a text frame or (`binary: true`) a binary frame. */
  send(e: object, options: { binary?: boolean } = {}): void {
    const text = JSON.stringify(e);
    this.socket.send(options.binary ? Buffer.from(text) : text, { binary: options.binary ?? false });
  }

  /** Sends a raw frame: a string as text, a Buffer as binary. */
  sendRaw(data: string | Buffer): void {
    this.socket.send(data, { binary: Buffer.isBuffer(data) });
  }

  /** Closes from the client side and waits for the close to complete. */
  close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason);
    }
    return within(this.closed, 'the client close');
  }

  /**
   * Pings and waits for the pong. The server handles frames in order, so when
   * the pong arrives every frame sent before the ping has been handed to the session.
   */
  roundTrip(): Promise<void> {
    const pong = new Promise<void>((resolve) => this.socket.once('pong', () => resolve()));
    this.socket.ping();
    return within(pong, 'a pong');
  }

  terminate(): void {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.terminate();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private describe(): string {
    const kinds = this.frames.map((f) => (f.kind === 'json' ? f.event!.type : `audio(${f.audio!.length})`));
    return `received: ${kinds.join(', ') || 'nothing'}`;
  }
}

function parseFrame(data: Buffer, isBinary: boolean): Frame {
  if (!isBinary) return { kind: 'json', binary: false, event: JSON.parse(data.toString('utf8')) as CrewEvent };
  if (data.length >= 2 && data[0] === 0x7b && data[data.length - 1] === 0x7d) {
    try {
      return { kind: 'json', binary: true, event: JSON.parse(data.toString('utf8')) as CrewEvent };
    } catch {
      // not JSON after all: audio
    }
  }
  return { kind: 'audio', binary: true, audio: Buffer.from(data) };
}

// ---- app ------------------------------------------------------------------

export interface RunningApp {
  app: CrewApp;
  port: number;
  /** http://127.0.0.1:PORT */
  http: string;
  /** Connects a client to `path` (default `/ws`, may hold a query), with `ws` options. */
  connect(path?: string, options?: ConnectOptions): Promise<CrewClient>;
  /** Connects a client and waits for its `agent.ready`. */
  connectReady(path?: string): Promise<CrewClient>;
}

/**
 * Starts apps and clients and closes all of them in `cleanup()`; create one per
 * spec file and call `cleanup` in `afterEach`.
 */
export class Harness {
  private apps: CrewApp[] = [];
  private clients: CrewClient[] = [];

  /** Starts a CrewApp on 127.0.0.1, port 0 unless given. `closeTimeout` defaults to 2000 ms. */
  async start(options: Omit<CrewAppOptions, 'host'>): Promise<RunningApp> {
    const app = new CrewApp({ port: 0, closeTimeout: 2000, ...options, host: '127.0.0.1' });
    this.apps.push(app);
    const { port } = await app.listen();
    return this.running(app, port);
  }

  /** Wraps an app the test created and started itself (it is closed in `cleanup`). */
  running(app: CrewApp, port: number): RunningApp {
    if (!this.apps.includes(app)) this.apps.push(app);
    const connect = (path = '/ws', options?: ConnectOptions) => this.connect(`ws://127.0.0.1:${port}${path}`, options);
    return {
      app,
      port,
      http: `http://127.0.0.1:${port}`,
      connect,
      connectReady: async (path) => {
        const client = await connect(path);
        await client.next('agent.ready');
        return client;
      },
    };
  }

  async connect(url: string, options?: ConnectOptions): Promise<CrewClient> {
    const client = await CrewClient.connect(url, options);
    this.clients.push(client);
    return client;
  }

  async cleanup(): Promise<void> {
    const clients = this.clients;
    const apps = this.apps;
    this.clients = [];
    this.apps = [];
    for (const c of clients) c.terminate();
    await Promise.all(apps.map((a) => a.close()));
  }
}
