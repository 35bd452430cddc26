import { CrewError, ErrorCodes } from '../../lib/errors';
import { LightningEngine, LightningEngineOptions } from '../../lib/tts/lightning-engine';
import { errorBodyMessage, LightningError } from '../../lib/tts/lightning-error';
import { FakeLightning, FakeLightningOptions } from './support/fake-lightning';

const TEXT = 'Your order ships on Monday.';
const open = () => new AbortController().signal;

describe('LightningEngine against a fake Lightning server', () => {
  let fake: FakeLightning;
  let baseURL: string;

  async function serve(options: FakeLightningOptions = {}): Promise<void> {
    fake = new FakeLightning(options);
    baseURL = await fake.start();
  }
  const engine = (options: Partial<LightningEngineOptions> = {}) => new LightningEngine({ apiKey: 'sk_test', voiceId: 'magnus', baseURL, ...options });

  async function collect(iterable: AsyncIterable<Uint8Array>): Promise<Buffer[]> {
    const pieces: Buffer[] = [];
    for await (const piece of iterable) pieces.push(Buffer.from(piece));
    return pieces;
  }

  afterEach(() => fake?.close());

  it('posts the documented body and headers, and reassembles the streamed PCM', async () => {
    await serve();
    const pieces = await collect(engine().synthesize(TEXT, { sampleRate: 16000, signal: open() }));
    expect(fake.requests).toHaveLength(1);
    const [request] = fake.requests;
    expect(request.path).toBe('/waves/v1/tts/live');
    expect(request.headers).toMatchObject({ authorization: 'Bearer sk_test', 'content-type': 'application/json', accept: 'text/event-stream' });
    expect(request.body).toEqual({ text: TEXT, voice_id: 'magnus', model: 'lightning_v3.1', sample_rate: 16000, output_format: 'pcm', language: 'en' });
    expect(pieces.length).toBeGreaterThan(5); // one per SSE frame, ~1 KB each
    expect(Buffer.concat(pieces).equals(fake.pcmFor(TEXT, 16000))).toBe(true);
  });

  it('sends model, speed and language when given, and takes a base URL with a trailing slash', async () => {
    await serve();
    await collect(engine({ baseURL: `${baseURL}/`, model: 'lightning_v3.1_pro', speed: 1.25, language: 'hi' }).synthesize('Namaste.', { sampleRate: 8000, signal: open() }));
    expect(fake.requests[0].body).toMatchObject({ model: 'lightning_v3.1_pro', speed: 1.25, language: 'hi', sample_rate: 8000 });
  });

  it('asks for 24 kHz when Lightning has no such rate, and resamples', async () => {
    await serve();
    const pcm = Buffer.concat(await collect(engine().synthesize(TEXT, { sampleRate: 22050, signal: open() })));
    expect(fake.requests[0].body.sample_rate).toBe(24000);
    const expected = (fake.pcmFor(TEXT, 24000).length / 2) * (22050 / 24000);
    expect(Math.abs(pcm.length / 2 - expected)).toBeLessThan(64); // less the filter delay
  });

  it('yields each piece as it streams, before the response ends', async () => {
    await serve({ chunkDelayMs: 30 });
    const iterator = engine().synthesize(TEXT, { sampleRate: 16000, signal: open() })[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.done).toBe(false);
    expect(fake.requests[0].closedEarly).toBe(false);
    let settled = false;
    void fake.requests[0].closed.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false); // the server is still streaming
    await iterator.return?.(undefined);
  });

  it('closes the HTTP request when the signal fires mid-stream (the server sees it)', async () => {
    await serve({ chunkDelayMs: 20, msPerChar: 400 });
    const controller = new AbortController();
    const pieces: Buffer[] = [];
    const run = (async () => {
      for await (const piece of engine().synthesize(TEXT, { sampleRate: 16000, signal: controller.signal })) {
        pieces.push(Buffer.from(piece));
        if (pieces.length === 2) controller.abort();
      }
    })();
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    await fake.requests[0].closed;
    expect(fake.requests[0].closedEarly).toBe(true);
    expect(pieces).toHaveLength(2);
  });

  it('closes the HTTP request when the consumer stops iterating', async () => {
    await serve({ chunkDelayMs: 20, msPerChar: 400 });
    for await (const piece of engine().synthesize(TEXT, { sampleRate: 16000, signal: open() })) {
      expect(piece.length).toBeGreaterThan(0);
      break;
    }
    await fake.requests[0].closed;
    expect(fake.requests[0].closedEarly).toBe(true);
  });

  it('does not start when the signal has already fired', async () => {
    await serve();
    const controller = new AbortController();
    controller.abort();
    await expect(collect(engine().synthesize(TEXT, { sampleRate: 16000, signal: controller.signal }))).rejects.toMatchObject({ name: 'AbortError' });
    expect(fake.requests).toHaveLength(0);
  });

  it('reads each response to its end, so that connections are reused', async () => {
    await serve({ endDelayMs: 20 }); // the response ends a little after its terminator
    const tts = engine();
    for (const text of ['One.', 'Two.', 'Three.', 'Four.']) await collect(tts.synthesize(text, { sampleRate: 16000, signal: open() }));
    expect(fake.requests).toHaveLength(4);
    expect(fake.requests.every((r) => !r.closedEarly)).toBe(true);
    // fetch pools a socket a moment after its response ended, so the very next request may open a second one
    expect(fake.connections).toBeLessThanOrEqual(2);
  });

  describe('errors name the status and the server message, and have a code', () => {
    const failure = (tts: LightningEngine, text = TEXT) => collect(tts.synthesize(text, { sampleRate: 16000, signal: open() })).then(
      () => Promise.reject(new Error('expected a failure')),
      (err: LightningError) => err,
    );

    it('401: a wrong key', async () => {
      await serve();
      const err = await failure(engine({ apiKey: 'sk_wrong' }));
      expect(err).toBeInstanceOf(LightningError);
      expect(err).toBeInstanceOf(CrewError);
      expect(err.code).toBe(ErrorCodes.TTS_HTTP);
      expect(err.status).toBe(401);
      expect(err.message).toMatch(/^Lightning TTS: HTTP 401: Unauthorized: Invalid or missing API key \(request id [0-9a-f-]{36}\)$/);
    });

    it('400: an unknown voice (zod-style body)', async () => {
      await serve();
      const err = await failure(engine({ voiceId: 'nobody' }));
      expect(err.code).toBe(ErrorCodes.TTS_HTTP);
      expect(err.status).toBe(400);
      expect(err.serverMessage).toBe('voice_id: Invalid Voice ID');
      expect(err.message).toContain('HTTP 400: voice_id: Invalid Voice ID');
    });

    it('429 with Retry-After, and 500', async () => {
      await serve({ fail: { status: 429, body: { error: 'TooManyRequests', message: 'Concurrency limit reached' }, headers: { 'Retry-After': '2' } } });
      const limited = await failure(engine());
      expect(limited).toMatchObject({ code: ErrorCodes.TTS_HTTP, status: 429 });
      expect(limited.message).toMatch(/HTTP 429: TooManyRequests: Concurrency limit reached \(retry after 2 s, request id /);
      await fake.close();
      await serve({ fail: { status: 500, body: { message: 'Internal server error' } } });
      expect(await failure(engine())).toMatchObject({ code: ErrorCodes.TTS_HTTP, status: 500, message: expect.stringMatching(/^Lightning TTS: HTTP 500: Internal server error/) });
    });

    it('a stream that ends without its done frame, or reports an error', async () => {
      await serve({ stream: 'truncated' });
      expect(await failure(engine())).toMatchObject({ code: ErrorCodes.TTS_BAD_RESPONSE, message: expect.stringMatching(/ended before its done frame/) });
      await fake.close();
      await serve({ stream: 'error-frame' });
      expect(await failure(engine())).toMatchObject({ code: ErrorCodes.TTS_STREAM, message: 'Lightning TTS: the stream reported an error: synthesis failed' });
    });

    it('a server that goes quiet: the idle timeout', async () => {
      await serve({ stream: 'stall' });
      const err = await failure(engine({ timeoutMs: 150 }));
      expect(err.code).toBe(ErrorCodes.TTS_TIMEOUT);
      expect(err.message).toBe(`Lightning TTS: no response from ${baseURL}/waves/v1/tts/live within 150 ms`);
      await fake.requests[0].closed;
      expect(fake.requests[0].closedEarly).toBe(true);
    });

    it('no server at all', async () => {
      await serve();
      await fake.close();
      const err = await failure(engine());
      expect(err.status).toBeUndefined();
      expect(err.code).toBe(ErrorCodes.TTS_NETWORK);
      expect(err.message).toMatch(/^Lightning TTS: request to http:\/\/127\.0\.0\.1:\d+\/waves\/v1\/tts\/live failed: /);
    });
  });

  it('the fake answers a mulaw request as the live server does, and the message reads well', async () => {
    await serve();
    const response = await fetch(`${baseURL}/waves/v1/tts/live`, {
      method: 'POST',
      headers: { Authorization: 'Bearer sk_test', 'Content-Type': 'application/json' },
      body: JSON.stringify({ text: 'Hi', voice_id: 'magnus', output_format: 'mulaw' }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = await response.text();
    expect(JSON.parse(body).error[0]).toMatchObject({ code: 'invalid_enum_value', path: ['output_format'], received: 'mulaw' });
    expect(errorBodyMessage(body)).toMatch(/^output_format: Invalid enum value\. Expected 'pcm' \| .*received 'mulaw'$/);
  });
});

describe('LightningEngine options', () => {
  const saved = process.env.SMALLEST_API_KEY;
  afterEach(() => {
    if (saved === undefined) delete process.env.SMALLEST_API_KEY;
    else process.env.SMALLEST_API_KEY = saved;
  });

  it('takes the key from SMALLEST_API_KEY, and says so when there is none', () => {
    delete process.env.SMALLEST_API_KEY;
    expect(() => new LightningEngine({ voiceId: 'magnus' })).toThrow(expect.objectContaining({ code: 'CREW_ERR_INVALID_ARGUMENT', message: expect.stringMatching(/SMALLEST_API_KEY/) }));
    process.env.SMALLEST_API_KEY = 'sk_env';
    expect(new LightningEngine({ voiceId: 'magnus' }).name).toBe('lightning');
  });

  it('requires a voice and a sensible speed', () => {
    expect(() => new LightningEngine({ apiKey: 'k' } as LightningEngineOptions)).toThrow(/voiceId is required/);
    expect(() => new LightningEngine({ apiKey: 'k', voiceId: 'magnus', speed: 3 })).toThrow(/speed must be from 0.5 to 2/);
  });
});

describe('errorBodyMessage', () => {
  it.each([
    ['{"error":"InvalidRequest","message":"text is too long"}', 'InvalidRequest: text is too long'],
    ['{"error":[{"code":"custom","path":["voice_id"],"message":"Invalid Voice ID"},{"path":[],"message":"x"}]}', 'voice_id: Invalid Voice ID; x'],
    ['{"message":"Forbidden"}', 'Forbidden'],
    ['{"error":{"message":"nested"}}', 'nested'],
    ['<html>Bad gateway</html>', '<html>Bad gateway</html>'],
    ['', ''],
  ])('%s → %s', (body, message) => {
    expect(errorBodyMessage(body)).toBe(message);
  });
});
