import { delay, filter, map, mergeMap, Observable, tap } from 'rxjs';
import { BackgroundCrewNode, CrewEvent, CrewNode, CrewSession, node } from 'rxcrew';
import { testSession, TestSessionOptions } from 'rxcrew/testing';

// Wiring semantics in virtual time: events are injected at marble frames and what
// the client receives is compared frame by frame (testSession from rxcrew/testing).
// The client receives agent.ready at frame 0, and system.user.joined from every
// node that passes it on; inputs come after that frame-0 group.

const ev = (type: string, fields: Record<string, unknown> = {}): CrewEvent => ({ type, ...fields });
const a = ev('test.a');
const b = ev('test.b');
const ready = ev('agent.ready', { session_id: 's1' });
/** system.user.joined as it leaves the nodes named in `via`. */
const joined = (...via: string[]): CrewEvent => ev('system.user.joined', { session_id: 's1', ...(via.length > 0 ? { via } : {}) });
const options: TestSessionOptions = { session: { id: 's1' } };

/** A pass-through node that stamps what it forwards with its name. */
function stamp(name: string): CrewNode {
  return node(name, map((e) => ({ ...e, via: [...((e.via as string[]) ?? []), name] })));
}

describe('graph wiring', () => {
  it('delivers to siblings in the order their edges were added', async () => {
    const setup = (s: CrewSession) => {
      const first = stamp('first');
      const second = stamp('second');
      const third = stamp('third');
      s.addNode(third).addNode(first).addNode(second);
      const root = node('root', tap());
      s.addNode(root).addEdge(root, first).addEdge(root, second).addEdge(root, third);
    };
    await testSession(
      setup,
      {
        inject: '10ms a------b',
        expected: '(rJKL) 4ms (xyz)--(uvw)',
        values: {
          a,
          b,
          r: ready,
          J: joined('first'),
          K: joined('second'),
          L: joined('third'),
          x: { ...a, via: ['first'] },
          y: { ...a, via: ['second'] },
          z: { ...a, via: ['third'] },
          u: { ...b, via: ['first'] },
          v: { ...b, via: ['second'] },
          w: { ...b, via: ['third'] },
        },
      },
      options,
    );
  });

  it('feeds parentless nodes from the root in the order they were added', async () => {
    await testSession(
      (s) => void s.addNode(stamp('one')).addNode(stamp('two')),
      {
        inject: '6ms a',
        expected: '(rJK)-(xy)',
        values: { a, r: ready, J: joined('one'), K: joined('two'), x: { ...a, via: ['one'] }, y: { ...a, via: ['two'] } },
      },
      options,
    );
  });

  it('merges the outputs of several parents at a join, in emission order', async () => {
    const setup = (s: CrewSession) => {
      const left = stamp('left');
      const right = stamp('right');
      const join = stamp('join');
      s.addNode(left).addNode(right).addNode(join);
      s.addEdge(left, join).addEdge(right, join);
    };
    await testSession(
      setup,
      {
        inject: '10ms a---b',
        expected: '(rJK) 5ms (xy)(uv)',
        values: {
          a,
          b,
          r: ready,
          J: joined('left', 'join'),
          K: joined('right', 'join'),
          x: { ...a, via: ['left', 'join'] },
          y: { ...a, via: ['right', 'join'] },
          u: { ...b, via: ['left', 'join'] },
          v: { ...b, via: ['right', 'join'] },
        },
      },
      options,
    );
  });

  it('passes the same object through a chain of pass-through nodes', async () => {
    const seen: CrewEvent[] = [];
    await testSession(
      (s) => {
        const n1 = node('n1', tap((e) => seen.push(e)));
        const n2 = node('n2', tap((e) => seen.push(e)));
        s.addNode(n1).addNode(n2).addEdge(n1, n2);
      },
      { inject: '----a-b', expected: '(rj)a-b', values: { a, b, r: ready, j: joined() } },
      options,
    );
    const injected = seen.filter((e) => e.type === 'test.a');
    expect(injected).toHaveLength(2);
    expect(injected[0]).toBe(a);
    expect(injected[1]).toBe(a);
  });

  it('sends nothing for a node that emits nothing, and nothing from a BackgroundCrewNode', async () => {
    const observed: string[] = [];
    class Watcher extends BackgroundCrewNode {
      process(input$: Observable<CrewEvent>) {
        return input$.pipe(tap((e) => observed.push(e.type)));
      }
    }
    await testSession((s) => void s.addNode(new Watcher()), { inject: '-a-b', expected: 'r---', values: { a, b, r: ready } }, options);
    // system.user.left: testSession stops the session once time is idle
    expect(observed).toEqual(['system.user.joined', 'test.a', 'test.b', 'system.user.left']);
  });

  it('buffers client events that arrive before start() and delivers them after, in order', async () => {
    const setup = async (s: CrewSession) => {
      s.addNode(stamp('n'));
      await new Promise((resolve) => setTimeout(resolve, 3)); // virtual time: starts at frame 3
      await s.start();
    };
    const at3 = '1970-01-01T00:00:00.003Z';
    await testSession(
      setup,
      {
        client: '(ab)',
        inject: 'c',
        expected: '---(rjabc)',
        values: {
          a: ev('system.control.interrupt', { n: 1 }),
          b: ev('system.user.started_speaking', { n: 2 }),
          c: ev('test.injected', { n: 3 }),
          r: { ...ready, timestamp: at3 },
          j: { ...joined('n'), timestamp: at3 },
        },
        expectedValues: {
          r: { ...ready, timestamp: at3 },
          j: { ...joined('n'), timestamp: at3 },
          a: ev('system.control.interrupt', { n: 1, via: ['n'] }),
          b: ev('system.user.started_speaking', { n: 2, via: ['n'] }),
          c: ev('test.injected', { n: 3, via: ['n'] }),
        },
      },
      // timestamps compared: the runtime's events are stamped when they are made, at frame 3
      { ...options, ignoreFields: [] },
    );
  });

  it('queues an event sent from a hook behind the delivery in progress', async () => {
    const e1 = ev('test.first');
    const e2 = ev('test.second');
    const h = ev('test.from_hook');
    await testSession(
      (s) => {
        s.addNode(node('twice', mergeMap((e) => (e.type === 'test.a' ? [e1, e2] : []))));
        s.onEvent('test.first', (session) => session.send(h));
      },
      { inject: '-a', expected: 'r(xyz)', values: { a, r: ready, x: e1, y: e2, z: h } },
      options,
    );
  });

  it('queues an event injected by a node behind the event being delivered (no re-entrant reordering)', async () => {
    const y = ev('test.y');
    await testSession(
      (s) => {
        const injector = node('injector', (input$, ctx) =>
          input$.pipe(
            tap((e) => {
              if (e.type === 'test.a') ctx.session.inject(y);
            }),
          ),
        );
        s.addNode(injector).addNode(stamp('later'));
      },
      {
        inject: '5ms a',
        // without the trampoline, "later" would see y before a
        expected: '(rjk)(abcd)',
        values: { a, r: ready, j: joined(), k: joined('later'), b: { ...a, via: ['later'] }, c: y, d: { ...y, via: ['later'] } },
      },
      options,
    );
  });

  it('delivers asynchronous emissions in virtual time', async () => {
    await testSession(
      (s) => {
        const slow = node('slow', (input$) => input$.pipe(filter((e) => e.type === 'test.a'), delay(4)));
        const after = stamp('after');
        s.addNode(slow).addNode(after).addEdge(slow, after);
      },
      { inject: '-a', expected: 'r----x', values: { a, r: ready, x: { ...a, via: ['after'] } } },
      options,
    );
  });
});
