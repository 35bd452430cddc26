import { ignoreElements, Subject, tap } from 'rxjs';
import { CrewEvent, CrewSession, ErrorCodes, node } from 'rxcrew';
import { SpeechToText, SpeechToTextOptions } from 'rxcrew/operators';
import { TestClient } from 'rxcrew/testing';
import { PulseEngine } from '../../lib/stt/pulse-engine';
import { SttErrorCodes } from '../../lib/stt/errors';
import type { SttEngine, SttOpenOptions, SttTranscript } from '../../lib/stt/engine';
import { frames, silence, tone } from '../support/pcm';
import { FakePulse, FakePulseOptions, startFakePulse } from '../stt/support/fake-pulse';

let fake: FakePulse | undefined;

afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A session with SpeechToText on a fake Pulse, an agent stand-in beside it, and a hook on everything. */
async function setup(fakeOptions: FakePulseOptions = {}, options: Partial<SpeechToTextOptions> = {}) {
  fake = await startFakePulse(fakeOptions);
  const engine = new PulseEngine({ apiKey: 'sk_test', baseURL: fake.url });
  const session = new CrewSession({ limits: { maxAudioFramesPerSecond: 10000 } });
  const agentSaw: CrewEvent[] = [];
  const agent = node('agent', (input$) => input$.pipe(tap((e) => agentSaw.push(e)), ignoreElements()));
  session.addNode(new SpeechToText({ engine, ...options })).addNode(agent);
  const hooked: CrewEvent[] = [];
  session.onEvent('*', (_s, e) => void hooked.push(e));
  const client = new TestClient(session);
  return { session, client, agentSaw, hooked, fake };
}

function speak(client: TestClient, pcm: Buffer): void {
  for (const frame of frames(pcm)) client.send(frame);
}

const turnTypes = ['agent.transcript.update', 'system.llm.request'];

describe('SpeechToText with Pulse (fake)', () => {
  it('injects the final transcript, then an LLM request, where hooks and the agent see them', async () => {
    const { session, client, agentSaw, hooked } = await setup({ finalAfterSpeechBytes: 3200 });
    await session.start();
    speak(client, Buffer.concat([tone(100), silence(60)]));
    await waitFor(() => agentSaw.some((e) => e.type === 'system.llm.request'), 'the request');
    const turn = hooked.filter((e) => turnTypes.includes(e.type));
    expect(turn).toEqual([
      { type: 'agent.transcript.update', role: 'user', content: 'hello there', timestamp: expect.any(String) },
      { type: 'system.llm.request', timestamp: expect.any(String) },
    ]);
    expect(agentSaw.filter((e) => turnTypes.includes(e.type))).toEqual(turn);
    // the audio went to Pulse, not back to the client; the node itself sent nothing
    expect(fake!.connections[0].audio).toHaveLength(8);
    expect(client.received.map((e) => e.type)).toEqual(['agent.ready']);
    await session.stop();
  });

  it('opens the stream at the first audio, at its sample rate', async () => {
    const { session, client } = await setup();
    client.send({ type: 'system.init', version: '1', session_context: { initial_variables: {}, conversation_type: 'webcall' }, audio: { input_sample_rate: 8000 } });
    await session.start();
    client.send({ type: 'agent.transcript.update', role: 'user', content: 'typed' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fake!.requests).toEqual([]);
    client.send(tone(20, 8000));
    const connection = await fake!.connection();
    expect(connection.query.get('sample_rate')).toBe('8000');
    await session.stop();
  });

  it('asks for a final at system.user.stopped_speaking', async () => {
    const { session, client, agentSaw } = await setup({ utterances: ['book a table'] });
    await session.start();
    speak(client, tone(60));
    client.send({ type: 'system.user.stopped_speaking' });
    await waitFor(() => agentSaw.some((e) => e.type === 'agent.transcript.update'), 'the transcript');
    expect(fake!.connections[0].controls).toEqual(['{"type":"finalize"}']);
    expect(agentSaw.find((e) => e.type === 'agent.transcript.update')).toMatchObject({ content: 'book a table' });
    await session.stop();
  });

  it('ignores empty finals, and emits partials as agent.log when asked', async () => {
    const { session, client, agentSaw } = await setup({}, { partials: true });
    await session.start();
    speak(client, silence(60));
    client.send({ type: 'system.user.stopped_speaking' });
    await waitFor(() => fake!.connections[0]?.sent.some((m) => m.is_final === true), 'the empty final');
    speak(client, tone(40));
    await client.next((e) => e.type === 'agent.log' && (e.payload as { text: string }).text === 'hello there');
    expect(client.all('agent.log')[0]).toMatchObject({ name: 'transcript_partial', payload: { text: 'hello' } });
    expect(agentSaw.filter((e) => turnTypes.includes(e.type))).toEqual([]);
    await session.stop();
  });

  it('closes the stream gracefully when the user leaves', async () => {
    const { session, client } = await setup();
    await session.start();
    speak(client, tone(40));
    const connection = await fake!.connection();
    await waitFor(() => connection.audio.length === 2, 'the audio');
    await session.stop();
    expect(await connection.closed).toBe(1000);
    expect(connection.controls).toEqual(['{"type":"close_stream"}']);
  });

  it('reports a refused key as agent.error and tries again on later audio, backing off', async () => {
    let now = 0;
    const scheduler = { now: () => now, schedule: () => undefined } as unknown as SpeechToTextOptions['scheduler'];
    const { session, client } = await setup({ apiKey: 'sk_other' }, { scheduler, retryDelayMs: 1000 });
    await session.start();
    client.send(tone(20));
    const error = await client.next('agent.error');
    expect(error).toMatchObject({
      severity: 'warning',
      payload: { code: SttErrorCodes.AUTH, node_name: 'SpeechToText', error_class: 'SttError' },
    });
    now = 999;
    client.send(tone(20)); // too soon: dropped
    now = 1000;
    client.send(tone(20)); // opens a new stream
    await client.next('agent.error');
    expect(fake!.requests.map((r) => r.status)).toEqual([401, 401]);
    now = 2999; // the second failure doubled the wait
    client.send(tone(20));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(fake!.requests).toHaveLength(2);
    expect(session.state).toBe('running');
    await session.stop();
  });
});

describe('SpeechToText', () => {
  /** An engine whose streams the test drives by hand. */
  class ScriptedEngine implements SttEngine {
    opened: Array<{ options: SttOpenOptions; written: number; closed: boolean; says: Subject<SttTranscript> }> = [];
    open(options: SttOpenOptions) {
      const entry = { options, written: 0, closed: false, says: new Subject<SttTranscript>() };
      this.opened.push(entry);
      return {
        transcripts: entry.says.asObservable(),
        write: () => void entry.written++,
        finalize: () => undefined,
        close: async () => {
          entry.closed = true;
          entry.says.complete();
        },
      };
    }
  }

  it('reopens the stream when the sample rate changes, and trims what it injects', async () => {
    const engine = new ScriptedEngine();
    const stt = new SpeechToText({ engine, language: 'de' });
    const session = new CrewSession();
    session.addNode(stt);
    const turn: CrewEvent[] = [];
    session.onEvent('*', (_s, e) => void (turnTypes.includes(e.type) && turn.push(e)));
    const client = new TestClient(session);
    await session.start();
    client.send(tone(20));
    session.inject({ type: 'user.audio', audio: tone(20, 48000), sample_rate: 48000 });
    expect(engine.opened.map((o) => [o.options.sampleRate, o.options.language, o.written, o.closed])).toEqual([
      [16000, 'de', 1, true],
      [48000, 'de', 1, false],
    ]);
    engine.opened[1].says.next({ text: '  guten tag ', isFinal: true });
    expect(turn.map((e) => [e.type, e.content])).toEqual([
      ['agent.transcript.update', 'guten tag'],
      ['system.llm.request', undefined],
    ]);
    expect(client.received.map((e) => e.type)).toEqual(['agent.ready']);
    await session.stop();
    expect(engine.opened[1].closed).toBe(true);
  });

  it('reports an engine whose open() throws (CREW_ERR_STT_FAILED), and goes on', async () => {
    const engine: SttEngine = {
      open: () => {
        throw new Error('no device');
      },
    };
    const session = new CrewSession();
    session.addNode(new SpeechToText({ engine, retryDelayMs: 0 }));
    const client = new TestClient(session);
    await session.start();
    client.send(tone(20));
    client.send(tone(20));
    expect(client.all('agent.error').map((e) => e.message)).toEqual(['speech-to-text failed: no device', 'speech-to-text failed: no device']);
    // an error with no rxcrew code of its own is reported as CREW_ERR_STT_FAILED
    expect(client.all('agent.error')[0].payload).toEqual({ code: ErrorCodes.STT_FAILED, error_class: 'Error', message: 'no device', node_name: 'SpeechToText' });
    await session.stop();
  });

  it('needs an engine', () => {
    expect(() => new SpeechToText({} as SpeechToTextOptions)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => new SpeechToText({ engine: new ScriptedEngine(), retryDelayMs: -1 })).toThrow(/retryDelayMs/);
  });
});
