import { CrewEvent, CrewSession } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';
import { SALES_RULES, SalesAgent, SCRIPT } from '../../demos/sales-agent/sales-agent';
import { scriptedResponder } from 'rxcrew/llm';
import { createSetup, SPEECH_COUNT_KEY } from '../../demos/sales-agent/setup';
import { SessionStats, StatsTracker } from '../../demos/sales-agent/stats-tracker';

const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };

function init(customerName?: string): object {
  return {
    type: 'system.init',
    version: '1.0',
    session_context: { initial_variables: customerName ? { customer_name: customerName } : {}, conversation_type: 'chat' },
  };
}

/** The demo's graph (tracker → agent) in a standalone session, with an in-memory client. */
function demoSession(): { session: CrewSession; client: TestClient } {
  const session = new CrewSession({ logger: quiet });
  const tracker = new StatsTracker();
  // the script, not whatever model the environment names, and no pauses between pieces
  const agent = new SalesAgent({ responder: scriptedResponder(SALES_RULES, { chunkDelayMs: 0, fallback: () => SCRIPT.fallback }) });
  session.addNode(tracker).addNode(agent).addEdge(tracker, agent);
  return { session, client: new TestClient(session) };
}

/** Says `content` as the user and returns the events the agent sent in reply, up to what followed its end. */
async function ask(client: TestClient, content: string | undefined, request: object = {}): Promise<CrewEvent[]> {
  const before = client.received.length;
  const ends = client.all('agent.llm.response.end').length;
  if (content !== undefined) client.send({ type: 'agent.transcript.update', role: 'user', content });
  client.send({ type: 'system.llm.request', ...request });
  await client.next((e) => e.type === 'agent.llm.response.end' && client.all('agent.llm.response.end').length > ends);
  await new Promise<void>((r) => setImmediate(r)); // what is sent right after the end (end_call)
  return client.received.slice(before);
}

/** The figures `OutputCrewNode` sends after each turn's end. */
const isTurnMetrics = (e: CrewEvent) => e.type === 'agent.log' && e.name === 'turn.metrics';

function replyText(events: CrewEvent[]): string {
  return events
    .filter((e) => e.type === 'agent.llm.response.chunk')
    .map((e) => e.text)
    .join('');
}

describe('SalesAgent', () => {
  it('greets the caller by the name given in system.init', async () => {
    const { session, client } = demoSession();
    client.send(init('Ada')); // before start: buffered, but its variables land in the context at once
    await session.start();
    const greeting = await client.next('agent.speak');
    expect(greeting.text).toMatch(/^Hi Ada! I'm Sunny from HelioMax Solar\./);
    await session.stop();
  });

  it('greets "there" when no name was given', async () => {
    const { session, client } = demoSession();
    await session.start();
    expect((await client.next('agent.speak')).text).toMatch(/^Hi there!/);
    await session.stop();
  });

  it('answers a price question with start, chunks and exactly one end, in order', async () => {
    const { session, client } = demoSession();
    await session.start();
    const answer = await ask(client, 'How much does the panel cost?');
    // the turn's figures follow its end
    expect(answer.at(-1)).toMatchObject({ type: 'agent.log', name: 'turn.metrics', payload: { request_id: answer[0].request_id, outcome: 'completed' } });
    const reply = answer.slice(0, -1);

    const types = reply.map((e) => e.type);
    expect(types[0]).toBe('agent.llm.response.start');
    expect(types[types.length - 1]).toBe('agent.llm.response.end');
    expect(types.filter((t) => t === 'agent.llm.response.end')).toHaveLength(1);
    expect(types.slice(1, -1).every((t) => t === 'agent.llm.response.chunk')).toBe(true);
    expect(types.length - 2).toBeGreaterThan(1); // streamed in several pieces
    expect(typeof reply[0].request_id).toBe('string');
    expect(replyText(reply)).toBe(SCRIPT.price);
    await session.stop();
  });

  it('answers feature questions and falls back on anything else', async () => {
    const { session, client } = demoSession();
    await session.start();
    expect(replyText(await ask(client, 'What features does it have?'))).toBe(SCRIPT.features);
    expect(replyText(await ask(client, 'Do you sell bicycles?'))).toBe(SCRIPT.fallback);
    await session.stop();
  });

  it('emits only its own events: nothing the client sent comes back', async () => {
    const { session, client } = demoSession();
    client.send(init('Ada'));
    await session.start();
    await ask(client, 'price?');
    const sent = client.received.map((e) => e.type);
    expect(sent.filter((t) => !t.startsWith('agent.') || t === 'agent.transcript.update')).toEqual([]);
    await session.stop();
  });

  it('keeps conversation state per session: two sessions do not share history', async () => {
    const a = demoSession();
    const b = demoSession();
    await a.session.start();
    await b.session.start();

    // "yes" only books a survey right after the price answer offered one. B's "yes"
    // comes between A's offer and A's "yes": shared history would book a survey for B.
    await ask(a.client, 'What does it cost?');
    expect(replyText(await ask(b.client, 'yes please'))).toBe(SCRIPT.fallback);
    expect(replyText(await ask(a.client, 'yes please'))).toBe(SCRIPT.surveyBooked);

    await Promise.all([a.session.stop(), b.session.stop()]);
  });

  it('replaces its history with the messages of a system.llm.request', async () => {
    const { session, client } = demoSession();
    await session.start();
    const messages = [
      { role: 'assistant', content: SCRIPT.price },
      { role: 'user', content: 'sure' },
    ];
    expect(replyText(await ask(client, undefined, { messages }))).toBe(SCRIPT.surveyBooked);
    await session.stop();
  });

  it('lets the client replace the record of its last reply (what the user heard)', async () => {
    const { session, client } = demoSession();
    await session.start();
    await ask(client, 'price?');
    // The user heard only part of the reply: the offer never reached them.
    client.send({ type: 'agent.transcript.update', role: 'assistant', content: 'The HelioMax 400 panel costs $349.' });
    expect(replyText(await ask(client, 'yes'))).toBe(SCRIPT.fallback);
    await session.stop();
  });

  it('says goodbye, then agent.end_call after the end, and answers no further requests', async () => {
    const { session, client } = demoSession();
    await session.start();
    const reply = await ask(client, 'Thanks, bye!');
    expect(replyText(reply)).toBe(SCRIPT.goodbye);
    expect(reply.map((e) => e.type).slice(-3)).toEqual(['agent.llm.response.end', 'agent.log', 'agent.end_call']);
    expect(isTurnMetrics(reply.at(-2)!)).toBe(true);
    const before = client.received.length;
    client.send({ type: 'system.llm.request' });
    await new Promise<void>((r) => setImmediate(r));
    expect(client.received.slice(before)).toEqual([]);
    await session.stop();
  });
});

describe('StatsTracker', () => {
  it('counts events and user turns into the context and logs a summary when the user leaves', async () => {
    const { session, client } = demoSession();
    const logs: CrewEvent[] = [];
    session.onEvent('agent.log', (_s, e) => void logs.push(e));
    client.send(init('Ada'));
    await session.start();
    await ask(client, 'price?');
    client.send({ type: 'agent.transcript.update', role: 'assistant', content: SCRIPT.price });
    await ask(client, 'features?');

    const stats = session.context.get('stats') as SessionStats;
    expect(stats.user_turns).toBe(2);
    expect(stats.llm_requests).toBe(2);
    expect(stats.events).toEqual({
      'system.init': 1,
      'system.user.joined': 1,
      'agent.transcript.update': 3,
      'system.llm.request': 2,
    });
    // The tracker passes events on: the agent saw and answered both requests.
    expect(client.all('agent.llm.response.end')).toHaveLength(2);

    client.close();
    await session.waitUntilComplete();
    expect(logs.filter(isTurnMetrics)).toHaveLength(2); // one per turn, besides the summary
    const summaries = logs.filter((e) => !isTurnMetrics(e));
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      name: 'stats',
      payload: { session_id: session.id, user_turns: 2, llm_requests: 2, events: { 'system.user.left': 1 } },
    });
  });
});

describe('createSetup', () => {
  it('builds tracker → agent, runs the page hooks, and resolves when the connection ends', async () => {
    const log = jest.fn<void, [string]>();
    const session = new CrewSession({ id: 'call-1', logger: quiet });
    const client = new TestClient(session);
    const done = createSetup({ log })(session);
    expect(session.state).toBe('created'); // waiting for the client's system.init
    client.send(init('Grace'));
    await session.waitForInit();
    await Promise.resolve(); // setup resumes and starts the session

    expect(session.state).toBe('running');
    expect(client.all('agent.speak')[0].text).toContain('Grace');
    expect(session.nodes.map((n) => n.name)).toEqual(['StatsTracker', 'SalesAgent']);
    expect(log).toHaveBeenCalledWith('User call-1 connected!');
    expect(session.context.get(SPEECH_COUNT_KEY)).toBe(1); // the greeting

    client.send({ type: 'system.control.interrupt' });
    expect(log).toHaveBeenCalledWith('User interrupted the agent!');

    client.close();
    await done;
    expect(session.state).toBe('closed');
    expect(log).toHaveBeenLastCalledWith(expect.stringMatching(/^Stats for session call-1: \{.*"user_turns":0/));
  });
});
