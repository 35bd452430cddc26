import { Observable, filter, map } from 'rxjs';
import { CrewEvent, CrewNode, CrewSession, event, node, NodeContext } from 'rxcrew';
import { deferred, echoNode, Harness, recordingLogger, say, silentLogger, within } from './helpers';

/** Speaks "<content> #<n>" for the n-th transcript it has seen; throws a RangeError on "boom". */
class Flaky extends CrewNode {
  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    let seen = 0; // closure state: must survive the resubscription after a failure
    return input$.pipe(
      filter((e) => e.type === 'agent.transcript.update'),
      map((e) => {
        seen++;
        if (e.content === 'boom') throw new RangeError('flaky cannot take a boom');
        return event('agent.speak', { text: `${String(e.content)} #${seen}`, session_id: ctx.session.id });
      }),
    );
  }
}

function identity(name: string): CrewNode {
  return node(name, (input$: Observable<CrewEvent>) => input$);
}

describe('CrewApp failures (real ws client)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  describe('a node that throws', () => {
    it('is reported as an agent.error warning naming the node, and keeps serving later events', async () => {
      const { connect } = await h.start({ setup: (session) => void session.addNode(new Flaky()), logger: silentLogger });
      const client = await connect();
      await client.next('agent.ready');

      client.send(say('before'));
      client.send(say('boom'));
      client.send(say('after'));

      expect((await client.next('agent.speak')).text).toBe('before #1');
      const error = await client.next('agent.error');
      expect(error.severity).toBe('warning');
      expect(error.payload).toMatchObject({ node_name: 'Flaky', error_class: 'RangeError', message: 'flaky cannot take a boom' });
      expect(error.message).toMatch(/Flaky/);
      expect(error.message).toMatch(/flaky cannot take a boom/);
      expect((await client.next('agent.speak')).text).toBe('after #3');

      // and again: it fails and recovers each time
      client.send(say('boom'));
      client.send(say('later'));
      await client.next('agent.error');
      expect((await client.next('agent.speak')).text).toBe('later #5');
      expect(client.closeInfo).toBeUndefined();
    });

    it("with onError 'stop-session' sends a fatal agent.error and closes with 1011", async () => {
      const left = deferred<CrewEvent>();
      let session: CrewSession | undefined;
      const { app, connect } = await h.start({
        logger: silentLogger,
        setup: (s) => {
          session = s;
          s.addNode(
            node(
              'strict',
              map((e: CrewEvent) => {
                if (e.type === 'agent.transcript.update' && e.content === 'boom') throw new TypeError('strict node broke');
                return e;
              }),
              { onError: 'stop-session' },
            ),
          );
          s.onEvent('system.user.left', (_s, e) => left.resolve(e));
        },
      });
      const client = await connect();
      await client.next('agent.ready');

      client.send(say('boom'));
      const error = await client.next('agent.error');
      const closed = await within(client.closed, 'the close');

      expect(error.severity).toBe('fatal');
      expect(error.payload).toMatchObject({ node_name: 'strict', error_class: 'TypeError', message: 'strict node broke' });
      expect(closed.code).toBe(1011);
      expect(await within(left.promise, 'system.user.left')).toMatchObject({ code: 1011 });
      await within(session!.waitUntilComplete(), 'the session to complete');
      expect(app.sessions.size).toBe(0);
    });
  });

  describe('a hook that fails', () => {
    async function startWithHooks(failing: (session: CrewSession, e: CrewEvent) => void | Promise<void>) {
      const calls: string[] = [];
      const running = await h.start({
        logger: silentLogger,
        setup: (session) => {
          session.addNode(echoNode());
          session.onEvent('agent.transcript.update', (_s, e) => void calls.push(`before:${String(e.content)}`));
          session.onEvent('agent.transcript.update', failing);
          session.onEvent('agent.transcript.update', (_s, e) => void calls.push(`after:${String(e.content)}`));
          session.onEvent('agent.speak', (_s, e) => void calls.push(`speak:${String(e.text)}`));
        },
      });
      const client = await running.connectReady();
      return { client, calls };
    }

    it('that throws is reported as a CREW_ERR_HOOK_FAILED warning; other hooks run and the session goes on', async () => {
      const { client, calls } = await startWithHooks(() => {
        throw new SyntaxError('hook threw');
      });

      client.send(say('one'));
      const error = await client.next('agent.error');
      expect(error.severity).toBe('warning');
      expect(error.payload).toMatchObject({ code: 'CREW_ERR_HOOK_FAILED', error_class: 'SyntaxError', message: 'hook threw' });
      expect(error.message).toMatch(/hook threw/);
      expect((await client.next('agent.speak')).text).toBe('one');

      client.send(say('two'));
      expect((await client.next('agent.speak')).text).toBe('two');
      await client.next('agent.error');
      expect(calls).toEqual(['before:one', 'after:one', 'speak:one', 'before:two', 'after:two', 'speak:two']);
      expect(client.closeInfo).toBeUndefined();
    });

    it('that rejects is reported as a CREW_ERR_HOOK_FAILED warning; other hooks run and the session goes on', async () => {
      const { client, calls } = await startWithHooks(async (_s, e) => {
        await Promise.resolve();
        throw new Error(`async hook rejected on ${String(e.content)}`);
      });

      client.send(say('one'));
      expect((await client.next('agent.speak')).text).toBe('one');
      const error = await client.next('agent.error');
      expect(error.severity).toBe('warning');
      expect(error.payload).toMatchObject({ code: 'CREW_ERR_HOOK_FAILED', error_class: 'Error', message: 'async hook rejected on one' });
      expect(error.message).toMatch(/async hook rejected on one/);

      client.send(say('two'));
      expect((await client.next('agent.speak')).text).toBe('two');
      expect((await client.next('agent.error')).message).toMatch(/async hook rejected on two/);
      expect(calls).toEqual(['before:one', 'after:one', 'speak:one', 'before:two', 'after:two', 'speak:two']);
      expect(client.closeInfo).toBeUndefined();
    });

    it('that fails on its own agent.error report is only logged (no loop)', async () => {
      const logger = recordingLogger();
      const { connect } = await h.start({
        logger,
        setup: (session) => {
          session.addNode(echoNode());
          session.onEvent('*', (_s, e) => {
            if (e.type === 'agent.transcript.update' || e.type === 'agent.error') throw new Error(`wildcard hook broke on ${e.type}`);
          });
        },
      });
      const client = await connect();
      await client.next('agent.ready');
      client.send(say('x'));
      await client.next('agent.speak');
      client.send(say('probe'));
      await client.next((e: CrewEvent) => e.type === 'agent.speak' && e.text === 'probe');

      expect(client.types.filter((t) => t === 'agent.error')).toHaveLength(2);
      expect(logger.error).toHaveBeenCalledWith(
        { session_id: expect.any(String), event_type: 'agent.error', pattern: '*', err: expect.any(Error) },
        expect.stringContaining('failed on "agent.error"'),
      );
    });
  });

  describe('setup failures', () => {
    /** The first connection runs `failing`; later ones get a working echo graph. */
    async function startFailingFirst(failing: (session: CrewSession) => void | Promise<void>) {
      let calls = 0;
      const logger = recordingLogger();
      const running = await h.start({
        logger,
        setup: (session) => {
          calls++;
          if (calls === 1) return failing(session);
          session.addNode(echoNode());
        },
      });
      return { ...running, logger };
    }

    async function expectFatalThenRecovery(
      running: Awaited<ReturnType<typeof startFailingFirst>>,
      message: RegExp,
      code?: string,
    ): Promise<void> {
      const client = await running.connect();
      const error = await client.next('agent.error');
      const closed = await within(client.closed, 'the close');
      expect(error.severity).toBe('fatal');
      expect(error.message).toMatch(message);
      if (code) expect(error.payload).toMatchObject({ code });
      expect(closed.code).toBe(1011);
      expect(client.types).toEqual(['agent.error']);

      // the server keeps serving: a new client handshakes and is answered
      const next = await running.connect();
      await next.next('agent.ready');
      next.send(say('fine'));
      expect((await next.next('agent.speak')).text).toBe('fine');
      expect(running.app.sessions.size).toBe(1);
    }

    it('setup that throws synchronously: fatal agent.error with the message, close 1011, server goes on', async () => {
      const running = await startFailingFirst(() => {
        throw new Error('setup exploded');
      });
      await expectFatalThenRecovery(running, /setup exploded/);
    });

    it('setup that rejects: fatal agent.error with the message, close 1011, server goes on', async () => {
      const running = await startFailingFirst(async () => {
        await Promise.resolve();
        throw new Error('async setup exploded');
      });
      await expectFatalThenRecovery(running, /async setup exploded/);
    });

    it('setup that builds a cycle A → B → A: start() fails naming the cycle, close 1011, server goes on', async () => {
      const running = await startFailingFirst((session) => {
        const a = identity('A');
        const b = identity('B');
        session.addNode(a).addNode(b).addEdge(a, b).addEdge(b, a);
      });
      await expectFatalThenRecovery(running, /A → B → A/, 'CREW_ERR_GRAPH_CYCLE');
    });

    it('setup that awaits its own failing start(): the client gets one fatal agent.error naming the cycle', async () => {
      const running = await startFailingFirst(async (session) => {
        const a = identity('A');
        const b = identity('B');
        session.addNode(a).addNode(b).addEdge(a, b).addEdge(b, a);
        await session.start();
      });
      await expectFatalThenRecovery(running, /A → B → A/, 'CREW_ERR_GRAPH_CYCLE');
    });

    it('a node whose process() throws: fatal agent.error naming the node, close 1011', async () => {
      const running = await startFailingFirst((session) => {
        session.addNode(
          node('broken', () => {
            throw new Error('cannot wire');
          }),
        );
      });
      await expectFatalThenRecovery(running, /node "broken" threw in process\(\): cannot wire/, 'CREW_ERR_NODE_SETUP');
    });
  });
});
