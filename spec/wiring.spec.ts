import { delay, filter, map, mergeMap, Observable, tap } from 'rxjs';
import { BackgroundCrewNode, CrewEvent, CrewNode, CrewSession, node } from 'rxcrew';
import { createNodeTestScheduler, TestClient } from 'rxcrew/testing';
import type { RunHelpers } from 'rxjs/internal/testing/TestScheduler';

// Wiring semantics in virtual time: events are injected at marble frames and the
// client's received events are compared frame by frame.

const ev = (type: string, fields: Record<string, unknown> = {}): CrewEvent => ({ type, ...fields });
const a = ev('test.a');
const b = ev('test.b');

/** A pass-through node that stamps what it forwards with its name. */
function stamp(name: string): CrewNode {
  return node(name, map((e) => ({ ...e, via: [...((e.via as string[]) ?? []), name] })));
}

/** The marble helpers, and `inject(marbles)`: injects `a` and `b` into the session at their frames. */
type SessionHelpers = RunHelpers & { inject(marbles: string): void };

function runSession(build: (s: CrewSession) => void, body: (h: SessionHelpers, out$: Observable<CrewEvent>) => void): void {
  createNodeTestScheduler((actual, expected) => expect(actual).toEqual(expected)).run((helpers) => {
    const session = new CrewSession({ id: 's1' });
    build(session);
    const client = new TestClient(session, { serialize: false });
    void session.start();
    const inject = (marbles: string) => void helpers.hot(marbles, { a, b }).subscribe((e) => session.inject(e));
    body({ ...helpers, inject }, client.received$);
  });
}

describe('graph wiring', () => {
  it('delivers to siblings in the order their edges were added', () => {
    runSession(
      (s) => {
        const first = stamp('first');
        const second = stamp('second');
        const third = stamp('third');
        s.addNode(third).addNode(first).addNode(second);
        const root = node('root', tap());
        s.addNode(root).addEdge(root, first).addEdge(root, second).addEdge(root, third);
      },
      ({ inject, expectObservable }, out$) => {
        inject('-a------b-|');
        expectObservable(out$).toBe('-(xyz)--(uvw)', {
          x: { ...a, via: ['first'] },
          y: { ...a, via: ['second'] },
          z: { ...a, via: ['third'] },
          u: { ...b, via: ['first'] },
          v: { ...b, via: ['second'] },
          w: { ...b, via: ['third'] },
        });
      },
    );
  });

  it('feeds parentless nodes from the root in the order they were added', () => {
    runSession(
      (s) => s.addNode(stamp('one')).addNode(stamp('two')),
      ({ inject, expectObservable }, out$) => {
        inject('--a');
        expectObservable(out$).toBe('--(xy)', { x: { ...a, via: ['one'] }, y: { ...a, via: ['two'] } });
      },
    );
  });

  it('merges the outputs of several parents at a join, in emission order', () => {
    runSession(
      (s) => {
        const left = stamp('left');
        const right = stamp('right');
        const join = stamp('join');
        s.addNode(left).addNode(right).addNode(join);
        s.addEdge(left, join).addEdge(right, join);
      },
      ({ inject, expectObservable }, out$) => {
        inject('-a---b');
        expectObservable(out$).toBe('-(xy)(uv)', {
          x: { ...a, via: ['left', 'join'] },
          y: { ...a, via: ['right', 'join'] },
          u: { ...b, via: ['left', 'join'] },
          v: { ...b, via: ['right', 'join'] },
        });
      },
    );
  });

  it('passes the same object through a chain of pass-through nodes', () => {
    const seen: CrewEvent[] = [];
    runSession(
      (s) => {
        const n1 = node('n1', tap((e) => seen.push(e)));
        const n2 = node('n2', tap((e) => seen.push(e)));
        s.addNode(n1).addNode(n2).addEdge(n1, n2);
      },
      ({ inject, expectObservable }, out$) => {
        inject('-a-b');
        expectObservable(out$).toBe('-a-b', { a, b });
      },
    );
    const injected = seen.filter((e) => e.type === 'test.a');
    expect(injected).toHaveLength(2);
    expect(injected[0]).toBe(a);
    expect(injected[1]).toBe(a);
  });

  it('sends nothing for a node that emits nothing, and nothing from a BackgroundCrewNode', () => {
    const observed: string[] = [];
    class Watcher extends BackgroundCrewNode {
      process(input$: Observable<CrewEvent>) {
        return input$.pipe(tap((e) => observed.push(e.type)));
      }
    }
    runSession(
      (s) => s.addNode(new Watcher()),
      ({ inject, expectObservable }, out$) => {
        inject('-a-b');
        expectObservable(out$).toBe('----');
      },
    );
    expect(observed).toEqual(['system.user.joined', 'test.a', 'test.b']);
  });

  it('buffers client events that arrive before start() and delivers them after, in order', () => {
    createNodeTestScheduler((actual, expected) => expect(actual).toEqual(expected)).run(({ cold, expectObservable }) => {
      const session = new CrewSession({ id: 's1' });
      session.addNode(stamp('n'));
      const client = new TestClient(session, { serialize: false });
      client.send({ type: 'system.control.interrupt', n: 1 });
      client.send({ type: 'system.user.started_speaking', n: 2 });
      session.inject(ev('test.injected', { n: 3 }));
      cold('---x').subscribe(() => void session.start());
      expectObservable(client.received$).toBe('---(rjabc)', {
        r: { type: 'agent.ready', session_id: 's1', timestamp: expect.any(String) },
        j: { type: 'system.user.joined', session_id: 's1', timestamp: expect.any(String), via: ['n'] },
        a: { type: 'system.control.interrupt', n: 1, via: ['n'] },
        b: { type: 'system.user.started_speaking', n: 2, via: ['n'] },
        c: { type: 'test.injected', n: 3, via: ['n'] },
      });
    });
  });

  it('queues an event sent from a hook behind the delivery in progress', () => {
    const e1 = ev('test.first');
    const e2 = ev('test.second');
    const h = ev('test.from_hook');
    runSession(
      (s) => {
        s.addNode(node('twice', mergeMap((e) => (e.type === 'test.a' ? [e1, e2] : []))));
        s.onEvent('test.first', (session) => session.send(h));
      },
      ({ inject, expectObservable }, out$) => {
        inject('-a');
        expectObservable(out$).toBe('-(xyz)', { x: e1, y: e2, z: h });
      },
    );
  });

  it('queues an event injected by a node behind the event being delivered (no re-entrant reordering)', () => {
    const y = ev('test.y');
    runSession(
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
      ({ inject, expectObservable }, out$) => {
        inject('-a');
        // without the trampoline, "later" would see y before a
        expectObservable(out$).toBe('-(abcd)', {
          a,
          b: { ...a, via: ['later'] },
          c: y,
          d: { ...y, via: ['later'] },
        });
      },
    );
  });

  it('delivers asynchronous emissions in virtual time', () => {
    runSession(
      (s) => {
        const slow = node('slow', (input$) => input$.pipe(filter((e) => e.type === 'test.a'), delay(4)));
        const after = stamp('after');
        s.addNode(slow).addNode(after).addEdge(slow, after);
      },
      ({ inject, expectObservable }, out$) => {
        inject('-a');
        expectObservable(out$).toBe('-----x', { x: { ...a, via: ['after'] } });
      },
    );
  });
});
