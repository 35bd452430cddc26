import { z } from 'zod';
import { CrewSession, ErrorCodes, OutputCrewNode, tool, Turn, TurnOutput } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';

const call = (id: string, name: string, args: string) => ({ id, type: 'function' as const, function: { name, arguments: args } });

describe('tool', () => {
  it('turns the zod schema into the OpenAI tool JSON schema', () => {
    const weather = tool({
      name: 'get_weather',
      description: 'Current weather for a city',
      parameters: z.object({ city: z.string().describe('City name'), unit: z.enum(['c', 'f']).optional() }),
      execute: () => null,
    });
    expect(weather.spec).toEqual({
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather for a city',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string', description: 'City name' }, unit: { type: 'string', enum: ['c', 'f'] } },
          required: ['city'],
        },
      },
    });
  });

  it('refuses bad definitions with CREW_ERR_INVALID_ARGUMENT', () => {
    const ok = { name: 'ok', description: 'd', parameters: z.object({}), execute: () => 1 };
    expect(() => tool({ ...ok, name: 'has space' })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => tool({ ...ok, parameters: {} as never })).toThrow(/zod schema/);
    expect(() => tool({ ...ok, execute: undefined as never })).toThrow(/execute/);
  });
});

describe('OutputCrewNode with tools', () => {
  const started: string[] = [];
  let releaseSlow!: () => void;
  const tools = [
    tool({
      name: 'slow_add',
      description: 'adds slowly',
      parameters: z.object({ a: z.number(), b: z.number() }),
      execute: async ({ a, b }) => {
        started.push('slow_add');
        await new Promise<void>((r) => (releaseSlow = r));
        return { sum: a + b };
      },
    }),
    tool({
      name: 'echo',
      description: 'echoes',
      parameters: z.object({ text: z.string() }),
      execute: ({ text }) => {
        started.push('echo');
        return text;
      },
    }),
    tool({
      name: 'explode',
      description: 'throws',
      parameters: z.object({}),
      execute: () => {
        throw new RangeError('tool blew up');
      },
    }),
  ];

  class ToolUser extends OutputCrewNode {
    turns: Turn[] = [];
    async *generateResponse(turn: Turn): AsyncGenerator<TurnOutput> {
      this.turns.push(turn);
      if (this.turns.length === 1) {
        yield 'Let me check. ';
        yield {
          tool_calls: [
            call('c1', 'slow_add', '{"a":2,"b":3}'),
            call('c2', 'echo', '{"text":"hi"}'),
            call('c3', 'echo', '{"text":5}'),
            call('c4', 'echo', '{not json'),
            call('c5', 'explode', '{}'),
            call('c6', 'nope', '{}'),
          ],
        };
        return;
      }
      yield 'Done.';
    }
  }

  it('runs the calls in parallel, turns every failure into a result, feeds results back and finishes the turn', async () => {
    started.length = 0;
    const agent = new ToolUser({ tools });
    const session = new CrewSession();
    session.addNode(agent);
    const client = new TestClient(session);
    await session.start();
    client.send({ type: 'system.llm.request' });
    await client.next((e) => e.type === 'agent.log' && e.name === 'tool_call_end' && (e.payload as { call_id: string }).call_id === 'c2');
    // echo finished while slow_add is still running: they run in parallel
    expect(started).toEqual(['slow_add', 'echo']);
    releaseSlow();
    await client.next('agent.llm.response.end');

    expect(agent.turns[0].tools.map((t) => t.function.name)).toEqual(['slow_add', 'echo', 'explode']);
    const second = agent.turns[1].messages;
    expect(second[0]).toEqual({ role: 'assistant', content: 'Let me check. ', tool_calls: expect.any(Array) });
    const results = Object.fromEntries(second.slice(1).map((m) => [m.tool_call_id, m.content]));
    expect(results.c1).toBe('{"sum":5}');
    expect(results.c2).toBe('hi');
    expect(JSON.parse(results.c3).error).toMatch(/^invalid arguments: text: /);
    expect(JSON.parse(results.c4).error).toMatch(/^arguments are not valid JSON/);
    expect(JSON.parse(results.c5).error).toBe('tool blew up');
    expect(JSON.parse(results.c6).error).toBe('unknown tool "nope"');

    const logs = client.all('agent.log').map((e) => `${e.name}:${(e.payload as { call_id: string }).call_id}`);
    expect(logs.filter((l) => l.startsWith('tool_call_start'))).toHaveLength(6);
    expect(logs.filter((l) => l.startsWith('tool_call_end')).sort()).toEqual(['tool_call_end:c1', 'tool_call_end:c2']);
    expect(logs.filter((l) => l.startsWith('tool_call_error')).sort()).toEqual(
      ['c3', 'c4', 'c5', 'c6'].map((id) => `tool_call_error:${id}`),
    );
    const explode = client.all('agent.log').find((e) => (e.payload as { call_id: string }).call_id === 'c5' && e.name === 'tool_call_error');
    expect(explode?.payload).toMatchObject({ tool: 'explode', error: 'tool blew up', error_class: 'RangeError' });

    expect(client.all('agent.llm.response.chunk').map((e) => e.text)).toEqual(['Let me check. ', 'Done.']);
    expect(client.all('agent.llm.response.end')).toHaveLength(1);
    // the exchange stays in the conversation, followed by the final reply
    expect(agent.messages.at(-1)).toEqual({ role: 'assistant', content: 'Done.' });
    expect(agent.messages.filter((m) => m.role === 'tool')).toHaveLength(6);
  });

  it('stops a turn whose model keeps asking for tools', async () => {
    class Looper extends OutputCrewNode {
      async *generateResponse(): AsyncGenerator<TurnOutput> {
        yield { tool_calls: [call('x', 'echo', '{"text":"again"}')] };
      }
    }
    const session = new CrewSession();
    session.addNode(new Looper({ tools, maxToolRounds: 2 }));
    const client = new TestClient(session);
    await session.start();
    client.send({ type: 'system.llm.request' });
    const error = await client.next('agent.error');
    expect(error.message).toMatch(/asked for tools more than 2 times/);
    await client.next('agent.llm.response.end');
  });

  it('lets a tool end the call: agent.end_call follows the turn\'s end', async () => {
    const hangUp = tool({
      name: 'hang_up',
      description: 'ends the call',
      parameters: z.object({}),
      execute: (_args, { node }) => {
        node.endCall();
        return 'ok';
      },
    });
    class Closer extends OutputCrewNode {
      async *generateResponse(turn: Turn): AsyncGenerator<TurnOutput> {
        if (turn.messages.at(-1)?.role !== 'tool') yield { tool_calls: [call('h', 'hang_up', '{}')] };
        else yield 'Goodbye!';
      }
    }
    const session = new CrewSession();
    session.addNode(new Closer({ tools: [hangUp] }));
    const client = new TestClient(session);
    await session.start();
    client.send({ type: 'system.llm.request' });
    await client.next('agent.end_call');
    const order = client.received.map((e) => e.type).filter((t) => t.startsWith('agent.llm') || t === 'agent.end_call');
    expect(order).toEqual(['agent.llm.response.start', 'agent.llm.response.chunk', 'agent.llm.response.end', 'agent.end_call']);
  });

  it('refuses two tools with one name', () => {
    class Two extends OutputCrewNode {
      async *generateResponse(): AsyncGenerator<string> {}
    }
    expect(() => new Two({ tools: [tools[1], tools[1]] })).toThrow(/two tools are named "echo"/);
  });
});
