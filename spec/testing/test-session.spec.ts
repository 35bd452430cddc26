import { debounceTime, filter, interval, map, Observable, tap } from 'rxjs';
import { CrewEvent, CrewNode, CrewSession, event, node, OutputCrewNode, Turn } from 'rxcrew';
import { scriptedResponder } from 'rxcrew/llm';
import { testSession } from 'rxcrew/testing';

// testSession: a whole session, built by a setup function, in virtual time.

const user = (content: string): CrewEvent => ({ type: 'agent.transcript.update', role: 'user', content });
const speak = (text: string): CrewEvent => ({ type: 'agent.speak', text });
const ready: CrewEvent = { type: 'agent.ready', session_id: 'test' };

/** Says "you said …" for each user transcript; forwards nothing else. */
class Echo extends CrewNode {
  process(input$: Observable<CrewEvent>) {
    return input$.pipe(
      filter((e) => e.type === 'agent.transcript.update'),
      map((e) => event('agent.speak', { text: `you said ${String(e.content)}` })),
    );
  }
}

const echo = (session: CrewSession) => void session.addNode(new Echo());

/** A pass-through node: the client receives every event that enters the graph. */
const passAll = (session: CrewSession) => void session.addNode(node('all', tap()));

/** An agent that answers every request with four words, one every 10 ms (virtual). */
class Streamer extends OutputCrewNode {
  private readonly respond = scriptedResponder([{ name: 'any', when: () => true, reply: 'one two three four' }], {
    chunkDelayMs: 10,
    wordsPerChunk: 1,
  });
  generateResponse(turn: Turn) {
    return this.respond(turn);
  }
}

const chunk = (text: string): CrewEvent => ({ type: 'agent.llm.response.chunk', text });

/** A request to the Streamer and what it answers: start, a chunk a word, end. */
const streamed = {
  q: { type: 'system.llm.request', request_id: 'q1', messages: [{ role: 'user', content: 'go' }] },
  r: ready,
  s: { type: 'agent.llm.response.start', request_id: 'q1' },
  a: chunk('one '),
  b: chunk('two '),
  c: chunk('three '),
  d: chunk('four'),
  e: { type: 'agent.llm.response.end' },
  // the turn's figures, right after its end: request at frame 1, first chunk at 11, end at 41
  m: {
    type: 'agent.log',
    name: 'turn.metrics',
    payload: { request_id: 'q1', ttft_ms: 10, duration_ms: 40, tool_ms: 0, interrupted: false, chunks: 4, outcome: 'completed' },
  },
};

describe('testSession', () => {
  it('compares what the client receives with the expected marble', async () => {
    await testSession(echo, {
      client: '-a--b',
      expected: 'rx--y',
      values: { a: user('hi'), b: user('bye'), r: ready, x: speak('you said hi'), y: speak('you said bye') },
    });
  });

  it('throws with both marbles and the first difference when an event differs', async () => {
    const run = testSession(echo, {
      client: '-a',
      expected: 'rx',
      values: { a: user('hi'), r: ready, x: speak('you said HI') },
    });
    await expect(run).rejects.toHaveProperty(
      'message',
      [
        'testSession: the client did not receive what `expected` says.',
        '',
        '  expected  rx',
        '  actual    r?',
        '',
        'First difference (event 2):',
        '  expected  x at frame 1: {"type":"agent.speak","text":"you said HI"}',
        '  actual    ? at frame 1: {"type":"agent.speak","text":"you said hi"}',
        '',
        'Expected, frame by frame:',
        '  0  r  {"type":"agent.ready","session_id":"test"}',
        '  1  x  {"type":"agent.speak","text":"you said HI"}',
        'Actual, frame by frame (? = no letter of the values matches):',
        '  0  r  {"type":"agent.ready","session_id":"test"}',
        '  1  ?  {"type":"agent.speak","text":"you said hi"}',
        '(not compared: timestamp)',
      ].join('\n'),
    );
  });

  it('throws when an event comes at another frame, and when one is missing or extra', async () => {
    const values = { a: user('hi'), r: ready, x: speak('you said hi') };
    await expect(testSession(echo, { client: '--a', expected: 'rx', values })).rejects.toThrow(
      /expected {2}rx\n {2}actual {4}r-x\n[\s\S]*expected {2}x at frame 1[\s\S]*actual {4}x at frame 2/,
    );
    await expect(testSession(echo, { client: '-a', expected: 'r', values })).rejects.toThrow(/expected {2}nothing more\n {2}actual {4}x at frame 1/);
    await expect(testSession(echo, { client: '-', expected: 'rx', values })).rejects.toThrow(
      /expected {2}x at frame 1: \{"type":"agent.speak","text":"you said hi"\}\n {2}actual {4}nothing more/,
    );
  });

  it('can show what it recorded when no expectation is given', async () => {
    const result = await testSession(echo, { client: '-a 10ms b', values: { a: user('hi'), b: user('ho'), r: ready, x: speak('you said hi') } });
    expect(result.marble).toBe('rx 10ms ?');
    expect(result.frames.map((f) => ('event' in f ? [f.frame, f.event.type, f.event.text] : [f.frame, f.closed]))).toEqual([
      [0, 'agent.ready', undefined],
      [1, 'agent.speak', 'you said hi'],
      [12, 'agent.speak', 'you said ho'],
    ]);
    expect(result.session.state).toBe('closed');
  });

  describe('the timeline', () => {
    it('starts the session at frame 0 when setup returns without starting it, before the frame-0 client events', async () => {
      await testSession(passAll, {
        client: 'a',
        expected: '(rja)',
        values: { a: user('hi'), r: ready, j: { type: 'system.user.joined', session_id: 'test' } },
      });
    });

    it('starts when an async setup starts it; client events before are held, then delivered in order', async () => {
      const setup = async (session: CrewSession) => {
        session.addNode(node('all', tap()));
        await new Promise((resolve) => setTimeout(resolve, 5)); // virtual: 5 frames
        await session.start();
      };
      await testSession(setup, {
        client: '-a-b',
        inject: '--c',
        expected: '-----(rjacb)',
        values: { a: user('1'), b: user('3'), c: user('2'), r: ready, j: { type: 'system.user.joined', session_id: 'test' } },
      });
    });

    it('the client hanging up is | at that frame; nothing reaches the client after it', async () => {
      const seen: string[] = [];
      await testSession(
        (session) => {
          session.addNode(node('all', tap()));
          session.onEvent('system.user.left', (_s, e) => void seen.push(`${String(e.code)} ${String(e.reason)}`));
        },
        { client: '-----a-|', expected: '(rj)-a-|', values: { a: user('hi'), r: ready, j: { type: 'system.user.joined', session_id: 'test' } } },
      );
      expect(seen).toEqual(['1000 client closed']);
    });

    it('a session that stops itself sends what the graph makes of system.user.left, then |', async () => {
      await testSession(
        (session) => {
          session.addNode(node('all', tap()));
          session.onEvent('agent.transcript.update', (s) => void s.stop('done'));
        },
        {
          client: '----a',
          expected: '(rj)(al|)',
          values: {
            a: user('bye'),
            r: ready,
            j: { type: 'system.user.joined', session_id: 'test' },
            l: { type: 'system.user.left', session_id: 'test', code: 1000, reason: 'done' },
          },
        },
      );
    });

    it('a connection closed with another code is #, compared with `error`', async () => {
      const values = { a: user('hi'), r: ready };
      const setup = (session: CrewSession) => {
        session.onEvent('agent.transcript.update', (s) => void s.stop('go away', 4001));
      };
      await testSession(setup, { client: '-a', expected: 'r#', values, error: { code: 4001, reason: 'go away' } });
      await testSession(setup, { client: '-a', expected: 'r#', values, error: { code: 4001 } });
      await testSession(setup, { client: '-a', expected: 'r#', values });
      await expect(testSession(setup, { client: '-a', expected: 'r|', values })).rejects.toThrow(
        /expected {2}\| at frame 1: the connection closes normally \(1000\)\n {2}actual {4}# at frame 1: the connection closed: 4001 "go away"/,
      );
      await expect(testSession(setup, { client: '-a', expected: 'r#', values, error: { code: 1011 } })).rejects.toThrow(
        /expected {2}# at frame 1: the connection closes with 1011/,
      );
    });

    it('stops a session still open when time is idle, and does not compare what it sends then', async () => {
      const values = { a: user('hi'), r: ready, j: { type: 'system.user.joined', session_id: 'test' } };
      const result = await testSession(passAll, { client: 'a', expected: '(rja)', values });
      expect(result.session.state).toBe('closed');
      expect(result.frames).toHaveLength(3);
    });
  });

  describe('virtual time', () => {
    it('runs RxJS time operators in nodes on the virtual clock, without a scheduler argument', async () => {
      const quiet = node('quiet', (input$) => input$.pipe(filter((e) => e.type === 'agent.transcript.update'), debounceTime(10)));
      await testSession((session) => void session.addNode(quiet), {
        client: 'a--b 20ms c',
        expected: 'r 12ms b 20ms c',
        values: { a: user('1'), b: user('2'), c: user('3'), r: ready },
      });
    });

    it('runs plain timers and Date.now() in nodes and hooks on the virtual clock', async () => {
      const setup = (session: CrewSession) => {
        session.onEvent('agent.transcript.update', (s) => {
          const at = Date.now();
          setTimeout(() => s.send(event('agent.log', { name: 'later', payload: { at, now: Date.now(), perf: performance.now() } })), 1000);
        });
      };
      await testSession(setup, {
        client: '--a',
        expected: 'r 1001ms l',
        values: { a: user('hi'), r: ready, l: { type: 'agent.log', name: 'later', payload: { at: 2, now: 1002, perf: 1002 } } },
      });
    });

    it('stamps events with the virtual time; ignoreFields: [] compares timestamps', async () => {
      const values = {
        a: user('hi'),
        r: { ...ready, timestamp: '1970-01-01T00:00:00.000Z' },
        x: { ...speak('you said hi'), timestamp: '1970-01-01T00:00:00.002Z' },
      };
      await testSession(echo, { client: '--a', expected: 'r-x', values }, { ignoreFields: [] });
      const late = { ...values, x: { ...values.x, timestamp: '1970-01-01T00:00:00.003Z' } };
      await expect(testSession(echo, { client: '--a', expected: 'r-x', values: late }, { ignoreFields: [] })).rejects.toThrow(
        'actual    ? at frame 2: {"type":"agent.speak","text":"you said hi","timestamp":"1970-01-01T00:00:00.002Z"}',
      );
      // by default they are not
      await testSession(echo, { client: '--a', expected: 'r-x', values: late });
    });

    it('lets promises settle between timers: an async model streams and ends at its frames', async () => {
      await testSession((session) => void session.addNode(new Streamer()), {
        client: '-q',
        expected: 'rs 9ms a 9ms b 9ms c 9ms (dem)',
        values: streamed,
      });
    });

    it('stops recording at maxTime when timers never stop', async () => {
      const tick = (n: number): CrewEvent => ({ type: 'agent.log', name: 'tick', payload: n });
      const ticks = (session: CrewSession) => void session.addNode(node('ticks', () => interval(10).pipe(map((n) => event('agent.log', tick(n))))));
      const values = { r: ready, a: tick(0), b: tick(1), c: tick(2) };
      await testSession(ticks, { expected: 'r 9ms a 9ms b 9ms c', values }, { maxTime: 35 });
      await expect(testSession(ticks, { expected: 'r 9ms a 9ms b', values }, { maxTime: 35 })).rejects.toThrow(
        /Virtual time stopped at maxTime \(35 ms\) with timers still pending/,
      );
    });

    it('puts the real timers and Date back, also when the test fails', async () => {
      const real = { setTimeout, setInterval, setImmediate, Date, now: performance.now };
      await testSession(echo, { client: '-a', expected: 'r', values: { a: user('hi'), r: ready } }).catch(() => undefined);
      expect({ setTimeout, setInterval, setImmediate, Date, now: performance.now }).toEqual(real);
      expect(Date.now()).toBeGreaterThan(1_600_000_000_000);
    });

    it('runs one at a time', async () => {
      const values = { a: user('hi') };
      const first = testSession(echo, { client: '-a', values });
      await expect(testSession(echo, { client: '-a', values })).rejects.toThrow(/run one testSession at a time/);
      await first;
    });

    it('fails when a timer callback throws', async () => {
      const setup = (session: CrewSession) => {
        session.onEvent('agent.transcript.update', () => {
          setTimeout(() => {
            throw new Error('boom');
          }, 5);
        });
      };
      await expect(testSession(setup, { client: '-a', values: { a: user('hi') } })).rejects.toThrow('testSession: a timer callback threw: Error: boom');
    });
  });

  describe('inputs', () => {
    it('sends each interrupt letter as a client system.control.interrupt (its value when it has one)', async () => {
      await testSession(passAll, {
        interrupt: '-----i-u',
        expected: '(rj)-i-u',
        values: { u: { type: 'system.control.interrupt', why: 'barge-in' } },
        expectedValues: {
          r: ready,
          j: { type: 'system.user.joined', session_id: 'test' },
          i: { type: 'system.control.interrupt' },
          u: { type: 'system.control.interrupt', why: 'barge-in' },
        },
      });
    });

    it('cuts a streaming turn short at the interrupt frame, with its one end', async () => {
      await testSession((session) => void session.addNode(new Streamer()), {
        client: '-q',
        interrupt: '- 24ms i',
        expected: 'rs 9ms a 9ms b 3ms (em)',
        values: {
          ...streamed,
          e: { type: 'agent.llm.response.end', interrupted: true },
          m: {
            type: 'agent.log',
            name: 'turn.metrics',
            payload: { request_id: 'q1', ttft_ms: 10, duration_ms: 24, tool_ms: 0, interrupted: true, chunks: 2, outcome: 'interrupted' },
          },
        },
      });
    });

    it('shows what session.inject and session.send produce: inject goes through the graph, send straight to the client', async () => {
      const hooked: string[] = [];
      await testSession(
        (session) => {
          session.addNode(new Echo());
          session.onEvent('agent.*', (_s, e) => void hooked.push(e.type));
        },
        {
          inject: '-a',
          send: '--s',
          expected: 'rxs',
          values: { a: user('hi'), s: { type: 'agent.log', name: 'sent', payload: 1 }, r: ready, x: speak('you said hi') },
        },
      );
      expect(hooked).toEqual(['agent.ready', 'agent.transcript.update', 'agent.speak', 'agent.log']);
    });

    it('orders the inputs of one frame: client, interrupt, inject, send', async () => {
      await testSession(passAll, {
        client: '----a',
        interrupt: '----i',
        inject: '----b',
        send: '----c',
        expected: '(rj)(aibc)',
        values: {
          a: user('a'),
          b: user('b'),
          c: speak('c'),
          i: { type: 'system.control.interrupt' },
          r: ready,
          j: { type: 'system.user.joined', session_id: 'test' },
        },
      });
    });

    it('validates client events as JSON frames: a bad one is an agent.error warning', async () => {
      await testSession(echo, {
        client: '-a',
        expected: 're',
        values: {
          a: { type: 'no.such.type' },
          r: ready,
          e: {
            type: 'agent.error',
            severity: 'warning',
            message: 'unknown event type "no.such.type"',
            payload: { code: 'CREW_ERR_BAD_EVENT', error_class: 'BadEventError', message: 'unknown event type "no.such.type"', issues: [] },
          },
        },
      });
    });

    it('refuses marbles it cannot read, before anything runs', async () => {
      let called = false;
      const setup = () => void (called = true);
      await expect(testSession(setup, { client: '-a' })).rejects.toThrow("client: letter 'a' has no event in `values`");
      await expect(testSession(setup, { expected: 'x', values: {} })).rejects.toThrow("expected: letter 'x' has no event in `values`");
      await expect(testSession(setup, { expected: 'x', expectedValues: {} })).rejects.toThrow("expected: letter 'x' has no event in `expectedValues`");
      await expect(testSession(setup, { client: '-#' })).rejects.toThrow("client: '#' has no meaning here");
      await expect(testSession(setup, { inject: '-|' })).rejects.toThrow("inject: '|' has no meaning here");
      await expect(testSession(setup, { interrupt: '-#' })).rejects.toThrow("interrupt: '#' has no meaning here");
      await expect(testSession(setup, { interrupt: '-a', values: { a: user('x') } })).rejects.toThrow(
        `interrupt: letter 'a' is a "agent.transcript.update" in \`values\`; use a letter that is not, or a system.control.interrupt`,
      );
      await expect(testSession(setup, { client: 'a^', values: { a: user('x') } })).rejects.toThrow("client: nothing may come before '^'");
      await expect(testSession('nope' as never, {})).rejects.toThrow('testSession: setup must be a function');
      expect(called).toBe(false);
    });
  });

  describe('errors', () => {
    it('a node that throws: the client gets an agent.error warning, the session goes on', async () => {
      const setup = (session: CrewSession) => {
        session.addNode(
          node('fragile', (input$) =>
            input$.pipe(
              filter((e) => e.type === 'agent.transcript.update'),
              map((e) => {
                if (e.content === 'boom') throw new TypeError('bad input');
                return speak(String(e.content));
              }),
            ),
          ),
        );
      };
      await testSession(setup, {
        client: '-a-b',
        expected: 're-y',
        values: {
          a: user('boom'),
          b: user('fine'),
          r: ready,
          y: speak('fine'),
          e: {
            type: 'agent.error',
            severity: 'warning',
            message: 'node "fragile" failed: bad input',
            payload: { code: 'CREW_ERR_NODE_FAILED', error_class: 'TypeError', message: 'bad input', node_name: 'fragile' },
          },
        },
      });
    });

    it('a setup that throws or rejects: a fatal agent.error, then # with 1011', async () => {
      const fatal = (message: string): CrewEvent => ({
        type: 'agent.error',
        severity: 'fatal',
        message,
        payload: { code: 'CREW_ERR_SETUP_FAILED', error_class: 'Error', message },
      });
      await testSession(
        () => {
          throw new Error('no database');
        },
        { expected: '(e#)', values: { e: fatal('no database') }, error: { code: 1011, reason: 'setup failed' } },
      );
      await testSession(
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 3));
          throw new Error('late');
        },
        { expected: '---(e#)', values: { e: fatal('late') }, error: { code: 1011, reason: 'setup failed' } },
      );
    });

    it('a start() that fails is logged; the log is in the result and in a failure message', async () => {
      const loop = (session: CrewSession) => {
        const a = node('a', tap());
        const b = node('b', tap());
        session.addNode(a).addNode(b).addEdge(a, b).addEdge(b, a);
      };
      const like = { assert: (a: unknown, e: unknown) => expect(a).toMatchObject(e as object) };
      const result = await testSession(loop, { expected: '(e#)', values: { e: { type: 'agent.error', severity: 'fatal' } } }, like);
      expect(result.logged.join('\n')).toMatch(/start failed/);
      await expect(testSession(loop, { expected: '-' })).rejects.toThrow(
        /The session logged:\n {2}error: start failed session_id=test err=GraphCycleError: /,
      );
    });
  });

  describe('options', () => {
    it('assert: jest matchers in the expected values', async () => {
      await testSession(
        (session) => void session.addNode(new Streamer()),
        {
          client: '-q',
          expected: 'rs 9ms a 9ms b 9ms c 9ms (dem)',
          values: {
            ...streamed,
            q: { type: 'system.llm.request', messages: [{ role: 'user', content: 'go' }] }, // no request_id: a random one
            s: { type: 'agent.llm.response.start', request_id: expect.any(String) },
            m: { ...streamed.m, payload: { ...streamed.m.payload, request_id: expect.any(String) } },
            c: chunk(expect.stringMatching(/^three/)),
          },
        },
        { assert: (a, e) => expect(a).toEqual(e) },
      );
    });

    it('session: the session options (id, limits)', async () => {
      await testSession(
        passAll,
        {
          client: '(abc)',
          expected: '(rjabe)',
          values: {
            a: user('1'),
            b: user('2'),
            c: user('3'),
            r: { type: 'agent.ready', session_id: 'mine' },
            j: { type: 'system.user.joined', session_id: 'mine' },
            e: { type: 'agent.error', severity: 'warning', payload: { code: 'CREW_ERR_RATE_LIMITED' } },
          },
        },
        { session: { id: 'mine', limits: { maxEventsPerSecond: 2 } }, assert: (a, e) => expect(a).toMatchObject(e as object) },
      );
    });

    it('serialize: false hands the client the objects as sent', async () => {
      const setup = (session: CrewSession) =>
        void session.onEvent('agent.transcript.update', (s) => s.send({ type: 'agent.log', name: 'when', payload: new Date(0) }));
      const values = { a: user('hi'), r: ready, d: { type: 'agent.log', name: 'when', payload: '1970-01-01T00:00:00.000Z' } };
      await testSession(setup, { client: '-a', expected: 'rd', values });
      await testSession(setup, { client: '-a', expected: 'rd', values: { ...values, d: { ...values.d, payload: new Date(0) } } }, { serialize: false });
    });
  });
});
