import pino from 'pino';
import { map } from 'rxjs';
import { CrewEvent, CrewNode, CrewNodeOptions, jsonLogger, node } from 'rxcrew';
import { Harness, say } from './helpers';

/*
 * Structured logs from a real app over a real ws socket: a node that fails
 * on a transcript is logged with the session's id, the node's name and the
 * type of the event it failed on, by the default JSON-lines logger and by a
 * pino instance passed as `logger`.
 */

/** Lines written to it, each parsed as JSON (every line must be JSON). */
function lines() {
  const written: string[] = [];
  return {
    write: (chunk: string) => void written.push(chunk),
    records: () =>
      written
        .join('')
        .split('\n')
        .slice(0, -1) // the text ends with a newline
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

function failsOnTranscript(name: string, options: CrewNodeOptions = {}): CrewNode {
  return node(
    name,
    map((e: CrewEvent) => {
      if (e.type === 'agent.transcript.update') throw new RangeError(`${name} cannot take a transcript`);
      return e;
    }),
    options,
  );
}

describe('structured logs (real ws client)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('jsonLogger: a failing node is one JSON line with session_id, node, event_type and err', async () => {
    const out = lines();
    const { connectReady } = await h.start({ logger: jsonLogger({ stream: out }), setup: (s) => void s.addNode(failsOnTranscript('picky')).start() });
    const client = await connectReady();
    const sessionId = client.events.find((e) => e.type === 'agent.ready')!.session_id as string;
    client.send(say('hello'));
    await client.next('agent.error');

    expect(out.records()).toEqual([
      {
        level: 'warn',
        time: expect.any(Number),
        msg: 'node "picky" failed',
        session_id: sessionId,
        node: 'picky',
        event_type: 'agent.transcript.update',
        err: { type: 'RangeError', message: 'picky cannot take a transcript', stack: expect.stringMatching(/^RangeError: picky cannot take a transcript\n\s+at /) },
      },
    ]);
  });

  it('jsonLogger: a node that stops its session is logged at error, once', async () => {
    const out = lines();
    const { connectReady } = await h.start({
      logger: jsonLogger({ stream: out }),
      setup: (s) => void s.addNode(failsOnTranscript('strict', { onError: 'stop-session' })).start(),
    });
    const client = await connectReady();
    client.send(say('hello'));
    await client.closed;

    const records = out.records();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ level: 'error', msg: 'node "strict" failed; stopping the session', node: 'strict', event_type: 'agent.transcript.update' });
  });

  it('a pino instance passed as logger gets the records, session_id bound once per session with child()', async () => {
    const out = lines();
    const logger = pino({ base: undefined }, out);
    const child = jest.spyOn(logger, 'child');
    const { connectReady } = await h.start({ logger, setup: (s) => void s.addNode(failsOnTranscript('picky')).start() });
    const [one, two] = [await connectReady(), await connectReady()];
    const ids = [one, two].map((c) => c.events.find((e) => e.type === 'agent.ready')!.session_id);
    for (const c of [one, two, one]) {
      c.send(say('hello'));
      await c.next('agent.error'); // the node logs before it reports
    }

    const records = out.records();
    expect(records).toHaveLength(3);
    expect(records.map((r) => r.session_id)).toEqual([ids[0], ids[1], ids[0]]);
    for (const r of records) {
      expect(r).toMatchObject({
        level: 40, // pino's warn
        time: expect.any(Number),
        msg: 'node "picky" failed',
        node: 'picky',
        event_type: 'agent.transcript.update',
        err: { type: 'RangeError', message: 'picky cannot take a transcript', stack: expect.any(String) },
      });
    }
    expect(child.mock.calls).toEqual([[{ session_id: ids[0] }], [{ session_id: ids[1] }]]);
  });
});
