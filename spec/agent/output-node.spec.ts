import { Observable, Subject } from 'rxjs';
import { CrewEvent, CrewSession, OutputCrewNode, Turn, TurnOutput } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';

const quiet = { error: jest.fn(), warn: jest.fn(), info: jest.fn() };

/** A generator the test drives piece by piece, recording what the node did to it. */
class Remote {
  pieces = new Subject<TurnOutput>();
  turns: Turn[] = [];
  returned = 0;
  abortedAt: number[] = [];
}

class Scripted extends OutputCrewNode {
  constructor(
    readonly remote: Remote,
    options: ConstructorParameters<typeof OutputCrewNode>[0] = {},
  ) {
    super(options);
  }

  async *generateResponse(turn: Turn): AsyncGenerator<TurnOutput> {
    const remote = this.remote;
    remote.turns.push(turn);
    turn.signal.addEventListener('abort', () => remote.abortedAt.push(remote.turns.length));
    const queue: TurnOutput[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const sub = remote.pieces.subscribe({
      next: (p) => {
        queue.push(p);
        wake?.();
      },
      complete: () => {
        done = true;
        wake?.();
      },
    });
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (done) return;
        await new Promise<void>((r) => (wake = r));
      }
    } finally {
      remote.returned++;
      sub.unsubscribe();
    }
  }
}

async function setup(options: ConstructorParameters<typeof OutputCrewNode>[0] = {}) {
  const remote = new Remote();
  const agent = new Scripted(remote, options);
  const session = new CrewSession({ logger: quiet });
  session.addNode(agent);
  const client = new TestClient(session);
  await session.start();
  return { remote, agent, session, client };
}

const types = (events: CrewEvent[]) => events.map((e) => e.type);
const turnEvents = (client: TestClient) => client.received.filter((e) => e.type.startsWith('agent.llm.response'));
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('OutputCrewNode: the turn', () => {
  it('answers a request with start {request_id}, a chunk per piece, and one end', async () => {
    const { remote, client } = await setup();
    client.send({ type: 'agent.transcript.update', role: 'user', content: 'hi' });
    client.send({ type: 'system.llm.request' });
    const start = await client.next('agent.llm.response.start');
    expect(typeof start.request_id).toBe('string');
    remote.pieces.next('Hel');
    remote.pieces.next('lo');
    remote.pieces.complete();
    await client.next('agent.llm.response.end');
    expect(turnEvents(client).map((e) => e.text ?? e.type)).toEqual(['agent.llm.response.start', 'Hel', 'lo', 'agent.llm.response.end']);
    expect(remote.turns[0].messages).toEqual([{ role: 'user', content: 'hi' }]);
    expect(remote.turns[0].requestId).toBe(start.request_id);
  });

  it('keeps the conversation: system prompt first, transcripts, its own reply', async () => {
    const { remote, agent, client } = await setup({ systemPrompt: 'Be brief.' });
    client.send({ type: 'agent.transcript.update', role: 'user', content: 'one' });
    client.send({ type: 'system.llm.request' });
    remote.pieces.next('first reply');
    remote.pieces.complete();
    await client.next('agent.llm.response.end');
    expect(agent.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'one' },
      { role: 'assistant', content: 'first reply' },
    ]);
    // the client's record of what the user heard replaces the node's record
    client.send({ type: 'agent.transcript.update', role: 'assistant', content: 'first re' });
    client.send({ type: 'agent.transcript.update', role: 'assistant', content: 'an aside' });
    expect(agent.messages.slice(2)).toEqual([
      { role: 'assistant', content: 'first re' },
      { role: 'assistant', content: 'an aside' },
    ]);
  });

  it('lets the client\'s assistant transcript replace a speak too, and an empty one remove the record', async () => {
    const { remote, agent, client } = await setup();
    agent.speak('Hello there. How can I help?');
    client.send({ type: 'agent.transcript.update', role: 'assistant', content: 'Hello there.' });
    await tick();
    expect(agent.messages).toEqual([{ role: 'assistant', content: 'Hello there.' }]);
    client.send({ type: 'system.llm.request' });
    remote.pieces.next('a reply nobody heard');
    remote.pieces.complete();
    await client.next('agent.llm.response.end');
    client.send({ type: 'agent.transcript.update', role: 'assistant', content: '' });
    client.send({ type: 'agent.transcript.update', role: 'assistant', content: '' }); // a second empty one: nothing to record
    await tick();
    expect(agent.messages).toEqual([{ role: 'assistant', content: 'Hello there.' }]);
  });

  it('replaces the conversation with a request\'s messages, keeping its system prompt first', async () => {
    const { remote, client } = await setup({ systemPrompt: 'Node prompt' });
    client.send({
      type: 'system.llm.request',
      messages: [
        { role: 'system', content: 'Client prompt' },
        { role: 'user', content: 'q' },
      ],
      extra_params: { temperature: 0 },
    });
    await client.next('agent.llm.response.start');
    expect(remote.turns[0].messages).toEqual([
      { role: 'system', content: 'Node prompt' },
      { role: 'system', content: 'Client prompt' },
      { role: 'user', content: 'q' },
    ]);
    expect(remote.turns[0].extraParams).toEqual({ temperature: 0 });
  });

  it('accepts an Observable from generateResponse', async () => {
    class Obs extends OutputCrewNode {
      generateResponse(): Observable<string> {
        return new Observable((s) => {
          s.next('a');
          s.next('b');
          s.complete();
        });
      }
    }
    const session = new CrewSession();
    session.addNode(new Obs());
    const client = new TestClient(session);
    await session.start();
    client.send({ type: 'system.llm.request' });
    await client.next('agent.llm.response.end');
    expect(client.all('agent.llm.response.chunk').map((e) => e.text)).toEqual(['a', 'b']);
  });

  it('queues requests and answers them one after the other', async () => {
    const { remote, client } = await setup();
    client.send({ type: 'system.llm.request' });
    client.send({ type: 'system.llm.request' });
    await client.next('agent.llm.response.start');
    remote.pieces.next('x');
    remote.pieces.complete();
    await client.next('agent.llm.response.end');
    await client.next('agent.llm.response.start');
    expect(remote.turns).toHaveLength(2);
  });

  it('ends a failing turn with agent.error and its one end, then answers the next request', async () => {
    class Failing extends OutputCrewNode {
      calls = 0;
      async *generateResponse(): AsyncGenerator<string> {
        if (++this.calls === 1) {
          yield 'partial ';
          throw new TypeError('model exploded');
        }
        yield 'fine';
      }
    }
    const session = new CrewSession();
    const node = new Failing();
    session.addNode(node);
    const client = new TestClient(session);
    await session.start();
    client.send({ type: 'system.llm.request' });
    const error = await client.next('agent.error');
    expect(error.payload).toMatchObject({ node_name: 'Failing', error_class: 'TypeError', message: 'model exploded' });
    await client.next('agent.llm.response.end');
    client.send({ type: 'system.llm.request' });
    await client.next('agent.llm.response.end');
    expect(types(turnEvents(client))).toEqual([
      'agent.llm.response.start',
      'agent.llm.response.chunk',
      'agent.llm.response.end',
      'agent.llm.response.start',
      'agent.llm.response.chunk',
      'agent.llm.response.end',
    ]);
    expect(node.messages).toEqual([
      { role: 'assistant', content: 'partial ' },
      { role: 'assistant', content: 'fine' },
    ]);
  });

  it('reports a failed turn as CREW_ERR_NODE_FAILED, in the shape every agent.error has', async () => {
    class Failing extends OutputCrewNode {
      async *generateResponse(): AsyncGenerator<string> {
        throw new RangeError('no model');
      }
    }
    const session = new CrewSession();
    session.addNode(new Failing({ name: 'agent' }));
    const client = new TestClient(session);
    await session.start();
    client.send({ type: 'system.llm.request' });
    expect(await client.next('agent.error')).toEqual({
      type: 'agent.error',
      message: 'node "agent" failed to answer: no model',
      severity: 'warning',
      payload: { code: 'CREW_ERR_NODE_FAILED', error_class: 'RangeError', message: 'no model', node_name: 'agent' },
      timestamp: expect.any(String),
    });
    await client.next('agent.llm.response.end');
  });

  it('refuses a second session for the same instance', async () => {
    const agent = new Scripted(new Remote());
    const one = new CrewSession({ logger: quiet });
    one.addNode(agent);
    await one.start();
    const two = new CrewSession({ logger: quiet });
    two.addNode(agent);
    await expect(two.start()).rejects.toThrow(/create one instance per session/);
  });
});

describe('OutputCrewNode: speak, endCall, transferCall', () => {
  it('speaks, ends the call, and answers no further requests', async () => {
    const { agent, remote, client } = await setup();
    agent.speak('Welcome!');
    agent.endCall();
    agent.endCall();
    client.send({ type: 'system.llm.request' });
    await tick();
    expect(types(client.received).filter((t) => t.startsWith('agent.') && t !== 'agent.ready')).toEqual(['agent.speak', 'agent.end_call']);
    expect(remote.turns).toHaveLength(0);
    expect(agent.hasEnded).toBe(true);
    expect(agent.messages).toEqual([{ role: 'assistant', content: 'Welcome!' }]);
  });

  it('transfers the call with its options', async () => {
    const { agent, client } = await setup();
    agent.transferCall('+15550100', { reason: 'billing', on_hold_music: 'jazz' });
    expect(await client.next('agent.transfer_call')).toMatchObject({
      transfer_call_number: '+15550100',
      transfer_options: { reason: 'billing' },
      on_hold_music: 'jazz',
    });
    client.send({ type: 'system.llm.request' });
    await tick();
    expect(client.all('agent.llm.response.start')).toHaveLength(0);
  });

  it('greets on system.user.joined with a fixed text or one made from the context', async () => {
    const fixed = new Scripted(new Remote(), { greeting: 'Welcome!' });
    const named = new Scripted(new Remote(), { name: 'named', greeting: (ctx) => `Hi ${String(ctx.context.get('who'))}!` });
    const session = new CrewSession();
    session.context.set('who', 'Ada');
    session.addNode(fixed).addNode(named);
    const client = new TestClient(session);
    await session.start();
    expect(client.all('agent.speak').map((e) => e.text)).toEqual(['Welcome!', 'Hi Ada!']);
    expect(fixed.messages).toEqual([{ role: 'assistant', content: 'Welcome!' }]);
  });

  it('emits what was said before the session started once it starts', async () => {
    const agent = new Scripted(new Remote());
    agent.speak('early');
    const session = new CrewSession();
    session.addNode(agent);
    const client = new TestClient(session);
    await session.start();
    expect(client.all('agent.speak').map((e) => e.text)).toEqual(['early']);
  });
});
