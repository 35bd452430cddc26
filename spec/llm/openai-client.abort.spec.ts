import { isAbortError, LlmError, LlmErrorCodes, OpenAIChatClient } from '../../lib/llm';
import { ChatServer, chunk, collect, deferred, rejectionOf, sse, startStream, within } from './support/chat-server';

/*
 * Closing the HTTP stream: an abort, an early `return()` and a stalled stream
 * must each close the request's connection, which the server observes. The
 * assertions wait for that close (with a failure guard), not for a clock.
 */
describe('OpenAIChatClient closing the stream', () => {
  let server: ChatServer;
  let client: OpenAIChatClient;

  /** Streams one delta, then holds the connection open forever. */
  const streamThenStall = (): void => {
    server.handle = (_req, res) => {
      startStream(res);
      res.write(sse(chunk({ content: 'Hello' })));
    };
  };

  beforeEach(async () => {
    server = await ChatServer.start();
    client = new OpenAIChatClient({ baseURL: server.baseURL, model: 'm', maxRetries: 0 });
  });
  afterEach(() => server.close());

  it('aborting mid-stream rejects with an AbortError and closes the connection', async () => {
    streamThenStall();
    const controller = new AbortController();
    const iterator = client.stream({ messages: [], signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toEqual({ type: 'text', text: 'Hello' });

    const pending = iterator.next();
    controller.abort();
    const err = await within(rejectionOf(pending), 'the iterator to reject');

    expect(err).toBeInstanceOf(LlmError);
    expect(err).toMatchObject({ name: 'AbortError', code: LlmErrorCodes.ABORTED });
    expect(isAbortError(err)).toBe(true);
    await within(server.requests[0].closed, 'the server to see the connection close');
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
  });

  it('aborting while waiting for the response closes the request', async () => {
    const arrived = deferred();
    server.handle = () => arrived.resolve(); // never answers
    const controller = new AbortController();
    const done = rejectionOf(collect(client.stream({ messages: [], signal: controller.signal })));

    await within(arrived.promise, 'the request to arrive');
    controller.abort();

    expect(await within(done, 'the abort')).toMatchObject({ name: 'AbortError', code: LlmErrorCodes.ABORTED });
    await within(server.requests[0].closed, 'the server to see the connection close');
  });

  it('sends nothing when the signal has already fired', async () => {
    const err = await rejectionOf(collect(client.stream({ messages: [], signal: AbortSignal.abort() })));

    expect(err).toMatchObject({ name: 'AbortError', code: LlmErrorCodes.ABORTED });
    expect(server.requests).toHaveLength(0);
  });

  it('stopping the iteration early (break / return()) closes the connection', async () => {
    streamThenStall();
    const seen: string[] = [];

    for await (const piece of client.stream({ messages: [] })) {
      if (piece.type === 'text') seen.push(piece.text);
      break;
    }

    expect(seen).toEqual(['Hello']);
    await within(server.requests[0].closed, 'the server to see the connection close');
  });

  it('fails a stalled stream after idleTimeoutMs without retrying, and closes it', async () => {
    streamThenStall();
    const impatient = new OpenAIChatClient({ baseURL: server.baseURL, model: 'm', idleTimeoutMs: 25, maxRetries: 3 });
    const seen: unknown[] = [];

    const err = await rejectionOf(
      (async () => {
        for await (const piece of impatient.stream({ messages: [] })) seen.push(piece);
      })(),
    );

    expect(seen).toEqual([{ type: 'text', text: 'Hello' }]);
    expect(err).toMatchObject({ code: LlmErrorCodes.TIMEOUT, retryable: false, attempts: 1 });
    expect(err.message).toContain('no data for 25 ms (idleTimeoutMs)');
    expect(server.requests).toHaveLength(1); // part of the reply was out: a retry would repeat it
    await within(server.requests[0].closed, 'the server to see the connection close');
  });

  it('a connection reset mid-stream is a network error, not retried', async () => {
    server.handle = (_req, res) => {
      startStream(res);
      res.write(sse(chunk({ content: 'Hel' })), () => setTimeout(() => res.socket?.destroy(), 5));
    };
    const retrying = new OpenAIChatClient({ baseURL: server.baseURL, model: 'm', maxRetries: 2 });

    const err = await rejectionOf(collect(retrying.stream({ messages: [] })));

    expect(err).toMatchObject({ code: LlmErrorCodes.NETWORK, retryable: false });
    expect(server.requests).toHaveLength(1);
  });

  it('an injected fetch that ignores the signal still ends promptly on abort', async () => {
    const cancelled = deferred();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(sse(chunk({ content: 'x' }))));
      },
      cancel: () => cancelled.resolve(),
    });
    const fetch = jest.fn(async () => new Response(body, { status: 200 }));
    const deaf = new OpenAIChatClient({ model: 'm', fetch: fetch as unknown as typeof globalThis.fetch });
    const controller = new AbortController();
    const iterator = deaf.stream({ messages: [], signal: controller.signal })[Symbol.asyncIterator]();
    await iterator.next();

    const pending = iterator.next();
    controller.abort();

    expect(await within(rejectionOf(pending), 'the abort')).toMatchObject({ name: 'AbortError' });
    await within(cancelled.promise, 'the body to be cancelled');
  });
});
