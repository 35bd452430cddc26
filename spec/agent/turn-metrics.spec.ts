import { Observable } from 'rxjs';
import { z } from 'zod';
import { CrewEvent, CrewSession, OutputCrewNode, tool, Turn, TurnMetrics, TurnOutput } from 'rxcrew';
import { scriptedResponder } from 'rxcrew/llm';
import { TestClient, testSession } from 'rxcrew/testing';
import { NO_OBSERVER, observeSession, SessionObserver } from '../../lib/internal/observer';

// The figures OutputCrewNode sends after each turn (agent.log turn.metrics), in
// virtual time against a scripted model with known delays: exact to the ms.

/** An observer that keeps the turn figures it is given, with the virtual time of each. */
function recorder() {
  const turns: Array<{ at: number; metrics: TurnMetrics }> = [];
  const observer: SessionObserver = { ...NO_OBSERVER, turn: (metrics) => void turns.push({ at: performance.now(), metrics: { ...metrics } }) };
  return { turns, observer };
}

/** Answers with `reply`, a word every `delayMs`. */
class Scripted extends OutputCrewNode {
  private readonly respond;
  constructor(reply: string, delayMs: number, options: ConstructorParameters<typeof OutputCrewNode>[0] = {}) {
    super(options);
    this.respond = scriptedResponder([{ name: 'any', when: () => true, reply }], { chunkDelayMs: delayMs, wordsPerChunk: 1 });
  }
  generateResponse(turn: Turn) {
    return this.respond(turn);
  }
}

const request = (id: string): CrewEvent => ({ type: 'system.llm.request', request_id: id, messages: [{ role: 'user', content: 'go' }] });
const figuresOf = (frames: Array<{ frame: number; event?: CrewEvent }>) =>
  frames.filter((f) => f.event?.type === 'agent.log' && f.event.name === 'turn.metrics').map((f) => ({ at: f.frame, payload: f.event!.payload }));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('OutputCrewNode: turn figures', () => {
  it('sends ttft, duration and chunks right after the end, and gives the same figures to the observer', async () => {
    const { turns, observer } = recorder();
    const { frames } = await testSession(
      (session) => {
        observeSession(session, observer);
        session.addNode(new Scripted('one two three', 20));
      },
      { client: '-q 99ms Q', values: { q: request('q1'), Q: request('q2') } },
    );
    const first = { request_id: 'q1', ttft_ms: 20, duration_ms: 60, tool_ms: 0, interrupted: false, chunks: 3, outcome: 'completed' };
    const second = { ...first, request_id: 'q2' };
    // request at 1 (and 101), first word 20 ms later, the third and the end 60 ms later
    expect(figuresOf(frames)).toEqual([
      { at: 61, payload: first },
      { at: 161, payload: second },
    ]);
    const types = frames.map((f) => ('event' in f ? f.event.type : 'closed'));
    expect(types.slice(types.indexOf('agent.llm.response.end'), types.indexOf('agent.llm.response.end') + 2)).toEqual(['agent.llm.response.end', 'agent.log']);
    expect(turns).toEqual([
      { at: 61, metrics: first },
      { at: 161, metrics: second },
    ]);
  });

  it('times a queued request from when its turn starts, not from when it arrived', async () => {
    const { frames } = await testSession((session) => void session.addNode(new Scripted('a b', 10)), {
      client: '-(qQ)',
      values: { q: request('q1'), Q: request('q2') },
    });
    // q2 waited 20 ms behind q1: its own turn still takes 10 ms to the first word and 20 to the end
    expect(figuresOf(frames)).toEqual([
      { at: 21, payload: expect.objectContaining({ request_id: 'q1', ttft_ms: 10, duration_ms: 20 }) },
      { at: 41, payload: expect.objectContaining({ request_id: 'q2', ttft_ms: 10, duration_ms: 20 }) },
    ]);
  });

  it('counts the time in tools (parallel calls once) in tool_ms', async () => {
    const slow = (name: string, ms: number) =>
      tool({
        name,
        description: name,
        parameters: z.object({}),
        execute: async () => {
          await sleep(ms);
          return 'ok';
        },
      });
    class WithTools extends OutputCrewNode {
      async *generateResponse(turn: Turn): AsyncGenerator<TurnOutput> {
        await sleep(10);
        if (turn.messages.at(-1)?.role !== 'tool') {
          yield {
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'a', arguments: '{}' } },
              { id: 'c2', type: 'function', function: { name: 'b', arguments: '{}' } },
            ],
          };
          return;
        }
        yield 'done';
      }
    }
    const { frames } = await testSession((session) => void session.addNode(new WithTools({ tools: [slow('a', 25), slow('b', 40)] })), {
      client: '-q',
      values: { q: request('q1') },
    });
    // 10 ms of model, 40 ms of tools (25 and 40 in parallel), 10 ms of model: the text at 60
    expect(figuresOf(frames)).toEqual([
      { at: 61, payload: { request_id: 'q1', ttft_ms: 60, duration_ms: 60, tool_ms: 40, interrupted: false, chunks: 1, outcome: 'completed' } },
    ]);
  });

  it('reports an interrupted turn as interrupted, timed to the interrupt', async () => {
    const { turns, observer } = recorder();
    const { frames } = await testSession(
      (session) => {
        observeSession(session, observer);
        session.addNode(new Scripted('one two three four', 10));
      },
      { client: '-q', interrupt: '- 24ms i', values: { q: request('q1') } },
    );
    const payload = { request_id: 'q1', ttft_ms: 10, duration_ms: 24, tool_ms: 0, interrupted: true, chunks: 2, outcome: 'interrupted' };
    expect(figuresOf(frames)).toEqual([{ at: 25, payload }]);
    expect(turns).toEqual([{ at: 25, metrics: payload }]);
  });

  it('reports a failing model as failed, after its agent.error and end; no text: ttft_ms null', async () => {
    class Failing extends OutputCrewNode {
      async *generateResponse(): AsyncGenerator<TurnOutput> {
        await sleep(15);
        throw new Error('model down');
      }
    }
    const { frames } = await testSession((session) => void session.addNode(new Failing()), { client: '-q', values: { q: request('q1') } });
    const at15 = frames.filter((f) => f.frame === 16 && 'event' in f).map((f) => ('event' in f ? f.event.type : ''));
    expect(at15).toEqual(['agent.error', 'agent.llm.response.end', 'agent.log']);
    expect(figuresOf(frames)).toEqual([
      { at: 16, payload: { request_id: 'q1', ttft_ms: null, duration_ms: 15, tool_ms: 0, interrupted: false, chunks: 0, outcome: 'failed' } },
    ]);
  });

  it('sends nothing with turnMetrics: false (the observer gets nothing either)', async () => {
    const { turns, observer } = recorder();
    const { frames } = await testSession(
      (session) => {
        observeSession(session, observer);
        session.addNode(new Scripted('one two', 10, { turnMetrics: false }));
      },
      { client: '-q', values: { q: request('q1') } },
    );
    expect(frames.some((f) => 'event' in f && f.event.type === 'agent.llm.response.end')).toBe(true);
    expect(figuresOf(frames)).toEqual([]);
    expect(turns).toEqual([]);
  });

  it('reads the clock of its scheduler option', async () => {
    let now = 1000;
    const scheduler = { now: () => now, schedule: () => ({ unsubscribe() {} }) } as never;
    const pieces: Array<(value: TurnOutput | null) => void> = [];
    class Driven extends OutputCrewNode {
      generateResponse(): Observable<TurnOutput> {
        return new Observable<TurnOutput>((s) => {
          pieces.push((v) => (v === null ? s.complete() : s.next(v)));
        });
      }
    }
    const session = new CrewSession({ logger: { error() {}, warn() {}, info() {} } });
    session.addNode(new Driven({ scheduler }));
    const client = new TestClient(session);
    await session.start();
    client.send(request('q1'));
    await client.next('agent.llm.response.start');
    now = 1250;
    pieces[0]('hello');
    now = 1400;
    pieces[0](null);
    const log = await client.next((e) => e.type === 'agent.log');
    expect(log.payload).toEqual({ request_id: 'q1', ttft_ms: 250, duration_ms: 400, tool_ms: 0, interrupted: false, chunks: 1, outcome: 'completed' });
    await session.stop();
  });
});
