import { LlmChunk, LlmError, LlmErrorCodes, OpenAIChatClient } from '../../lib/llm';
import type { ToolSpec } from '../../lib/agent/types';
import {
  ChatServer,
  chunk,
  collect,
  deferred,
  DONE,
  rejectionOf,
  sse,
  startStream,
  usageChunk,
  within,
  writePieces,
} from './support/chat-server';

const weatherTool: ToolSpec = {
  type: 'function',
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: {} } },
};

/** Cuts `text` into pieces at the given offsets: odd places, mid-line and mid-JSON. */
function cutAt(text: string, offsets: number[]): string[] {
  const points = [0, ...offsets.filter((o) => o > 0 && o < text.length), text.length];
  return points.slice(1).map((end, i) => text.slice(points[i], end));
}

describe('OpenAIChatClient.stream (against a local chat-completions server)', () => {
  let server: ChatServer;
  let client: OpenAIChatClient;

  beforeEach(async () => {
    server = await ChatServer.start();
    client = new OpenAIChatClient({ baseURL: server.baseURL, apiKey: 'sk-test', model: 'test-model', maxRetries: 0 });
  });
  afterEach(() => server.close());

  it('yields text deltas split at odd places, then finish and usage; comments and CRLF are ignored', async () => {
    const stream =
      ': keep-alive\n\n' +
      sse(chunk({ role: 'assistant', content: '' })) +
      sse(chunk({ content: 'Hel' })) +
      `data: ${JSON.stringify(chunk({ content: 'lo, ' }))}\r\n\r\n` +
      // one payload over two `data:` lines: joined with a newline, still valid JSON
      `data: {"choices":[{"index":0,"delta":\ndata: {"content":"wor"},"finish_reason":null}]}\n\n` +
      sse(chunk({ content: 'ld!' })) +
      sse(chunk({}, 'stop')) +
      sse(usageChunk(12, 4)) +
      DONE;
    server.handle = async (_req, res) => {
      startStream(res);
      await writePieces(res, cutAt(stream, [3, 17, 40, 41, 95, 96, 150, 230, 231, 300, stream.length - 5]));
      res.end();
    };

    const chunks = await collect(client.stream({ messages: [{ role: 'user', content: 'hi' }] }));

    expect(chunks).toEqual<LlmChunk[]>([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo, ' },
      { type: 'text', text: 'wor' },
      { type: 'text', text: 'ld!' },
      { type: 'finish', reason: 'stop' },
      { type: 'usage', usage: { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 } },
    ]);
  });

  it('yields each text delta as it arrives, before the stream has ended', async () => {
    const goOn = deferred();
    server.handle = async (_req, res) => {
      startStream(res);
      res.write(sse(chunk({ content: 'first' })));
      await goOn.promise;
      res.end(sse(chunk({ content: ' second' }, 'stop')) + DONE);
    };

    const iterator = client.stream({ messages: [{ role: 'user', content: 'hi' }] })[Symbol.asyncIterator]();
    expect(await within(iterator.next(), 'the first delta')).toEqual({ done: false, value: { type: 'text', text: 'first' } });
    goOn.resolve();
    expect((await iterator.next()).value).toEqual({ type: 'text', text: ' second' });
    expect((await iterator.next()).value).toEqual({ type: 'finish', reason: 'stop' });
    expect((await iterator.next()).done).toBe(true);
  });

  it('posts model, messages, tools, stream and stream_options, extra params and the key', async () => {
    server.handle = (_req, res) => {
      startStream(res);
      res.end(sse(chunk({ content: 'ok' }, 'stop')) + DONE);
    };
    const call = { id: 'call_1', type: 'function' as const, function: { name: 'get_weather', arguments: '{}' } };
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Weather?' },
      { role: 'assistant' as const, content: '', tool_calls: [call] },
      { role: 'tool' as const, content: '"sunny"', tool_call_id: 'call_1' },
    ];

    await collect(client.stream({ messages, tools: [weatherTool], extra: { temperature: 0.2, stream: false } }));

    const [request] = server.requests;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe('Bearer sk-test');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual({
      model: 'test-model',
      messages: [messages[0], messages[1], { ...messages[2], content: null }, messages[3]],
      tools: [weatherTool],
      stream: true, // `extra` cannot turn streaming off
      stream_options: { include_usage: true },
      temperature: 0.2,
    });
  });

  it('leaves out tools when there are none, and the key when there is none', async () => {
    server.handle = (_req, res) => {
      startStream(res);
      res.end(sse(chunk({}, 'stop')) + DONE);
    };
    const keyless = new OpenAIChatClient({ baseURL: `${server.baseURL}/`, model: 'local' });

    await collect(keyless.stream({ messages: [{ role: 'user', content: 'hi' }], tools: [] }));

    expect(server.requests[0].url).toBe('/v1/chat/completions');
    expect(server.requests[0].headers.authorization).toBeUndefined();
    expect(server.requests[0].body).not.toHaveProperty('tools');
  });

  it('ends at [DONE] even when the server keeps the stream open', async () => {
    server.handle = (_req, res) => {
      startStream(res);
      res.write(sse(chunk({ content: 'done' }, 'stop')) + DONE); // and never ends the response
    };

    const chunks = await within(collect(client.stream({ messages: [] })), 'the iteration to end');

    expect(chunks.map((c) => c.type)).toEqual(['text', 'finish']);
  });

  it('keeps the connection alive after [DONE], for the next turn', async () => {
    const ports: Array<number | undefined> = [];
    server.handle = async (req, res) => {
      ports.push(req.socket.remotePort);
      startStream(res);
      await writePieces(res, [sse(chunk({ content: 'a' }, 'stop')) + DONE]);
      res.end();
    };
    // Tells the test when the client has read the body to its end (after [DONE], in the background).
    const bodyRead = deferred();
    const watchingFetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
      const response = await fetch(url, init);
      const watch = new TransformStream<Uint8Array, Uint8Array>({ flush: () => bodyRead.resolve() });
      return new Response(response.body?.pipeThrough(watch), response);
    };
    const watched = new OpenAIChatClient({ baseURL: server.baseURL, model: 'm', fetch: watchingFetch });

    await collect(watched.stream({ messages: [] }));
    await within(bodyRead.promise, 'the rest of the body to be read');
    await new Promise((resolve) => setImmediate(resolve)); // undici pools the socket one I/O turn later
    await collect(watched.stream({ messages: [] }));

    expect(ports[1]).toBe(ports[0]);
  });

  it('joins two parallel tool calls from deltas split across chunks into one tool_calls chunk', async () => {
    const deltas = [
      chunk({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty": "Pa' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '{"zone":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'ris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, function: { arguments: '"UTC"}' } }] }),
      chunk({}, 'tool_calls'),
      usageChunk(30, 20),
    ];
    const stream = deltas.map(sse).join('') + DONE;
    server.handle = async (_req, res) => {
      startStream(res);
      await writePieces(res, cutAt(stream, [50, 200, 201, 420, 640, 900, 1100]));
      res.end();
    };

    const chunks = await collect(client.stream({ messages: [{ role: 'user', content: 'Weather and time?' }], tools: [weatherTool] }));

    expect(chunks).toEqual<LlmChunk[]>([
      {
        type: 'tool_calls',
        calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"zone":"UTC"}' } },
        ],
      },
      { type: 'finish', reason: 'tool_calls' },
      { type: 'usage', usage: { prompt_tokens: 30, completion_tokens: 20, total_tokens: 50 } },
    ]);
  });

  it('yields tool calls at [DONE] when the server never sent a finish_reason', async () => {
    server.handle = (_req, res) => {
      startStream(res);
      const call = { index: 0, id: 'call_x', function: { name: 'ping', arguments: '{}' } };
      res.end(sse(chunk({ tool_calls: [call] })) + DONE);
    };

    expect(await collect(client.stream({ messages: [] }))).toEqual([
      { type: 'tool_calls', calls: [{ id: 'call_x', type: 'function', function: { name: 'ping', arguments: '{}' } }] },
    ]);
  });

  it('decodes UTF-8 characters split across network reads', async () => {
    const bytes = new TextEncoder().encode(sse(chunk({ content: 'héllo 👋' }, 'stop')) + DONE);
    const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of "é"
    const fetch = async (): Promise<Response> =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(bytes.slice(0, cut));
            controller.enqueue(bytes.slice(cut, cut + 14)); // also splits the emoji's four bytes
            controller.enqueue(bytes.slice(cut + 14));
            controller.close();
          },
        }),
        { status: 200, headers: { 'content-type': 'text/event-stream' } },
      );
    const local = new OpenAIChatClient({ model: 'm', fetch: fetch as typeof globalThis.fetch });

    expect((await collect(local.stream({ messages: [] })))[0]).toEqual({ type: 'text', text: 'héllo 👋' });
  });

  it.each([
    ['a stream that ends without [DONE] or finish_reason', sse(chunk({ content: 'cut off' })), LlmErrorCodes.BAD_RESPONSE],
    ['data that is not JSON', 'data: {oops\n\n', LlmErrorCodes.BAD_RESPONSE],
    ['an error streamed by the server', sse({ error: { message: 'context too long' } }), LlmErrorCodes.STREAM],
  ])('fails with an LlmError on %s', async (_name, body, code) => {
    server.handle = (_req, res) => {
      startStream(res);
      res.end(body);
    };

    const err = await rejectionOf(collect(client.stream({ messages: [] })));

    expect(err).toBeInstanceOf(LlmError);
    expect(err.code).toBe(code);
    expect(err.retryable).toBe(false);
    if (code === LlmErrorCodes.STREAM) expect(err.message).toContain('context too long');
  });
});
