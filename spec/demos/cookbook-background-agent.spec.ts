import { filter, from, ignoreElements, Observable, tap } from 'rxjs';
import { z } from 'zod';
import {
  BackgroundCrewNode,
  CrewEvent,
  CrewSession,
  event,
  NodeContext,
  OutputCrewNode,
  Responder,
  tool,
  Turn,
  TurnOutput,
} from 'rxcrew';
import { scriptedResponder, ScriptRule } from 'rxcrew/llm';
import { CrewClient, Harness, say, silentLogger } from '../integration/helpers';

/*
 * A port of Smallest AI's cookbook "background agent" (voice-agents/background_agent:
 * a SentimentAnalyzer BackgroundAgentNode beside a SupportAgent OutputAgentNode that
 * asks it, by a method call, whether to escalate). As in the cookbook, setup creates
 * both nodes for each session and hands the analyzer to the agent; both are children
 * of the root, so both receive every event. Over a real socket, two sessions at once:
 * the frustrated caller is transferred to a supervisor, the calm one is not.
 * docs/porting.md walks through the same code.
 */

/** What counts as frustration. The cookbook asks a model; words keep the spec deterministic. */
const FRUSTRATED = /\b(ridiculous|terrible|unacceptable|nobody|refund|worst|waiting)\b/i;
/** Frustrated messages after which the agent escalates (the cookbook's "3/3"). */
const ESCALATE_AT = 3;
const SUPERVISOR = '+15550100';

type Sentiment = 'neutral' | 'frustrated';

/**
 * Listens to what the user says and keeps a running sentiment for the agent to
 * ask about. A background node emits nothing into the graph: it reports through
 * `session.send` (an `agent.log`, seen by hooks and the client).
 */
class SentimentAnalyzer extends BackgroundCrewNode {
  current: Sentiment = 'neutral';
  frustrationCount = 0;

  constructor() {
    super({ name: 'sentiment-analyzer' });
  }

  /** Asked by the agent before each reply. */
  shouldEscalate(): boolean {
    return this.frustrationCount >= ESCALATE_AT;
  }

  summary(): { current: Sentiment; frustration_count: number; threshold: number } {
    return { current: this.current, frustration_count: this.frustrationCount, threshold: ESCALATE_AT };
  }

  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    return input$.pipe(
      filter((e) => e.type === 'agent.transcript.update' && e.role === 'user'),
      tap((e) => {
        this.current = FRUSTRATED.test(String(e.content)) ? 'frustrated' : 'neutral';
        if (this.current === 'frustrated') this.frustrationCount++;
        ctx.session.send(event('agent.log', { name: 'sentiment', payload: this.summary() }));
      }),
      ignoreElements(),
    );
  }
}

const ESCALATION = "I can hear this has been frustrating. I'm sorry. Let me connect you with a supervisor.";

const SUPPORT_RULES: readonly ScriptRule[] = [
  {
    name: 'mood',
    when: /how do i sound/i,
    reply: 'You sound fine to me.',
    tool: { name: 'get_customer_sentiment', phrase: (r) => `Sentiment: ${(r as { current: string }).current}.` },
  },
  { name: 'order', when: /\border\b/i, reply: 'Your order is on its way.' },
];

/** The support agent: before each reply it asks the analyzer whether to hand over to a person. */
class SupportAgent extends OutputCrewNode {
  constructor(
    private readonly sentiment: SentimentAnalyzer,
    private readonly model: Responder,
  ) {
    super({
      name: 'support-agent',
      systemPrompt: 'You are a helpful customer support agent. Be extra empathetic when the customer is frustrated.',
      // the cookbook's get_customer_sentiment tool: the model may ask the analyzer too
      tools: [
        tool({
          name: 'get_customer_sentiment',
          description: "The customer's current mood and frustration level.",
          parameters: z.object({}),
          execute: () => sentiment.summary(),
        }),
      ],
    });
  }

  generateResponse(turn: Turn): AsyncIterable<TurnOutput> | Observable<TurnOutput> {
    if (this.sentiment.shouldEscalate()) {
      // sent after this turn's end; the node answers no further requests
      this.transferCall(SUPERVISOR, { reason: 'customer frustrated' });
      return from([ESCALATION]);
    }
    return this.model(turn);
  }
}

describe('cookbook port: background agent (SentimentAnalyzer + SupportAgent)', () => {
  const GREETING = 'Hello! I am your support agent. How can I help you today?';
  const h = new Harness();
  afterEach(() => h.cleanup());

  /** The cookbook's setup_session: both nodes per session, the analyzer handed to the agent. */
  async function startApp() {
    const analyzers = new Map<string, SentimentAnalyzer>();
    const model = scriptedResponder(SUPPORT_RULES, { chunkDelayMs: 0, fallback: () => 'How can I help?' });
    const app = await h.start({
      logger: silentLogger,
      setup: (session: CrewSession) => {
        const analyzer = new SentimentAnalyzer();
        const agent = new SupportAgent(analyzer, model);
        session.addNode(analyzer);
        session.addNode(agent);
        analyzers.set(session.id, analyzer);
        // the cookbook's greeting: on_event_received sees the user join (added before start())
        session.onEvent('on_event_received', (_s, e) => {
          if (e.type === 'system.user.joined') agent.speak(GREETING);
        });
      },
    });
    return { ...app, analyzers };
  }

  /** Says `content`, asks for a reply, and returns its text and the events of the turn (up to its end). */
  async function turn(client: CrewClient, content: string): Promise<{ text: string; events: CrewEvent[] }> {
    const before = client.events.length;
    client.send(say(content));
    client.send({ type: 'system.llm.request' });
    await client.next('agent.llm.response.end');
    await client.roundTrip(); // what the agent sends right after the end (a transfer) is in
    const events = client.events.slice(before);
    const text = events
      .filter((e) => e.type === 'agent.llm.response.chunk')
      .map((e) => String(e.text))
      .join('');
    return { text, events };
  }

  const frustrationLogs = (client: CrewClient) =>
    client.events.filter((e) => e.type === 'agent.log' && e.name === 'sentiment').map((e) => (e.payload as { frustration_count: number }).frustration_count);

  it('escalates the frustrated caller after the third frustrated message, and only that caller', async () => {
    const { connectReady, analyzers } = await startApp();
    const angry = await connectReady();
    const calm = await connectReady();
    const angryLines = ['I have been waiting three weeks for my order!', 'This is ridiculous!', 'Terrible service, I want a refund!'];
    const calmLines = ['Where is my order?', 'Thanks, that helps.', 'And my other order?'];

    // interleaved, so that the two sessions run side by side
    const angryTurns = [];
    const calmTurns = [];
    for (let i = 0; i < 3; i++) {
      angryTurns.push(await turn(angry, angryLines[i]));
      calmTurns.push(await turn(calm, calmLines[i]));
    }

    for (const client of [angry, calm]) expect(client.events.filter((e) => e.type === 'agent.speak').map((e) => e.text)).toEqual([GREETING]);
    expect(angryTurns.map((t) => t.text)).toEqual(['Your order is on its way.', 'How can I help?', ESCALATION]);
    expect(calmTurns.map((t) => t.text)).toEqual(['Your order is on its way.', 'How can I help?', 'Your order is on its way.']);

    // the transfer follows the escalation's one end; the calm caller never gets one
    const lastTypes = angryTurns[2].events.map((e) => e.type).filter((t) => t.startsWith('agent.llm.response') || t === 'agent.transfer_call');
    expect(lastTypes.slice(-2)).toEqual(['agent.llm.response.end', 'agent.transfer_call']);
    expect(angry.events.filter((e) => e.type === 'agent.transfer_call')).toEqual([
      expect.objectContaining({ transfer_call_number: SUPERVISOR, transfer_options: { reason: 'customer frustrated' } }),
    ]);
    expect(calm.types).not.toContain('agent.transfer_call');

    // what each analyzer logged: its own session's count only
    expect(frustrationLogs(angry)).toEqual([1, 2, 3]);
    expect(frustrationLogs(calm)).toEqual([0, 0, 0]);
    const [angryAnalyzer, calmAnalyzer] = [...analyzers.values()];
    expect(angryAnalyzer).not.toBe(calmAnalyzer);
    expect(angryAnalyzer.summary()).toEqual({ current: 'frustrated', frustration_count: 3, threshold: 3 });
    expect(calmAnalyzer.summary()).toEqual({ current: 'neutral', frustration_count: 0, threshold: 3 });

    // transferred: the agent starts no further turn; the calm caller is still answered
    const starts = angry.types.filter((t) => t === 'agent.llm.response.start').length;
    angry.send(say('Hello?'));
    angry.send({ type: 'system.llm.request' });
    await angry.roundTrip();
    expect(angry.types.filter((t) => t === 'agent.llm.response.start')).toHaveLength(starts);
    expect((await turn(calm, 'One more thing about my order')).text).toBe('Your order is on its way.');
  });

  it("lets the model ask the analyzer through the agent's tool", async () => {
    const { connectReady } = await startApp();
    const client = await connectReady();
    await turn(client, 'This is unacceptable.');
    const { text, events } = await turn(client, 'How do I sound?');
    expect(text).toBe('Sentiment: neutral.'); // the latest message is not frustrated
    expect(events.find((e) => e.type === 'agent.log' && e.name === 'tool_call_end')).toMatchObject({
      payload: { tool: 'get_customer_sentiment', result: { current: 'neutral', frustration_count: 1, threshold: 3 } },
    });
  });
});
