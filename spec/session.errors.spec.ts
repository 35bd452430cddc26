import { defer, map, mergeMap, Observable, scan, throwError, timer } from 'rxjs';
import { CrewEvent, CrewNode, CrewSession, ErrorCodes, node } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';

const quiet = () => ({ error: jest.fn(), warn: jest.fn(), info: jest.fn() });
const x = (n: number): CrewEvent => ({ type: 'test.x', n });

async function started(...nodes: CrewNode[]) {
  const session = new CrewSession({ logger: quiet() });
  for (const n of nodes) session.addNode(n);
  const client = new TestClient(session);
  await session.start();
  return { session, client };
}

describe('node failures', () => {
  it('reports a node that throws synchronously, and the node keeps serving later events', async () => {
    const flaky = node(
      'flaky',
      map((e) => {
        if (e.n === 2) throw new RangeError('two is not allowed');
        return e.type === 'test.x' ? { type: 'test.out', n: e.n } : e;
      }),
    );
    const { session, client } = await started(flaky);
    for (const n of [1, 2, 3]) session.inject(x(n));
    const report = await client.next('agent.error');
    expect(report).toMatchObject({
      severity: 'warning',
      payload: { code: ErrorCodes.NODE_FAILED, node_name: 'flaky', error_class: 'RangeError', message: 'two is not allowed' },
    });
    expect(client.all('test.out').map((e) => e.n)).toEqual([1, 3]);
    expect(session.state).toBe('running');
  });

  it('keeps closure state across a failure; operator state (scan) restarts', async () => {
    class Tally extends CrewNode {
      process(input$: Observable<CrewEvent>) {
        let seen = 0; // closure state: survives the resubscription
        return input$.pipe(
          map((e) => {
            if (e.type !== 'test.x') return undefined;
            seen++;
            if (e.n === 0) throw new Error('zero');
            return e.n as number;
          }),
          scan((sum, n) => sum + (n ?? 0), 0),
          map((sum) => ({ type: 'test.tally', sum, seen })),
        );
      }
    }
    const { session, client } = await started(new Tally());
    for (const n of [5, 0, 7]) session.inject(x(n));
    const tallies = client.all('test.tally').filter((e) => e.sum !== 0);
    expect(tallies.map((e) => [e.sum, e.seen])).toEqual([
      [5, 1],
      [7, 3],
    ]);
  });

  it('reports an error from an inner observable (asynchronous) and goes on', async () => {
    const inner = node(
      'inner',
      mergeMap((e) =>
        e.type !== 'test.x' ? [] : e.n === 1 ? timer(1).pipe(mergeMap(() => throwError(() => new Error('inner broke')))) : [{ type: 'test.ok', n: e.n }],
      ),
    );
    const { session, client } = await started(inner);
    session.inject(x(1));
    const report = await client.next('agent.error');
    expect(report.payload).toMatchObject({ node_name: 'inner', message: 'inner broke' });
    session.inject(x(2));
    expect(client.all('test.ok').map((e) => e.n)).toEqual([2]);
  });

  it('detaches a node that fails while being subscribed (instead of looping)', async () => {
    const broken = node('broken', () => defer(() => throwError(() => new Error('cannot start'))));
    const { session, client } = await started(broken, node('fine', map((e) => e)));
    const report = client.all('agent.error')[0];
    expect(report.message).toBe('node "broken" failed while subscribing and is detached: cannot start');
    session.inject(x(1));
    expect(client.all('test.x')).toHaveLength(1);
  });

  it("closes the session with 1011 for a node with onError: 'stop-session'", async () => {
    const strict = node(
      'strict',
      map((e) => {
        if (e.type === 'test.x') throw new Error('fatal for this call');
        return e;
      }),
      { onError: 'stop-session' },
    );
    const left: CrewEvent[] = [];
    const session = new CrewSession({ logger: quiet() });
    session.addNode(strict);
    session.onEvent('system.user.left', (_s, e) => void left.push(e));
    const client = new TestClient(session);
    await session.start();
    session.inject(x(1));
    const report = await client.next('agent.error');
    expect(report).toMatchObject({ severity: 'fatal', payload: { node_name: 'strict', code: ErrorCodes.NODE_FAILED } });
    expect(await client.closed).toEqual({ code: 1011, reason: 'node "strict" failed' });
    await session.waitUntilComplete();
    expect(left).toEqual([expect.objectContaining({ code: 1011 })]);
  });

  it('reports a non-Error throw', async () => {
    const odd = node('odd', map((e) => {
      if (e.type === 'test.x') throw 'just a string';
      return e;
    }));
    const { session, client } = await started(odd);
    session.inject(x(1));
    expect((await client.next('agent.error')).payload).toMatchObject({ error_class: 'string', message: 'just a string' });
  });

  it('refuses an invalid onError policy', () => {
    expect(() => node('n', map((e) => e), { onError: 'explode' as never })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  });
});
