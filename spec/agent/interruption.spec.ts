import { delay, tap } from 'rxjs';
import { CrewEvent, CrewSession, node, OutputCrewNode, Turn } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';

/**
 * A model that streams a word each time the test releases it, and records how
 * it was stopped: whether the abort signal fired and whether the iterator was returned.
 */
class Stepper extends OutputCrewNode {
  releases: Array<() => void> = [];
  signals: AbortSignal[] = [];
  returned = 0;
  abortedWhileWaiting = 0;

  async *generateResponse(turn: Turn): AsyncGenerator<string> {
    this.signals.push(turn.signal);
    try {
      for (const word of ['one ', 'two ', 'three ']) {
        await new Promise<void>((resolve) => {
          this.releases.push(resolve);
          turn.signal.addEventListener('abort', () => {
            this.abortedWhileWaiting++;
            this.releases = this.releases.filter((r) => r !== resolve);
            resolve();
          });
        });
        if (turn.signal.aborted) return;
        yield word;
      }
    } finally {
      this.returned++;
    }
  }

  step(): void {
    this.releases.shift()?.();
  }
}

const flush = () => new Promise<void>((r) => setImmediate(r));

async function setup(options: { interruptible?: boolean } = {}) {
  const agent = new Stepper(options);
  const session = new CrewSession();
  session.addNode(agent);
  const client = new TestClient(session);
  await session.start();
  return { agent, session, client };
}

function turnLog(client: TestClient): string[] {
  return client.received
    .filter((e) => e.type.startsWith('agent.llm.response'))
    .map((e) => (e.type === 'agent.llm.response.chunk' ? String(e.text) : e.type.replace('agent.llm.response.', '')));
}

/** Sends a request and lets the model say its first word, up to that chunk. */
async function answerFirstWord(agent: Stepper, client: TestClient): Promise<void> {
  client.send(request);
  await flush();
  agent.step();
  await client.next('agent.llm.response.chunk');
}

/** Sends a request and lets the model say all three words, up to the turn's end. */
async function answerInFull(agent: Stepper, client: TestClient): Promise<void> {
  client.send(request);
  await flush();
  for (let i = 0; i < 3; i++) {
    agent.step();
    await flush();
  }
  await client.next('agent.llm.response.end');
}

const interrupt = { type: 'system.control.interrupt' };
const request = { type: 'system.llm.request' };

describe('OutputCrewNode: interruption', () => {
  it('aborts mid-stream: the signal fires before send() returns, the iterator is returned, one end closes the turn', async () => {
    const { agent, client } = await setup();
    await answerFirstWord(agent, client);
    client.send(interrupt);
    expect(agent.signals[0].aborted).toBe(true); // synchronously: well within 50 ms
    await client.next('agent.llm.response.end');
    await flush();
    expect(agent.returned).toBe(1);
    expect(turnLog(client)).toEqual(['start', 'one ', 'end']);
    expect(agent.messages).toEqual([{ role: 'assistant', content: 'one ' }]);
  });

  it('aborts before the first chunk', async () => {
    const { agent, client } = await setup();
    client.send(request);
    await client.next('agent.llm.response.start');
    client.send(interrupt);
    await client.next('agent.llm.response.end');
    expect(turnLog(client)).toEqual(['start', 'end']);
    expect(agent.messages).toEqual([]);
  });

  it('ignores an interrupt after the end, and two in a row', async () => {
    const { agent, client } = await setup();
    await answerInFull(agent, client);
    client.send(interrupt);
    client.send(interrupt);
    await flush();
    expect(turnLog(client)).toEqual(['start', 'one ', 'two ', 'three ', 'end']);
  });

  it('sends one end when the end itself causes an interrupt (a hook interrupting on it)', async () => {
    const { agent, session, client } = await setup();
    session.onEvent('agent.llm.response.end', (s) => s.inject(interrupt));
    await answerInFull(agent, client);
    await flush();
    expect(turnLog(client)).toEqual(['start', 'one ', 'two ', 'three ', 'end']);
  });

  it('does not abort a turn whose end caused the interrupt, and sends what waited for that end after it', async () => {
    const { agent, session, client } = await setup();
    session.onEvent('agent.llm.response.end', (s) => s.inject(interrupt));
    client.send(request);
    await flush();
    agent.step();
    await client.next('agent.llm.response.chunk');
    agent.endCall(); // during the turn: waits for its end
    for (let i = 0; i < 2; i++) {
      agent.step();
      await flush();
    }
    await client.next('agent.end_call');
    await flush();
    expect(agent.signals[0].aborted).toBe(false);
    expect(agent.abortedWhileWaiting).toBe(0);
    expect(client.received.map((e) => e.type).filter((t) => t.startsWith('agent.llm') || t === 'agent.end_call')).toEqual([
      'agent.llm.response.start',
      'agent.llm.response.chunk',
      'agent.llm.response.chunk',
      'agent.llm.response.chunk',
      'agent.llm.response.end',
      'agent.end_call',
    ]);
  });

  it('sends one end when the failure report itself causes an interrupt (a hook interrupting on agent.error)', async () => {
    class Failing extends OutputCrewNode {
      signal: AbortSignal | undefined;
      async *generateResponse(turn: Turn): AsyncGenerator<string> {
        this.signal = turn.signal;
        yield 'partial ';
        throw new Error('model exploded');
      }
    }
    const agent = new Failing();
    const session = new CrewSession();
    session.addNode(agent);
    session.onEvent('agent.error', (s) => s.inject(interrupt));
    const client = new TestClient(session);
    await session.start();
    client.send(request);
    await client.next('agent.llm.response.end');
    await flush();
    expect(turnLog(client)).toEqual(['start', 'partial ', 'end']);
    expect(client.all('agent.llm.response.end')[0].interrupted).toBe(true); // the interrupt closed it
    expect(agent.signal?.aborted).toBe(true);
    expect(agent.messages).toEqual([{ role: 'assistant', content: 'partial ' }]);
  });

  it('closes the turn once when interrupted twice in a row mid-stream, then answers the next request normally', async () => {
    const { agent, client } = await setup();
    await answerFirstWord(agent, client);
    client.send(interrupt);
    client.send(interrupt);
    client.send(request);
    await flush();
    for (let i = 0; i < 3; i++) {
      agent.step();
      await flush();
    }
    await client.next((e) => e.type === 'agent.llm.response.end' && client.all('agent.llm.response.end').length === 2);
    expect(turnLog(client)).toEqual(['start', 'one ', 'end', 'start', 'one ', 'two ', 'three ', 'end']);
  });

  it('drops queued requests on interrupt', async () => {
    const { agent, client } = await setup();
    client.send(request);
    client.send(request);
    client.send(request);
    await flush();
    client.send(interrupt);
    await flush();
    expect(agent.signals).toHaveLength(1);
    expect(turnLog(client)).toEqual(['start', 'end']);
  });

  it('lets a non-interruptible node finish its turn and its queue', async () => {
    const { agent, client } = await setup({ interruptible: false });
    client.send(request);
    client.send(request);
    await flush();
    client.send(interrupt);
    for (let i = 0; i < 6; i++) {
      agent.step();
      await flush();
    }
    expect(agent.signals.every((s) => !s.aborted)).toBe(true);
    expect(turnLog(client)).toEqual(['start', 'one ', 'two ', 'three ', 'end', 'start', 'one ', 'two ', 'three ', 'end']);
  });

  it('takes the interrupt from ctx.interrupt$ even when the node sits behind a slow node', async () => {
    const agent = new Stepper();
    const session = new CrewSession();
    const slow = node('slow', (input$) => input$.pipe(delay(5)));
    session.addNode(slow).addNode(agent).addEdge(slow, agent);
    const client = new TestClient(session);
    await session.start();
    client.send(request);
    await client.next('agent.llm.response.start');
    client.send(interrupt);
    expect(agent.signals[0].aborted).toBe(true); // before the interrupt event itself reached the node
  });

  it('aborts the turn when the user leaves', async () => {
    const { agent, session, client } = await setup();
    client.send(request);
    await client.next('agent.llm.response.start');
    await session.stop();
    expect(agent.signals[0].aborted).toBe(true);
  });

  it('puts an interrupt injected during a delivery ahead of queued work', async () => {
    const seen: string[] = [];
    const session = new CrewSession();
    session.addNode(node('watch', tap((e: CrewEvent) => seen.push(e.type))));
    session.onEvent('test.trigger', (s) => {
      s.inject({ type: 'test.queued' });
      s.inject({ type: 'system.control.interrupt' });
    });
    await session.start();
    session.inject({ type: 'test.trigger' });
    expect(seen.slice(-3)).toEqual(['test.trigger', 'system.control.interrupt', 'test.queued']);
  });
});
