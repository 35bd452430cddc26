import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCodes } from '../../lib/errors';
import { LlmError, LlmErrorCodes, OpenAIChatClient, OpenAIChatClientOptions } from '../../lib/llm';
import { ChatServer, chunk, collect, DONE, rejectionOf, sendError, sse, startStream } from './support/chat-server';

describe('OpenAIChatClient retries and HTTP errors', () => {
  let server: ChatServer;
  let sleep: jest.Mock<Promise<void>, [number, AbortSignal?]>;

  const makeClient = (options: Partial<OpenAIChatClientOptions> = {}): OpenAIChatClient =>
    new OpenAIChatClient({ baseURL: server.baseURL, model: 'm', sleep, backoff: (n) => n * 100, ...options });

  const answerOk = (res: Parameters<ChatServer['handle']>[1]): void => {
    startStream(res);
    res.end(sse(chunk({ content: 'ok' }, 'stop')) + DONE);
  };

  beforeEach(async () => {
    server = await ChatServer.start();
    sleep = jest.fn(async (_ms: number, _signal?: AbortSignal) => undefined);
  });
  afterEach(() => server.close());

  it('retries a 429 after the Retry-After the server asked for, then streams', async () => {
    server.handle = (_req, res) =>
      server.requests.length === 1 ? sendError(res, 429, 'Rate limit reached', { 'retry-after': '2' }) : answerOk(res);

    const chunks = await collect(makeClient().stream({ messages: [] }));

    expect(chunks[0]).toEqual({ type: 'text', text: 'ok' });
    expect(server.requests).toHaveLength(2);
    expect(sleep).toHaveBeenCalledTimes(1);
    expect(sleep.mock.calls[0][0]).toBe(2000);
  });

  it('prefers retry-after-ms, and uses the backoff when the server gives no delay', async () => {
    server.handle = (_req, res) => {
      const n = server.requests.length;
      if (n === 1) sendError(res, 503, 'overloaded', { 'retry-after-ms': '250', 'retry-after': '9' });
      else if (n === 2) sendError(res, 502, 'bad gateway');
      else answerOk(res);
    };

    await collect(makeClient().stream({ messages: [] }));

    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([250, 200]);
  });

  it('gives up after maxRetries on 500 with an LlmError carrying the status and server message', async () => {
    server.handle = (_req, res) => sendError(res, 500, 'The server had an error while processing your request');

    const err = await rejectionOf(collect(makeClient({ maxRetries: 2 }).stream({ messages: [] })));

    expect(err).toBeInstanceOf(LlmError);
    expect(err).toMatchObject({ code: LlmErrorCodes.HTTP, status: 500, retryable: true, attempts: 3, name: 'LlmError' });
    expect(err.message).toContain('HTTP 500');
    expect(err.message).toContain('The server had an error while processing your request');
    expect(server.requests).toHaveLength(3);
    expect(sleep.mock.calls.map(([ms]) => ms)).toEqual([100, 200]);
  });

  it('does not retry a 400, and reports its message', async () => {
    server.handle = (_req, res) => sendError(res, 400, "Invalid value for 'model'");

    const err = await rejectionOf(collect(makeClient().stream({ messages: [] })));

    expect(err).toMatchObject({ code: LlmErrorCodes.HTTP, status: 400, retryable: false, attempts: 1 });
    expect(err.message).toMatch(/HTTP 400 Bad Request: Invalid value for 'model'/);
    expect(server.requests).toHaveLength(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  it('reports a non-JSON error body as text', async () => {
    server.handle = (_req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('no key, no entry');
    };

    const err = await rejectionOf(collect(makeClient().stream({ messages: [] })));

    expect(err.message).toContain('HTTP 401 Unauthorized: no key, no entry');
  });

  it('retries network errors and then reports the cause', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = makeClient({ baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 1 });

    const err = await rejectionOf(collect(client.stream({ messages: [] })));

    expect(err).toMatchObject({ code: LlmErrorCodes.NETWORK, retryable: true, attempts: 2 });
    expect(err.message).toContain('ECONNREFUSED');
    expect(sleep).toHaveBeenCalledTimes(1);
  });

  it('retries when no first byte arrives within timeoutMs', async () => {
    server.handle = () => undefined; // never answers

    const err = await rejectionOf(collect(makeClient({ timeoutMs: 20, maxRetries: 1 }).stream({ messages: [] })));

    expect(err).toMatchObject({ code: LlmErrorCodes.TIMEOUT, retryable: true, attempts: 2 });
    expect(err.message).toContain('20 ms (timeoutMs)');
    expect(server.requests).toHaveLength(2);
    await Promise.all(server.requests.map((r) => r.closed));
  });

  it('counts the first byte of the body in timeoutMs: headers alone do not do', async () => {
    server.handle = (_req, res) => (server.requests.length === 1 ? startStream(res) : answerOk(res));

    const chunks = await collect(makeClient({ timeoutMs: 30, maxRetries: 1 }).stream({ messages: [] }));

    expect(chunks[0]).toEqual({ type: 'text', text: 'ok' });
    expect(server.requests).toHaveLength(2);
    await server.requests[0].closed;
  });

  it('retries a connection dropped after the headers, before any body', async () => {
    server.handle = (_req, res) => {
      if (server.requests.length > 1) return answerOk(res);
      startStream(res);
      setImmediate(() => res.socket?.destroy());
    };

    const chunks = await collect(makeClient({ maxRetries: 1 }).stream({ messages: [] }));

    expect(chunks[0]).toEqual({ type: 'text', text: 'ok' });
    expect(server.requests).toHaveLength(2);
  });

  it('stops retrying when the signal fires during the backoff', async () => {
    const controller = new AbortController();
    sleep.mockImplementation(async () => controller.abort());
    server.handle = (_req, res) => sendError(res, 503, 'busy');

    const err = await rejectionOf(collect(makeClient().stream({ messages: [], signal: controller.signal })));

    expect(err).toMatchObject({ code: LlmErrorCodes.ABORTED, name: 'AbortError' });
    expect(server.requests).toHaveLength(1);
  });

  it('sleeps for real with the default sleep (abortable)', async () => {
    server.handle = (_req, res) => (server.requests.length === 1 ? sendError(res, 429, 'slow down') : answerOk(res));
    const client = new OpenAIChatClient({ baseURL: server.baseURL, model: 'm', backoff: () => 1 });

    expect(await collect(client.stream({ messages: [] }))).toHaveLength(2);
  });

  it.each<[string, Partial<OpenAIChatClientOptions>]>([
    ['model', { model: '' }],
    ['baseURL', { baseURL: 'ftp://example.com' }],
    ['baseURL', { baseURL: 'not a url' }],
    ['timeoutMs', { timeoutMs: 0 }],
    ['idleTimeoutMs', { idleTimeoutMs: 1.5 }],
    ['maxRetries', { maxRetries: -1 }],
  ])('rejects a bad %s at construction', (name, options) => {
    const construct = () => new OpenAIChatClient({ model: 'm', ...options });
    expect(construct).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(construct).toThrow(name);
  });
});
