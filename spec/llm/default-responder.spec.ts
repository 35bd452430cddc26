import { lastValueFrom, Observable, toArray } from 'rxjs';
import type { TurnOutput } from '../../lib/agent/types';
import { DEFAULT_OPENAI_MODEL, defaultResponder } from '../../lib/llm';
import { ChatServer, chunk, collect, DONE, sse, startStream } from './support/chat-server';
import { makeTurn, user } from './support/turns';

describe('defaultResponder', () => {
  it('is the scripted model when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set', async () => {
    const respond = defaultResponder({ OPENAI_API_KEY: '  ', OPENAI_MODEL: 'ignored' }, { scripted: { chunkDelayMs: 0 } });

    expect(respond.kind).toBe('scripted');
    expect(respond.description).toMatch(/scripted model/);
    expect(respond.client).toBeUndefined();
    const out = await lastValueFrom((respond(makeTurn([user('hello')])) as Observable<TurnOutput>).pipe(toArray()));
    expect(out.join('')).toMatch(/^Hello! I'm the rxcrew demo assistant/);
  });

  it('uses OpenAI with the key, and gpt-4o-mini unless OPENAI_MODEL says otherwise', () => {
    const plain = defaultResponder({ OPENAI_API_KEY: 'sk-secret' });
    const chosen = defaultResponder({ OPENAI_API_KEY: 'sk-secret', OPENAI_MODEL: 'gpt-4.1' });

    expect(plain.kind).toBe('openai');
    expect(plain.client?.model).toBe(DEFAULT_OPENAI_MODEL);
    expect(plain.client?.baseURL).toBe('https://api.openai.com/v1');
    expect(plain.description).toBe('OpenAI-compatible model "gpt-4o-mini" at https://api.openai.com/v1');
    expect(plain.description).not.toContain('sk-secret');
    expect(chosen.client?.model).toBe('gpt-4.1');
  });

  it('talks to OPENAI_BASE_URL without a key: the same responder then streams from the real server', async () => {
    const server = await ChatServer.start();
    try {
      server.handle = (_req, res) => {
        startStream(res);
        res.end(sse(chunk({ content: 'from the server' }, 'stop')) + DONE);
      };
      const respond = defaultResponder({ OPENAI_BASE_URL: server.baseURL, OPENAI_MODEL: 'llama3' });

      const out = await collect(respond(makeTurn([user('hello')])) as AsyncIterable<TurnOutput>);

      expect(respond.kind).toBe('openai');
      expect(out).toEqual(['from the server']);
      expect(server.requests[0].body.model).toBe('llama3');
      expect(server.requests[0].headers.authorization).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('lets options override the client settings read from env', () => {
    const respond = defaultResponder({ OPENAI_API_KEY: 'k' }, { client: { maxRetries: 0, timeoutMs: 5000 } });
    expect(respond.client).toMatchObject({ maxRetries: 0, timeoutMs: 5000 });
  });
});
