import { map, tap } from 'rxjs';
import { CrewEvent, CrewSession, ErrorCodes, event, node } from 'rxcrew';
import { deferred, Harness, init, say, silentLogger, within } from './helpers';

/*
 * What `onEvent('on_event_received', …)` — the one hook name the Atoms SDK's
 * cookbook uses — sees over a real socket: every event the session receives
 * from the client, once each, in arrival order (JSON in text and binary frames,
 * audio frames as `user.audio`), and nothing else: not what nodes emit, not the
 * runtime's own events, not `inject` or `send`, not refused frames.
 */

/** 20 ms of 16 kHz PCM16 mono whose first byte is not `{`: audio, never JSON. */
function pcm(seed: number): Buffer {
  const buf = Buffer.alloc(640, seed);
  buf[0] = 0x01;
  return buf;
}

/** A label for an event as a hook saw it. */
function label(e: CrewEvent): string {
  if (e.type === 'user.audio') return `user.audio:${(e.audio as Buffer)[1]}`;
  if (e.type === 'agent.transcript.update') return `transcript:${String(e.content)}`;
  return e.type;
}

interface Recorded {
  received: CrewEvent[];
  all: CrewEvent[];
  session: Promise<CrewSession>;
}

describe("onEvent('on_event_received') over a real socket", () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  /**
   * An app whose setup waits for `gate` before it starts the session (so that
   * frames can arrive before `start()`), with a node that answers transcripts
   * (`agent.speak`), a pass-through node, an `on_event_received` hook and a `*`
   * hook; after the start it injects one event and sends another.
   */
  async function recordingApp(gate: Promise<void>): Promise<Recorded & { connect: () => ReturnType<typeof h.connect> }> {
    const received: CrewEvent[] = [];
    const all: CrewEvent[] = [];
    const made = deferred<CrewSession>();
    const running = await h.start({
      logger: silentLogger,
      setup: async (session) => {
        made.resolve(session);
        const passThrough = node('pass-through', tap());
        const reply = node(
          'reply',
          map((e) => (e.type === 'agent.transcript.update' ? event('agent.speak', { text: `heard ${String(e.content)}` }) : event('test.echo'))),
        );
        session.addNode(passThrough).addNode(reply).addEdge(passThrough, reply);
        session.onEvent('on_event_received', (_s, e) => void received.push(e));
        session.onEvent('*', (_s, e) => void all.push(e));
        session.inject({ type: 'test.injected.before_start' });
        await gate;
        await session.start();
        session.inject({ type: 'test.injected' });
        session.send(event('agent.log', { name: 'test', payload: 'sent by the app' }));
      },
    });
    return { received, all, session: made.promise, connect: () => h.connect(`ws://127.0.0.1:${running.port}/ws`) };
  }

  it('sees every client event once, in arrival order: JSON (text and binary frames) and audio, also those held before start()', async () => {
    const gate = deferred();
    const app = await recordingApp(gate.promise);
    const client = await app.connect();
    const session = await within(app.session, 'setup');

    // before start(): held, then delivered in order
    client.send(init({ name: 'Ada' }));
    client.send(say('early'));
    client.sendRaw(pcm(1));
    await client.roundTrip();
    expect(session.state).toBe('created');
    expect(app.received).toEqual([]);
    gate.resolve();
    await client.next('agent.ready');

    client.send(say('text frame'));
    client.send(say('binary frame'), { binary: true });
    client.sendRaw(pcm(2));
    client.send({ type: 'system.user.started_speaking' });
    client.sendRaw(pcm(3));
    client.send({ type: 'system.control.interrupt' });
    await client.roundTrip();

    expect(app.received.map(label)).toEqual([
      'system.user.joined', // the client joined (made by the runtime, as the platform does)
      'system.init',
      'transcript:early',
      'user.audio:1',
      'transcript:text frame',
      'transcript:binary frame',
      'user.audio:2',
      'system.user.started_speaking',
      'user.audio:3',
      'system.control.interrupt',
    ]);
    // once each: no object twice (the pass-through node hands the same objects on)
    expect(new Set(app.received).size).toBe(app.received.length);
    expect(app.received.find((e) => e.type === 'system.init')).toMatchObject({ session_context: { initial_variables: { name: 'Ada' } } });
    expect((app.received.find((e) => label(e) === 'user.audio:2')!.audio as Buffer).equals(pcm(2))).toBe(true);
    expect(app.received.find((e) => e.type === 'user.audio')).toMatchObject({ sample_rate: 16000 });
  });

  it('sees the client join and leave, but not what nodes emit, the runtime’s other events, injected events or events sent to the client', async () => {
    const app = await recordingApp(Promise.resolve());
    const client = await app.connect();
    await client.next('agent.ready');
    client.send(say('hello'));
    await client.next('agent.speak');
    await client.close();
    const session = await app.session;
    await within(session.waitUntilComplete(), 'teardown');

    const clientTypes = new Set(app.received);
    const notReceived = app.all.filter((e) => !clientTypes.has(e)).map((e) => e.type);
    expect(app.received.map(label)).toEqual(['system.user.joined', 'transcript:hello', 'system.user.left']);
    // the '*' hook saw them all; on_event_received none of these
    expect(notReceived).toEqual([
      'agent.ready', // runtime → client
      'test.echo', // a node's answer to it
      'test.injected.before_start', // inject() held before start
      'test.echo', // a node's answer to it
      'test.injected',
      'test.echo',
      'agent.log', // send()
      'agent.speak', // a node's answer to the client's transcript
      'test.echo',
    ]);
  });

  it('does not see refused frames (the client gets agent.error, which the hook does not see either) nor a client’s copy of a runtime event', async () => {
    const app = await recordingApp(Promise.resolve());
    const client = await app.connect();
    await client.next('agent.ready');

    client.sendRaw('{not json');
    client.send({ type: 'no.such.type' });
    client.send({ type: 'agent.speak', text: 'only the agent sends this' });
    client.send({ type: 'agent.transcript.update', role: 'robot', content: 'fails the schema' });
    client.sendRaw('[1, 2]');
    client.send({ type: 'system.user.joined', session_id: 'forged' }); // dropped without a word: the runtime emits its own
    client.send({ type: 'system.user_left', session_id: 'forged', code: 1000, reason: 'forged' }); // an alias of a runtime type: dropped too
    client.send(say('valid after all that'));
    await client.next((e) => e.type === 'agent.speak' && e.text === 'heard valid after all that');

    // the runtime's joined only: the client's copies of joined and left were dropped
    expect(app.received.map(label)).toEqual(['system.user.joined', 'transcript:valid after all that']);
    const refusals = client.events.filter((e) => e.type === 'agent.error');
    expect(refusals).toHaveLength(5);
    expect(refusals.every((e) => (e.payload as { code?: string }).code === ErrorCodes.BAD_EVENT && e.severity === 'warning')).toBe(true);
    expect(app.all.filter((e) => e.type === 'agent.error')).toHaveLength(5);
    expect(app.all.filter((e) => e.type === 'system.user.joined').map((e) => e.session_id)).toEqual([(await app.session).id]);
  });
});
