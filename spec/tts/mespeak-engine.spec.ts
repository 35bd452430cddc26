import { MespeakEngine } from '../../lib/tts/mespeak-engine';
import { rms } from '../support/pcm';

const SENTENCE = 'Hello there, how can I help you today?';
const open = () => new AbortController().signal;

describe('MespeakEngine (the real embedded engine)', () => {
  const engine = new MespeakEngine();

  beforeAll(() => engine.warmUp(), 20000); // starts the worker thread
  afterAll(() => MespeakEngine.terminate());

  it('speaks: PCM16 at the rate asked for, non-silent, as long at 8 kHz as at 16 kHz', async () => {
    const at16k = await engine.synthesize(SENTENCE, { sampleRate: 16000, signal: open() });
    const at8k = await engine.synthesize(SENTENCE, { sampleRate: 8000, signal: open() });

    const seconds = at16k.length / 2 / 16000;
    expect(seconds).toBeGreaterThan(1.2); // ~2.3 s of speech at the default 175 words a minute
    expect(seconds).toBeLessThan(5);
    // the same speech at half the rate: half the samples
    expect(Math.abs(at8k.length / 2 / 8000 - seconds)).toBeLessThan(0.01);
    expect(rms(at16k)).toBeGreaterThan(0.02); // silence is 0; speech here is ~0.1
    expect(rms(at8k)).toBeGreaterThan(0.02);
  });

  it('passes its native 22,050 Hz through unresampled', async () => {
    const native = await engine.synthesize('Testing.', { sampleRate: 22050, signal: open() });
    expect(native.length % 2).toBe(0);
    expect(rms(native)).toBeGreaterThan(0.02);
  });

  it('changes with its options: a slower voice speaks longer', async () => {
    const slow = new MespeakEngine({ speed: 100, variant: 'f2' });
    const fast = new MespeakEngine({ speed: 300 });
    const [a, b] = await Promise.all([
      slow.synthesize('One two three four five.', { sampleRate: 16000, signal: open() }),
      fast.synthesize('One two three four five.', { sampleRate: 16000, signal: open() }),
    ]);
    expect(a.length).toBeGreaterThan(b.length * 1.5);
  });

  it('takes text that starts with "-" as text, not as an eSpeak option', async () => {
    const pcm = await engine.synthesize('-5 degrees outside.', { sampleRate: 16000, signal: open() });
    expect(rms(pcm)).toBeGreaterThan(0.02);
  });

  it('rejects with an AbortError when the signal fires, running or queued, and goes on serving', async () => {
    const first = new AbortController();
    const second = new AbortController();
    const running = engine.synthesize(SENTENCE, { sampleRate: 16000, signal: first.signal });
    const queued = engine.synthesize(SENTENCE, { sampleRate: 16000, signal: second.signal });
    second.abort();
    first.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    await expect(queued).rejects.toMatchObject({ name: 'AbortError' });
    const aborted = new AbortController();
    aborted.abort();
    await expect(engine.synthesize('Hi.', { sampleRate: 16000, signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' });
    // the worker goes on serving
    expect(rms(await engine.synthesize('Still here.', { sampleRate: 16000, signal: open() }))).toBeGreaterThan(0.02);
  });

  it('survives more calls than one eSpeak instance can take (its "80th call" bug aborts the process)', async () => {
    for (let i = 0; i < 90; i++) {
      const pcm = await engine.synthesize(`${i}.`, { sampleRate: 8000, signal: open() });
      expect(pcm.length).toBeGreaterThan(1000);
    }
  }, 20000);

  it('fails the requests in progress when the worker is terminated, and starts a new one after', async () => {
    const running = engine.synthesize(SENTENCE, { sampleRate: 16000, signal: open() });
    await MespeakEngine.terminate();
    await expect(running).rejects.toThrow('the mespeak worker was terminated');
    expect(rms(await engine.synthesize('Back again.', { sampleRate: 16000, signal: open() }))).toBeGreaterThan(0.02);
  });

  it('refuses unknown voices, variants and out-of-range options when constructed', () => {
    expect(() => new MespeakEngine({ voice: 'xx/yy' })).toThrow(/no voice "xx\/yy"/);
    expect(() => new MespeakEngine({ voice: '../../etc/passwd' })).toThrow(expect.objectContaining({ code: 'CREW_ERR_INVALID_ARGUMENT' }));
    expect(() => new MespeakEngine({ variant: 'robot' })).toThrow(/variant/);
    expect(() => new MespeakEngine({ speed: 10 })).toThrow(/speed must be a number from 80 to 450/);
    expect(new MespeakEngine({ voice: 'fr' }).voice).toBe('fr');
  });
});
