import { createServer } from 'node:net';
import { filter, firstValueFrom, lastValueFrom, ReplaySubject, take, toArray } from 'rxjs';
import { ErrorCodes } from 'rxcrew';
import { PulseEngine, PulseEngineOptions } from '../../lib/stt/pulse-engine';
import { SttError, SttErrorCodes } from '../../lib/stt/errors';
import type { SttStream, SttTranscript } from '../../lib/stt/engine';
import { silence, tone } from '../support/pcm';
import { FakePulse, FakePulseOptions, startFakePulse } from './support/fake-pulse';

let fake: FakePulse;

async function start(options: FakePulseOptions = {}): Promise<FakePulse> {
  fake = await startFakePulse(options);
  return fake;
}

afterEach(async () => {
  await fake?.close();
});

function engine(options: PulseEngineOptions = {}): PulseEngine {
  return new PulseEngine({ apiKey: 'sk_test', baseURL: fake.url, ...options });
}

/** Everything a stream says, replayed for late readers. */
function record(stream: SttStream) {
  const seen = new ReplaySubject<SttTranscript>();
  stream.transcripts.subscribe(seen);
  return {
    next: (test: (t: SttTranscript) => boolean = () => true) => firstValueFrom(seen.pipe(filter(test), take(1))),
    all: () => lastValueFrom(seen.pipe(toArray())),
    error: () => lastValueFrom(seen.pipe(toArray())).then(
      () => undefined,
      (err: unknown) => err as SttError,
    ),
  };
}

const isFinal = (t: SttTranscript) => t.isFinal;

describe('PulseEngine', () => {
  it('connects to /waves/v1/stt/live with the query and the bearer key', async () => {
    await start();
    const stt = engine({ query: { eou_timeout_ms: 500, punctuate: false } });
    expect(stt.url(16000)).toBe(
      `${fake.url}/waves/v1/stt/live?eou_timeout_ms=500&punctuate=false&model=pulse&language=en&encoding=linear16&sample_rate=16000`,
    );
    const stream = stt.open({ sampleRate: 24000, language: 'hi' });
    const connection = await fake.connection();
    expect(Object.fromEntries(connection.query)).toEqual({
      eou_timeout_ms: '500',
      punctuate: 'false',
      model: 'pulse',
      language: 'hi',
      encoding: 'linear16',
      sample_rate: '24000',
    });
    expect(connection.headers.authorization).toBe('Bearer sk_test');
    await stream.close();
  });

  it('sends audio as binary frames, in order, also what was written before the socket opened', async () => {
    await start();
    const stream = engine().open({ sampleRate: 16000 });
    const written = [tone(20), silence(20), tone(20, 16000, -30)];
    for (const frame of written) stream.write(frame);
    stream.finalize();
    const said = record(stream);
    await said.next(isFinal);
    const connection = fake.connections[0];
    expect(connection.audio).toEqual(written);
    expect(connection.controls).toEqual(['{"type":"finalize"}']);
    await stream.close();
  });

  it('reads partials and finals, transcript or transcription', async () => {
    for (const textField of ['transcript', 'transcription', 'both'] as const) {
      await start({ textField, utterances: ['hello there friend'] });
      const stream = engine().open({ sampleRate: 16000 });
      const said = record(stream);
      stream.write(tone(20));
      stream.write(tone(20));
      expect(await said.next((t) => t.text === 'hello there')).toEqual({ text: 'hello there', isFinal: false });
      stream.finalize();
      expect(await said.next(isFinal)).toEqual({ text: 'hello there friend', isFinal: true, fromFinalize: true, language: 'en' });
      await stream.close();
      await fake.close();
    }
  });

  it('passes on finals made by the server endpointing, not cumulative', async () => {
    await start({ finalAfterSpeechBytes: 1280, utterances: ['one', 'two'] });
    const stream = engine().open({ sampleRate: 16000 });
    const said = record(stream);
    for (let i = 0; i < 4; i++) stream.write(tone(20));
    await stream.close();
    const finals = (await said.all()).filter(isFinal);
    expect(finals.map((t) => [t.text, t.fromFinalize ?? false, t.isLast ?? false])).toEqual([
      ['one', false, false],
      ['two', false, false],
      ['', true, true],
    ]);
  });

  it('close() sends close_stream and waits for is_last before closing', async () => {
    await start({ lastDelayMs: 150 });
    const stream = engine().open({ sampleRate: 16000 });
    const said = record(stream);
    stream.write(tone(40));
    const steps: string[] = [];
    void said.next((t) => t.isLast === true).then(() => steps.push('is_last'));
    await stream.close().then(() => steps.push('closed'));
    expect(steps).toEqual(['is_last', 'closed']);
    expect(fake.connections[0].controls).toEqual(['{"type":"close_stream"}']);
    expect(await fake.connections[0].closed).toBe(1000);
    const all = await said.all(); // completed
    expect(all[all.length - 1]).toMatchObject({ text: 'hello there', isFinal: true, isLast: true });
    stream.write(tone(20)); // ignored after close
    expect(fake.connections[0].audio).toHaveLength(1);
  });

  it('gives up waiting for is_last after closeTimeoutMs', async () => {
    await start({ lastDelayMs: Infinity });
    const stream = engine({ closeTimeoutMs: 100 }).open({ sampleRate: 16000 });
    const said = record(stream);
    const started = Date.now();
    await stream.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    await expect(said.all()).resolves.toEqual([]);
  });

  it('reports a refused key (401 before the upgrade) without the key in the message', async () => {
    await start();
    const error = await record(engine({ apiKey: 'sk_wrong' }).open({ sampleRate: 16000 })).error();
    expect(error).toBeInstanceOf(SttError);
    expect(error).toMatchObject({ code: SttErrorCodes.AUTH, status: 401, retryable: false });
    expect(error!.message).toContain('Unauthorized: invalid API key');
    expect(error!.message).not.toContain('sk_wrong');
    expect(fake.requests.map((r) => r.status)).toEqual([401]);
  });

  it('reports a refused model (400 before the upgrade)', async () => {
    await start();
    const error = await record(engine({ model: 'pulse-pro' }).open({ sampleRate: 16000 })).error();
    expect(error).toMatchObject({ code: SttErrorCodes.BAD_REQUEST, status: 400 });
    expect(error!.message).toContain('model must be pulse');
  });

  it('refuses a sample rate Pulse does not take, without connecting', async () => {
    await start();
    const error = await record(engine().open({ sampleRate: 11025 })).error();
    expect(error).toMatchObject({ code: SttErrorCodes.BAD_REQUEST });
    expect(error!.message).toMatch(/11025/);
    expect(fake.requests).toEqual([]);
  });

  it('reports an error message from the server', async () => {
    await start({ errorAfterFrames: 2 });
    const stream = engine().open({ sampleRate: 16000 });
    const said = record(stream);
    stream.write(tone(20));
    stream.write(tone(20));
    const error = await said.error();
    expect(error).toMatchObject({ code: SttErrorCodes.SERVER, retryable: true });
    expect(error!.message).toContain('internal transcription failure');
    await stream.close(); // already closed: resolves
  });

  it('reports close 1008 as too many open sessions', async () => {
    await start({ maxSessions: 1 });
    const first = engine().open({ sampleRate: 16000 });
    await fake.connection(0);
    const error = await record(engine().open({ sampleRate: 16000 })).error();
    expect(error).toMatchObject({ code: SttErrorCodes.LIMIT, closeCode: 1008 });
    expect(error!.message).toMatch(/too many open sessions/);
    await first.close();
  });

  it('reports a server that cannot be reached', async () => {
    await start();
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const error = await record(engine({ baseURL: `ws://127.0.0.1:${port}` }).open({ sampleRate: 16000 })).error();
    expect(error).toMatchObject({ code: SttErrorCodes.NETWORK, retryable: true });
  });

  it('drops the stream at once when the signal aborts', async () => {
    await start({ lastDelayMs: Infinity });
    const controller = new AbortController();
    const stream = engine().open({ sampleRate: 16000, signal: controller.signal });
    const said = record(stream);
    const connection = await fake.connection();
    controller.abort();
    await expect(said.all()).resolves.toEqual([]);
    await connection.closed;
    expect(connection.controls).toEqual([]);
  });

  it('bounds the audio held while connecting', async () => {
    await start();
    const stream = engine({ maxBufferedBytes: 1000 }).open({ sampleRate: 16000 });
    for (let i = 0; i < 3; i++) stream.write(tone(20)); // 640 bytes each
    stream.finalize();
    await record(stream).next(isFinal);
    expect(fake.connections[0].audio).toHaveLength(1);
    await stream.close();
  });

  it('needs a key: apiKey or SMALLEST_API_KEY', () => {
    const saved = process.env.SMALLEST_API_KEY;
    try {
      delete process.env.SMALLEST_API_KEY;
      expect(() => new PulseEngine()).toThrow(expect.objectContaining({ code: SttErrorCodes.NO_KEY }));
      expect(() => new PulseEngine()).toThrow(/SMALLEST_API_KEY/);
      process.env.SMALLEST_API_KEY = 'sk_env';
      expect(new PulseEngine().baseURL).toBe('wss://api.smallest.ai');
      expect(() => new PulseEngine({ baseURL: 'https://api.smallest.ai' })).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }),
      );
    } finally {
      if (saved === undefined) delete process.env.SMALLEST_API_KEY;
      else process.env.SMALLEST_API_KEY = saved;
    }
  });
});
