import type { TurnOutput } from '../../lib/agent/types';
import { ChatStreamRequest, LlmChunk, LlmError, LlmErrorCodes, OpenAIChatClient, openAIResponder } from '../../lib/llm';
import { ChatServer, chunk, collect, DONE, rejectionOf, sse, startStream, usageChunk, within } from './support/chat-server';
import { makeTurn, toolSpec, user } from './support/turns';

/** A client that records its requests and plays back `chunks` (or throws `error` after them). */
function fakeClient(chunks: LlmChunk[], error?: unknown) {
  const requests: ChatStreamRequest[] = [];
  return {
    requests,
    async *stream(request: ChatStreamRequest): AsyncGenerator<LlmChunk> {
      requests.push(request);
      for (const c of chunks) yield c;
      if (error) throw error;
    },
  };
}

const call = { id: 'call_1', type: 'function' as const, function: { name: 'get_time', arguments: '{}' } };

describe('openAIResponder', () => {
  it('yields text as strings and tool calls as one { tool_calls } output', async () => {
    const client = fakeClient([
      { type: 'text', text: 'Let me check. ' },
      { type: 'tool_calls', calls: [call] },
      { type: 'finish', reason: 'tool_calls' },
    ]);

    const out = await collect(openAIResponder(client)(makeTurn([user('time?')])) as AsyncIterable<TurnOutput>);

    expect(out).toEqual(['Let me check. ', { tool_calls: [call] }]);
  });

  it('passes messages, tools, signal and extra params; no tools when the node has none', async () => {
    const client = fakeClient([]);
    const respond = openAIResponder(client);
    const controller = new AbortController();
    const messages = [user('hi')];

    await collect(respond(makeTurn(messages, { signal: controller.signal, extraParams: { temperature: 0 } })) as AsyncIterable<TurnOutput>);
    await collect(respond(makeTurn(messages, { tools: [toolSpec('get_time')] })) as AsyncIterable<TurnOutput>);

    expect(client.requests[0]).toEqual({ messages, tools: undefined, signal: controller.signal, extra: { temperature: 0 } });
    expect(client.requests[1].tools).toEqual([toolSpec('get_time')]);
  });

  it('reports usage and finish reasons through the callbacks', async () => {
    const usage = { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 };
    const onUsage = jest.fn();
    const onFinish = jest.fn();
    const turn = makeTurn([user('hi')]);

    const out = await collect(
      openAIResponder(fakeClient([{ type: 'finish', reason: 'stop' }, { type: 'usage', usage }]), { onUsage, onFinish })(turn) as AsyncIterable<TurnOutput>,
    );

    expect(out).toEqual([]);
    expect(onUsage).toHaveBeenCalledWith(usage, turn);
    expect(onFinish).toHaveBeenCalledWith('stop', turn);
  });

  it('fails the turn when a callback throws', async () => {
    const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
    const onUsage = () => {
      throw new Error('logger down');
    };
    const respond = openAIResponder(fakeClient([{ type: 'text', text: 'a' }, { type: 'usage', usage }]), { onUsage });

    expect(await rejectionOf(collect(respond(makeTurn([])) as AsyncIterable<TurnOutput>))).toEqual(new Error('logger down'));
  });

  it('ends quietly when the turn was aborted, and throws other failures', async () => {
    const controller = new AbortController();
    controller.abort();
    const aborted = new LlmError(LlmErrorCodes.ABORTED, 'aborted');
    const broken = new LlmError(LlmErrorCodes.HTTP, 'HTTP 500', { status: 500 });

    const quiet = openAIResponder(fakeClient([{ type: 'text', text: 'a' }], aborted))(makeTurn([], { signal: controller.signal }));
    const loud = openAIResponder(fakeClient([{ type: 'text', text: 'a' }], broken))(makeTurn([]));

    expect(await collect(quiet as AsyncIterable<TurnOutput>)).toEqual([]);
    expect(await rejectionOf(collect(loud as AsyncIterable<TurnOutput>))).toBe(broken);
  });

  it('streams a real turn from a local server, usage included', async () => {
    const server = await ChatServer.start();
    try {
      server.handle = (_req, res) => {
        startStream(res);
        res.end(sse(chunk({ content: 'Hi ' })) + sse(chunk({ content: 'there' }, 'stop')) + sse(usageChunk(5, 2)) + DONE);
      };
      const onUsage = jest.fn();
      const respond = openAIResponder(new OpenAIChatClient({ baseURL: server.baseURL, model: 'm' }), { onUsage });

      const out = await collect(respond(makeTurn([user('hello')])) as AsyncIterable<TurnOutput>);

      expect(out).toEqual(['Hi ', 'there']);
      expect(onUsage).toHaveBeenCalledWith({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 }, expect.anything());
      expect(server.requests[0].body.messages).toEqual([user('hello')]);
    } finally {
      await server.close();
    }
  });
});

describe('openAIResponder interrupted mid-stream', () => {
  let server: ChatServer;
  beforeEach(async () => {
    server = await ChatServer.start();
    server.handle = (_req, res) => {
      startStream(res);
      res.write(sse(chunk({ content: 'Hello' }))); // then stalls, like a slow model
    };
  });
  afterEach(() => server.close());

  const respondWith = () => openAIResponder(new OpenAIChatClient({ baseURL: server.baseURL, model: 'm' }));

  it('ends quietly when turn.signal fires and the server sees the connection close', async () => {
    const controller = new AbortController();
    const iterator = (respondWith()(makeTurn([user('hi')], { signal: controller.signal })) as AsyncIterable<TurnOutput>)[
      Symbol.asyncIterator
    ]();
    expect((await iterator.next()).value).toBe('Hello');

    const pending = iterator.next();
    controller.abort();

    expect(await within(pending, 'the responder to end')).toEqual({ done: true, value: undefined });
    await within(server.requests[0].closed, 'the server to see the connection close');
  });

  it('closes the HTTP stream when the node returns the iterator', async () => {
    const iterator = (respondWith()(makeTurn([user('hi')])) as AsyncIterable<TurnOutput>)[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toBe('Hello');

    await iterator.return?.();

    await within(server.requests[0].closed, 'the server to see the connection close');
  });
});
