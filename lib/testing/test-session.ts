import { inspect } from 'node:util';
import type { SetupHandler } from '../app-options';
import { InvalidArgumentError } from '../errors';
import type { CrewEvent } from '../events';
import { runSetup } from '../internal/run-setup';
import { CrewSession } from '../session';
import type { CrewLogger, CrewSessionOptions } from '../session-options';
import type { LogFields } from '../logger';
import {
  Comparison,
  defaultAssert,
  describeMismatch,
  drawMarble,
  ExpectedFrame,
  firstDifference,
  interruptFor,
  marbleSteps,
  marksOf,
  SessionFrame,
  valueFor,
} from './marble-steps';
import { TestClient, TestClientClose } from './test-client';
import { VirtualClock } from './virtual-clock';

/** The marbles of a whole-session test. Every marble is hot: frame 0 is when the session is set up. */
export interface SessionMarbles {
  /** What the client sends: a letter is its event (validated as a JSON frame is); `|`: the client hangs up (1000). */
  client?: string;
  /** When the client sends `system.control.interrupt`: any letter (its event in `values`, if it has one). */
  interrupt?: string;
  /** Events put into the graph with `session.inject`, at their frames. */
  inject?: string;
  /** Events sent to the client with `session.send`, at their frames. */
  send?: string;
  /** Events for the letters of every marble. */
  values?: Record<string, CrewEvent>;
  /**
   * What the client receives: a letter is an event; `|`: the connection closes
   * normally (1000), by either side; `#`: it closes with another code. Omit it to
   * only record (see the result).
   */
  expected?: string;
  /** Events for the letters of `expected`. Default: `values`. */
  expectedValues?: Record<string, CrewEvent>;
  /** The close expected at `#`: its `code` and/or `reason` (what is left out is not compared). */
  error?: Partial<TestClientClose>;
}

export interface TestSessionOptions {
  /** Options for the `CrewSession` (its `now` is the virtual clock). Default id `'test'`; the logger collects (see `logged`). */
  session?: Omit<CrewSessionOptions, 'now'>;
  /** Pass what the client sends and receives through JSON, as a socket would. Default `true`. */
  serialize?: boolean;
  /**
   * Compares one received event with one expected event; throws when they
   * differ. Default `node:assert`'s `deepStrictEqual`; pass
   * `(a, e) => expect(a).toEqual(e)` to use jest's matchers (`expect.any(String)`).
   */
  assert?: (actual: unknown, expected: unknown) => void;
  /** Fields of received and expected events that are not compared. Default `['timestamp']`. */
  ignoreFields?: readonly string[];
  /** Virtual time runs at most this long (ms); later events are not recorded. Default 60000. */
  maxTime?: number;
}

export interface TestSessionResult {
  /** The session, closed by now (its `context` is as the test left it). */
  session: CrewSession;
  /** What the client received, in order, with the frame of each (events as sent, every field). */
  frames: SessionFrame[];
  /** The same as a marble diagram: letters of `expectedValues`/`values`, `?` for an event none matches. */
  marble: string;
  /** What the session logged (unless `options.session.logger` was given). */
  logged: string[];
}

type Input = { frame: number; name: string; act: 'client' | 'hang-up' | 'inject' | 'send'; event?: CrewEvent };

/**
 * Marble-tests a whole session in virtual time: a real `CrewSession` built by
 * `setup` (the same function a `CrewApp` gets), a client that sends the
 * `client` and `interrupt` marbles, events injected or sent by the session at
 * the frames of `inject` and `send`, and what the client receives compared,
 * frame by frame, with `expected`. Throws (rejects) with both diagrams and the
 * first difference when they differ.
 *
 * Time is virtual (frames of 1 ms, as in `TestScheduler.run`): timers,
 * `Date` and RxJS's default schedulers read a virtual clock while the test runs,
 * so `delay`, `debounceTime` and timers in nodes take no real time. Between
 * timers, promises settle, so an async `setup` or an async model runs as it
 * would. One `testSession` at a time (await each).
 *
 * - Frame 0: `setup(session)` runs, then the client's frame-0 events. As with
 *   `CrewApp`, a setup that returns (or resolves) without starting the session
 *   has it started; one that throws or rejects fails it (a fatal `agent.error`,
 *   then `#` with code 1011).
 * - `agent.ready` is what the client receives first, at the frame the session
 *   starts. `system.user.joined` and `system.user.left` enter at the root like
 *   client events: they reach the client only if the graph passes them on.
 * - `|` in `client`: the client hangs up; the connection's end is `|` in
 *   `expected` at that frame, and nothing reaches the client after it.
 * - The test ends when no timer is pending (or at `maxTime`); a session still
 *   open is then stopped, and what it sends while stopping is not compared.
 *
 * @example
 * await testSession((session) => void session.addNode(new Echo()), {
 *   client: '-a',
 *   expected: 'rb',
 *   values: {
 *     a: { type: 'agent.transcript.update', role: 'user', content: 'hi' },
 *     r: { type: 'agent.ready', session_id: 'test' },
 *     b: { type: 'agent.speak', text: 'you said hi' },
 *   },
 * });
 */
export async function testSession(setup: SetupHandler, marbles: SessionMarbles, options: TestSessionOptions = {}): Promise<TestSessionResult> {
  if (typeof setup !== 'function') throw new InvalidArgumentError('testSession: setup must be a function (session) => void | Promise<void>');
  const inputs = planInputs(marbles);
  const expected = marbles.expected === undefined ? undefined : planExpected(marbles);
  const letters = marbles.expectedValues ?? marbles.values ?? {};
  const how: Comparison = { assert: options.assert ?? defaultAssert, ignore: options.ignoreFields ?? ['timestamp'] };
  const maxTime = options.maxTime ?? 60_000;
  const logged: string[] = [];
  const frames: SessionFrame[] = [];
  let recorded = 0;
  let cut = false;
  let session: CrewSession;
  const clock = new VirtualClock();
  clock.install();
  try {
    session = new CrewSession({ id: 'test', logger: collecting(logged), ...options.session, now: clock.now });
    const client = new TestClient(session, { serialize: options.serialize ?? true });
    client.received$.subscribe({
      next: (event) => frames.push({ frame: clock.now(), event }),
      complete: () => frames.push({ frame: clock.now(), closed: client.closeInfo! }),
    });
    for (const input of inputs) clock.schedule(perform(input, session, client), input.frame);
    runSetup(setup, session);
    await clock.run(maxTime);
    recorded = frames.length;
    cut = clock.pending > 0;
    let stopped = false;
    void session.stop('test over').then(() => (stopped = true));
    await clock.run(clock.now() + maxTime, () => !stopped);
  } finally {
    clock.uninstall();
  }
  if (clock.errors.length > 0) {
    const err = clock.errors[0];
    throw new Error(`testSession: a timer callback threw: ${describeValue(err)}${withLogs(logged)}`, { cause: err });
  }
  const received = frames.slice(0, recorded);
  if (expected !== undefined && firstDifference(received, expected, how) !== -1) {
    const stoppedAt = cut ? `\nVirtual time stopped at maxTime (${maxTime} ms) with timers still pending.` : '';
    throw new Error(describeMismatch(received, expected, letters, how) + stoppedAt + withLogs(logged));
  }
  return { session, frames: received, marble: drawMarble(marksOf(received, letters, how)), logged };
}

/** The inputs of every marble, in the order they act within a frame: client, interrupt, inject, send. */
function planInputs(marbles: SessionMarbles): Input[] {
  const inputs: Input[] = [];
  const read = (name: 'client' | 'interrupt' | 'inject' | 'send', each: (mark: string) => Omit<Input, 'frame' | 'name'>) => {
    const marble = marbles[name];
    if (marble === undefined) return;
    for (const { frame, mark } of marbleSteps(marble, name)) inputs.push({ frame, name, ...each(mark) });
  };
  const only = (name: string, mark: string, what: string) => {
    if (mark === '|' || mark === '#') throw new InvalidArgumentError(`${name}: '${mark}' has no meaning here; ${what}`);
  };
  read('client', (mark) => {
    if (mark === '#') throw new InvalidArgumentError("client: '#' has no meaning here; '|' is the client hanging up");
    return mark === '|' ? { act: 'hang-up' } : { act: 'client', event: valueFor(mark, marbles.values, 'client') };
  });
  read('interrupt', (mark) => {
    only('interrupt', mark, 'each letter is one system.control.interrupt');
    return { act: 'client', event: interruptFor(mark, marbles.values) };
  });
  for (const name of ['inject', 'send'] as const) {
    read(name, (mark) => {
      only(name, mark, `each letter is one event for session.${name}`);
      return { act: name, event: valueFor(mark, marbles.values, name) };
    });
  }
  return inputs;
}

function planExpected(marbles: SessionMarbles): ExpectedFrame[] {
  const map = marbles.expectedValues !== undefined ? 'expectedValues' : 'values';
  return marbleSteps(marbles.expected!, 'expected').map(({ frame, mark }): ExpectedFrame => {
    if (mark === '|') return { frame, mark };
    if (mark === '#') return { frame, mark, close: marbles.error };
    return { frame, mark, event: valueFor(mark, marbles.expectedValues ?? marbles.values, 'expected', map) };
  });
}

function perform(input: Input, session: CrewSession, client: TestClient): () => void {
  switch (input.act) {
    case 'client':
      return () => client.send(input.event!);
    case 'hang-up':
      return () => client.close(1000, 'client closed');
    case 'inject':
      return () => session.inject(input.event!);
    case 'send':
      return () => session.send(input.event!);
  }
}

/** A logger that keeps each record as one line: `level: message key=value …`. */
function collecting(lines: string[]): CrewLogger {
  const keep =
    (level: string) =>
    (fields: LogFields | string, msg?: string) => {
      if (typeof fields === 'string') return void lines.push(`${level}: ${fields}`);
      const pairs = Object.entries(fields).map(([key, value]) => `${key}=${describeValue(value)}`);
      lines.push([`${level}:`, ...(msg === undefined ? [] : [msg]), ...pairs].join(' '));
    };
  return { error: keep('error'), warn: keep('warn'), info: keep('info'), debug: keep('debug') };
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return inspect(value, { depth: 4, breakLength: Infinity });
}

function withLogs(logged: readonly string[]): string {
  return logged.length === 0 ? '' : `\n\nThe session logged:\n${logged.map((line) => `  ${line}`).join('\n')}`;
}
