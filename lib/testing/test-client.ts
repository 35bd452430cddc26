import { Observable, Subject } from 'rxjs';
import type { CrewEvent } from '../events';
import type { CrewSession } from '../session';
import type { CrewConnection, CrewTransport } from '../transport';
import { Inbox } from './inbox';

export interface TestClientOptions {
  /**
   * Pass every event through `JSON.stringify`/`JSON.parse`, as a socket would,
   * so that a test sees exactly what a client receives. Audio events keep their
   * buffers. Default `true`.
   */
  serialize?: boolean;
  /** How long `next()` waits before it rejects (ms). Default 2000. */
  timeout?: number;
}

/** How the session closed the connection. */
export interface TestClientClose {
  code: number;
  reason: string;
}

/** What `next()` looks for: a type (aliases not resolved), or a predicate. */
export type EventMatcher = string | ((event: CrewEvent) => boolean);

/**
 * An in-memory client for a standalone `CrewSession`: what a WebSocket client
 * would do, without a socket. Attach it before or after `start()`.
 *
 * @example
 * const session = new CrewSession();
 * session.addNode(new Echo());
 * const client = new TestClient(session);
 * await session.start();
 * client.send({ type: 'agent.transcript.update', role: 'user', content: 'hi' });
 * const reply = await client.next('agent.speak');
 */
export class TestClient {
  /** Every event the session sent, in order. */
  readonly received: CrewEvent[];
  /** The same events as they arrive (no replay). */
  readonly received$: Observable<CrewEvent>;
  /** Resolves when the session closes the connection. */
  readonly closed: Promise<TestClientClose>;
  /** Set once the connection is closed, by either side. */
  closeInfo: TestClientClose | undefined;

  private readonly connection: CrewConnection;
  private readonly subject = new Subject<CrewEvent>();
  private readonly serialize: boolean;
  private readonly timeout: number;
  private readonly inbox = new Inbox<CrewEvent>('TestClient', (e) => e.type);
  private resolveClosed!: (info: TestClientClose) => void;

  constructor(
    readonly session: CrewSession,
    options: TestClientOptions = {},
  ) {
    this.serialize = options.serialize ?? true;
    this.timeout = options.timeout ?? 2000;
    this.received = this.inbox.items;
    this.received$ = this.subject.asObservable();
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    const transport: CrewTransport = {
      send: (e) => this.deliver(e),
      close: (code, reason) => {
        this.markClosed(code, reason);
        queueMicrotask(() => this.connection.end(code, reason));
      },
    };
    this.connection = session.attach(transport);
  }

  /**
   * Sends what a client would: an event object (validated like a JSON frame),
   * a raw text frame (string), or a binary frame (Buffer: JSON object or audio).
   */
  send(message: object | string | Buffer): void {
    if (typeof message === 'string' || Buffer.isBuffer(message)) this.connection.receive(message, Buffer.isBuffer(message));
    else this.connection.receiveValue(this.serialize ? JSON.parse(JSON.stringify(message)) : message);
  }

  /**
   * The next event not yet read (optionally: the next one matching, skipping
   * the rest). Rejects after the timeout, listing what was received.
   */
  next<E extends CrewEvent = CrewEvent>(match?: EventMatcher, options: { timeout?: number } = {}): Promise<E> {
    return this.inbox.next<E>(toPredicate(match), options.timeout ?? this.timeout, describe(match));
  }

  /** Every received event of `type` (or matching the predicate), read or not. */
  all<E extends CrewEvent = CrewEvent>(match: EventMatcher): E[] {
    return this.received.filter(toPredicate(match)) as E[];
  }

  /** The client hangs up: the session sees the connection end with `code`. */
  close(code = 1000, reason = 'client closed'): void {
    if (this.closeInfo) return;
    this.markClosed(code, reason);
    this.connection.end(code, reason);
  }

  private deliver(e: CrewEvent): void {
    const copy = this.serialize && !(e.audio instanceof Uint8Array) ? (JSON.parse(JSON.stringify(e)) as CrewEvent) : e;
    this.inbox.push(copy, (e) => this.subject.next(e));
  }

  private markClosed(code: number, reason: string): void {
    if (this.closeInfo) return;
    this.closeInfo = { code, reason };
    this.resolveClosed(this.closeInfo);
    this.subject.complete();
  }
}

function toPredicate(match: EventMatcher | undefined): (e: CrewEvent) => boolean {
  if (match === undefined) return () => true;
  if (typeof match === 'string') return (e) => e.type === match;
  return match;
}

function describe(match: EventMatcher | undefined): string {
  if (match === undefined) return '';
  return typeof match === 'string' ? JSON.stringify(match) : 'predicate';
}
