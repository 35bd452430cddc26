import { CrewEvent, CrewSession } from 'rxcrew';
import { deferred, echoNode, Harness, init, say, within } from './helpers';

describe('CrewApp handshake (real ws client)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('answers system.init with agent.ready and copies initial_variables into session.context', async () => {
    const seen = deferred<{ session: CrewSession; context: Record<string, unknown>; event: CrewEvent }>();
    const { app, connect } = await h.start({
      setup: (session) => {
        session.addNode(echoNode());
        session.onEvent('system.init', (s, e) => seen.resolve({ session: s, context: s.context.toJSON(), event: e }));
      },
    });

    const client = await connect();
    client.send(init({ customer: 'Ada', tier: 3, flags: { vip: true } }, 'voice'));
    const ready = await client.next('agent.ready');

    const { session, context, event } = await within(seen.promise, 'the system.init hook');
    expect(context).toEqual({ customer: 'Ada', tier: 3, flags: { vip: true } });
    expect(event.session_context).toEqual({
      initial_variables: { customer: 'Ada', tier: 3, flags: { vip: true } },
      conversation_type: 'voice',
    });
    expect(ready.session_id).toBe(session.id);
    expect([...app.sessions.keys()]).toEqual([session.id]);
    expect(app.sessions.get(session.id)!.context.get('customer')).toBe('Ada');
    expect(client.types).not.toContain('agent.error');
  });

  it('sends agent.ready to a client that never sends system.init, and serves it', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(echoNode()) });

    const client = await connect();
    const ready = await client.next('agent.ready');
    client.send(say('no init needed'));
    const reply = await client.next('agent.speak');

    expect(reply).toMatchObject({ text: 'no init needed', session_id: ready.session_id });
    expect(client.types).not.toContain('agent.error');
  });

  it('sends agent.ready exactly once, before any reply', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(echoNode()) });

    const client = await connect();
    client.send(init());
    client.send(say('first'));
    await client.next('agent.speak');

    expect(client.types.filter((t) => t === 'agent.ready')).toHaveLength(1);
    expect(client.types.indexOf('agent.ready')).toBeLessThan(client.types.indexOf('agent.speak'));
  });

  it('runs system.user.joined hooks once with the session id and drops a client-sent system.user.joined', async () => {
    const joined: Array<{ sessionId: string; event: CrewEvent }> = [];
    const { app, connect } = await h.start({
      setup: (session) => {
        session.addNode(echoNode());
        session.onEvent('system.user.joined', (s, e) => void joined.push({ sessionId: s.id, event: e }));
      },
    });

    const client = await connect();
    const ready = await client.next('agent.ready');
    client.send({ type: 'system.user.joined', session_id: 'forged' });
    client.send({ type: 'system.user_joined', session_id: 'forged-alias' });
    // the session handles frames in order: once the probe is answered, the forged ones were handled
    client.send(say('probe'));
    await client.next('agent.speak');

    expect(joined).toHaveLength(1);
    expect(joined[0].sessionId).toBe(ready.session_id);
    expect(joined[0].event).toMatchObject({ type: 'system.user.joined', session_id: ready.session_id });
    expect(app.sessions.has(joined[0].sessionId)).toBe(true);
    expect(client.types).not.toContain('agent.error');
  });

  it('buffers events sent before start() and delivers them in order; init variables are set before start()', async () => {
    const setupMayFinish = deferred();
    const setupEntered = deferred();
    let contextBeforeStart: Record<string, unknown> | undefined;
    const { connect } = await h.start({
      setup: async (session) => {
        session.addNode(echoNode());
        setupEntered.resolve();
        await setupMayFinish.promise;
        contextBeforeStart = session.context.toJSON();
      },
    });

    const client = await connect();
    await within(setupEntered.promise, 'setup to run');
    client.send(init({ name: 'early' }));
    client.send(say('one'));
    client.send(say('two'));
    // a pong comes back only after the server has handled the frames sent before the ping
    await client.roundTrip();
    setupMayFinish.resolve();

    const first = await client.next('agent.speak');
    const second = await client.next('agent.speak');
    expect([first.text, second.text]).toEqual(['one', 'two']);
    expect(client.types[0]).toBe('agent.ready');
    expect(contextBeforeStart).toEqual({ name: 'early' });
  });
});
