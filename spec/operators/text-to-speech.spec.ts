import { CrewEvent, CrewSession, ErrorCodes, event, LightningError } from 'rxcrew';
import { TextToSpeech, TextToSpeechOptions } from 'rxcrew/operators';
import { TestClient } from 'rxcrew/testing';
import type { TtsEngine } from '../../lib/tts/engine';
import { MespeakEngine } from '../../lib/tts/mespeak-engine';
import { FakeEngine } from '../tts/support/fake-engine';
import { constant, rms } from '../support/pcm';

const flush = async (times = 5) => {
  for (let i = 0; i < times; i++) await new Promise((r) => setImmediate(r));
};

async function waitFor(condition: () => boolean, what: string, timeout = 3000): Promise<void> {
  const until = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const audioFrames = (client: TestClient) => client.all('agent.audio');
const audioBytes = (client: TestClient) => audioFrames(client).reduce((n, e) => n + (e.audio as Uint8Array).length, 0);
/** The level of each frame's first sample: which call it came from. */
const levels = (client: TestClient) => audioFrames(client).map((e) => Buffer.from(e.audio as Uint8Array).readInt16LE(0) / 1000);

async function setup(options: TextToSpeechOptions = {}, init?: object) {
  const engine = new FakeEngine();
  const tts = new TextToSpeech({ engine, ...options });
  const session = new CrewSession();
  session.addNode(tts);
  const client = new TestClient(session);
  if (init) client.send(init);
  await session.start();
  const say = (type: string, fields: Record<string, unknown> = {}) => session.inject(event(type, fields));
  return { engine: (options.engine as FakeEngine | undefined) ?? engine, session, client, say };
}

const interrupt = { type: 'system.control.interrupt' };

describe('TextToSpeech', () => {
  it('speaks agent.speak as 20 ms agent.audio frames at the session rate, after passing the text on', async () => {
    const { engine, client, say } = await setup();
    say('agent.speak', { text: 'Hello there, my friend.' });
    const expected = constant(1, 16 * 23 * 5).length; // 23 characters, 5 ms each, 16 samples a ms
    await waitFor(() => audioBytes(client) === expected, 'the audio');
    const types = client.received.map((e) => e.type);
    expect(client.all('agent.speak')).toEqual([expect.objectContaining({ text: 'Hello there, my friend.' })]);
    expect(types.indexOf('agent.speak')).toBeLessThan(types.indexOf('agent.audio'));
    expect(engine.calls.map((c) => [c.text, c.sampleRate])).toEqual([['Hello there, my friend.', 16000]]);
    const frames = audioFrames(client);
    expect(frames.every((e) => e.sample_rate === 16000)).toBe(true);
    expect(frames.slice(0, -1).every((e) => (e.audio as Uint8Array).length === 640)).toBe(true);
    expect((frames.at(-1)!.audio as Uint8Array).length).toBeLessThanOrEqual(640);
  });

  it('tags frames with the speech they belong to, and a sentence\'s last frame with its text', async () => {
    const { client, say } = await setup();
    say('agent.llm.response.start', { request_id: 'r1' });
    say('agent.llm.response.chunk', { text: 'Hello there, my good friend. How are you on this fine day?' });
    say('agent.llm.response.end');
    say('agent.speak', { text: 'And one more thing to say.' });
    await waitFor(() => audioFrames(client).filter((e) => typeof e.text === 'string').length === 3, 'three sentences');
    const frames = audioFrames(client);
    const reply = frames.filter((e) => e.speech_id === 'r1');
    const spoken = frames.filter((e) => e.speech_id !== 'r1');
    expect(reply.length + spoken.length).toBe(frames.length);
    expect(new Set(spoken.map((e) => e.speech_id)).size).toBe(1);
    expect(typeof spoken[0].speech_id).toBe('string');
    expect(reply.filter((e) => e.text !== undefined).map((e) => e.text)).toEqual(['Hello there, my good friend.', 'How are you on this fine day?']);
    expect(spoken.at(-1)!.text).toBe('And one more thing to say.');
    expect(spoken.slice(0, -1).every((e) => e.text === undefined)).toBe(true);
  });

  it('uses the output rate system.init declares', async () => {
    const init = { type: 'system.init', version: 1, session_context: { initial_variables: {}, conversation_type: 'voice' }, audio: { output_sample_rate: 24000 } };
    const { engine, client, say } = await setup({ frameMs: 40 }, init);
    say('agent.speak', { text: 'Speaking at twenty-four kilohertz.' });
    await waitFor(() => audioFrames(client).length > 2, 'audio');
    expect(engine.calls[0].sampleRate).toBe(24000);
    expect(audioFrames(client)[0]).toMatchObject({ sample_rate: 24000 });
    expect((audioFrames(client)[0].audio as Uint8Array).length).toBe(1920); // 40 ms at 24 kHz
  });

  it('speaks the first sentence of a streamed reply as soon as it is complete, the rest at the end', async () => {
    const { engine, client, say } = await setup();
    say('agent.llm.response.start', { request_id: 'r1' });
    say('agent.llm.response.chunk', { text: 'Hello there, my good friend. How' });
    await client.next('agent.audio'); // before the reply has ended
    expect(engine.calls.map((c) => c.text)).toEqual(['Hello there, my good friend.']);
    say('agent.llm.response.chunk', { text: ' are you on this fine day?' });
    await flush();
    expect(engine.calls).toHaveLength(1); // "day?" may go on
    say('agent.llm.response.end');
    await waitFor(() => engine.calls.length === 2 && levels(client).includes(2), 'the second sentence');
    expect(engine.calls[1].text).toBe('How are you on this fine day?');
    const order = levels(client);
    expect(order).toEqual([...order].sort()); // all of sentence 1, then all of sentence 2
    // the text went through unchanged, in order
    expect(client.all((e) => e.type.startsWith('agent.llm.response')).map((e) => e.type.slice(19))).toEqual(['start', 'chunk', 'chunk', 'end']);
  });

  it('speaks the sentences of a long agent.speak one by one, in order', async () => {
    const { engine, client, say } = await setup();
    engine.gated = true;
    say('agent.speak', { text: 'This is the first sentence. This is the second sentence. And a third one here.' });
    await waitFor(() => engine.calls.length === 1, 'the first call');
    await flush();
    expect(engine.calls).toHaveLength(1); // one at a time
    engine.release();
    await waitFor(() => engine.calls.length === 2, 'the second call');
    engine.release();
    await waitFor(() => engine.calls.length === 3, 'the third call');
    engine.release();
    await waitFor(() => levels(client).includes(3), 'the last audio');
    expect(engine.calls.map((c) => c.text)).toEqual(['This is the first sentence.', 'This is the second sentence.', 'And a third one here.']);
    expect(levels(client)).toEqual([...levels(client)].sort());
  });

  it('on interrupt aborts the synthesis in flight and drops the queued sentences; the next speak works', async () => {
    const { engine, client, say } = await setup();
    engine.gated = true;
    say('agent.speak', { text: 'This is the first sentence. This is the second sentence. And a third one here.' });
    await waitFor(() => engine.calls.length === 1, 'the first call');
    client.send(interrupt);
    expect(engine.calls[0].signal.aborted).toBe(true); // at once, inside the interrupt's delivery
    await flush();
    expect(engine.calls).toHaveLength(1);
    expect(audioFrames(client)).toHaveLength(0);

    engine.gated = false;
    say('agent.speak', { text: 'Back again after that.' });
    await client.next('agent.audio');
    expect(engine.calls.map((c) => c.text)).toEqual(['This is the first sentence.', 'Back again after that.']);
  });

  it('on interrupt drops the held-back text and does not speak the rest of the cut reply', async () => {
    const { engine, client, say } = await setup();
    say('agent.llm.response.start');
    say('agent.llm.response.chunk', { text: 'This sentence is cut off by' });
    client.send(interrupt);
    say('agent.llm.response.chunk', { text: ' the user, who had heard enough. And then some more.' }); // already on its way
    say('agent.llm.response.end', { interrupted: true });
    await flush();
    expect(engine.calls).toHaveLength(0);

    say('agent.llm.response.start');
    say('agent.llm.response.chunk', { text: 'A new reply is spoken.' });
    say('agent.llm.response.end');
    await client.next('agent.audio');
    expect(engine.calls.map((c) => c.text)).toEqual(['A new reply is spoken.']);
  });

  it('with interruptible: false, finishes what it is saying', async () => {
    const { engine, client, say } = await setup({ interruptible: false });
    engine.gated = true;
    say('agent.speak', { text: 'This is the first sentence. This is the second sentence.' });
    await waitFor(() => engine.calls.length === 1, 'the first call');
    client.send(interrupt);
    expect(engine.calls[0].signal.aborted).toBe(false);
    engine.release();
    await waitFor(() => engine.calls.length === 2, 'the second call');
  });

  it('reports an engine failure as an agent.error warning and speaks the next sentence', async () => {
    const { engine, client, say } = await setup();
    engine.failNext = new Error('engine exploded');
    say('agent.speak', { text: 'This one fails to speak.' });
    const error = await client.next('agent.error');
    expect(error).toMatchObject({
      severity: 'warning',
      message: 'node "TextToSpeech" could not synthesize speech with fake: engine exploded',
      payload: { code: 'CREW_ERR_TTS_FAILED', node_name: 'TextToSpeech', engine: 'fake', error_class: 'Error', message: 'engine exploded' },
    });
    say('agent.speak', { text: 'This one is spoken fine.' });
    await client.next('agent.audio');
    expect(engine.calls).toHaveLength(2);
  });

  it("reports an engine error that has an rxcrew code under that code (a LightningError's)", async () => {
    const { engine, client, say } = await setup();
    engine.failNext = new LightningError(ErrorCodes.TTS_HTTP, 'Lightning TTS: HTTP 401: Unauthorized', { status: 401 });
    say('agent.speak', { text: 'This one fails to speak.' });
    expect(await client.next('agent.error')).toMatchObject({
      severity: 'warning',
      message: 'node "TextToSpeech" could not synthesize speech with fake: Lightning TTS: HTTP 401: Unauthorized',
      payload: { code: 'CREW_ERR_TTS_HTTP', node_name: 'TextToSpeech', engine: 'fake', error_class: 'LightningError', message: 'Lightning TTS: HTTP 401: Unauthorized' },
    });
  });

  it('frames streamed pieces of any size, odd ones included, without losing a byte', async () => {
    const pcm = constant(7, 5000);
    const streaming: TtsEngine = {
      name: 'streaming',
      async *synthesize() {
        for (let i = 0; i < pcm.length; i += 333) yield pcm.subarray(i, i + 333);
      },
    };
    const { client, say } = await setup({ engine: streaming });
    say('agent.speak', { text: 'Streamed in odd pieces.' });
    await waitFor(() => audioBytes(client) === pcm.length, 'all the audio');
    const frames = audioFrames(client).map((e) => Buffer.from(e.audio as Uint8Array));
    expect(frames.slice(0, -1).every((f) => f.length === 640)).toBe(true);
    expect(Buffer.concat(frames).equals(pcm)).toBe(true);
  });

  it('aborts the synthesis in flight when the session ends', async () => {
    const { engine, session, say } = await setup();
    engine.gated = true;
    say('agent.speak', { text: 'Never finished, sadly.' });
    await waitFor(() => engine.calls.length === 1, 'the call');
    await session.stop();
    expect(engine.calls[0].signal.aborted).toBe(true);
  });

  it('checks its options when constructed', () => {
    expect(() => new TextToSpeech({ frameMs: 0 })).toThrow(expect.objectContaining({ code: 'CREW_ERR_INVALID_ARGUMENT' }));
    expect(() => new TextToSpeech({ minSentenceChars: -2 })).toThrow(/minChars/);
    expect(() => new TextToSpeech({ engine: {} as TtsEngine })).toThrow(/synthesize/);
    expect(new TextToSpeech().engine).toBeInstanceOf(MespeakEngine);
  });

  describe('with the embedded engine', () => {
    afterAll(() => MespeakEngine.terminate());

    it('speaks real, non-silent speech at the session rate', async () => {
      const tts = new TextToSpeech();
      const session = new CrewSession();
      session.addNode(tts);
      const client = new TestClient(session, { timeout: 10000 });
      await session.start();
      session.inject(event('agent.speak', { text: 'Hello from rxcrew.' }));
      await client.next('agent.audio');
      await waitFor(() => audioBytes(client) > 16000, 'half a second of speech', 10000);
      await flush(20);
      const frames = audioFrames(client) as CrewEvent[];
      expect(frames.every((e) => e.sample_rate === 16000)).toBe(true);
      expect(rms(Buffer.concat(frames.map((e) => e.audio as Uint8Array)))).toBeGreaterThan(0.02);
      await session.stop();
    });
  });
});
