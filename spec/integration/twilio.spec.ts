import { CrewApp, CrewEvent, CrewSession, OutputCrewNode, Turn } from 'rxcrew';
import { TwilioCaller } from 'rxcrew/testing';
import { TextToSpeech, VoiceActivity } from 'rxcrew/voice';
import type { TtsEngine } from 'rxcrew/voice';
import { twilioSignature } from '../../lib/telephony/signature';
import { silentLogger, within } from './helpers';

/*
 * The Twilio transport over a real socket on 127.0.0.1, with the scripted
 * caller: pacing, marks, clear on barge-in, what the conversation keeps,
 * DTMF, stop, bad input, end_call, transfer and many calls at once.
 */

const SENTENCE_MS = 400;
/** Speech of a fixed length a sentence: a constant level, `#n` in the text picks it (so calls can be told apart). */
const engine: TtsEngine = {
  name: 'constant',
  async synthesize(text, { sampleRate }) {
    // the goodbye takes a while, as a real engine's does: agent.end_call passes TextToSpeech at once and gets there first
    if (text.startsWith('Goodbye')) await new Promise((resolve) => setTimeout(resolve, 200));
    const n = /#(\d+)/.exec(text);
    const level = n ? 1000 + 150 * Number(n[1]) : 3000;
    const pcm = Buffer.alloc((SENTENCE_MS * sampleRate * 2) / 1000);
    for (let i = 0; i < pcm.length; i += 2) pcm.writeInt16LE(level, i);
    return pcm;
  },
};

const SENTENCES = [
  'This is the first sentence of the greeting.',
  'Here comes the second sentence of it.',
  'And this is the third one, still talking.',
  'A fourth sentence follows right after that.',
  'The fifth and last sentence ends the greeting.',
];

class Agent extends OutputCrewNode {
  async *generateResponse(_turn: Turn): AsyncIterable<string> {
    yield 'A reply.';
  }
}

interface Call {
  session: CrewSession;
  agent: Agent;
  events: CrewEvent[];
  interruptAt?: number;
}

describe('Twilio transport (CrewApp twilio: true)', () => {
  let app: CrewApp;
  let url: string;
  let base: string;
  const calls = new Map<string, Call>(); // by stream_sid
  const called = new Map<string, (call: Call) => void>();

  beforeAll(async () => {
    app = new CrewApp({
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      twilio: true,
      setup: async (session) => {
        const sentences = Number(session.context.get('sentences') ?? 3);
        const caller = session.context.get('caller');
        const greeting = caller !== undefined ? `Hello caller number #${String(caller)} on the line.` : SENTENCES.slice(0, sentences).join(' ');
        const vad = new VoiceActivity();
        const agent = new Agent({ greeting });
        const tts = new TextToSpeech({ engine });
        session.addNode(vad).addNode(agent).addNode(tts);
        session.addEdge(vad, agent).addEdge(agent, tts);
        const call: Call = { session, agent, events: [] };
        for (const type of ['system.user.dtmf', 'system.user.left', 'agent.transcript.update', 'agent.transfer_call']) {
          session.onEvent(type, (_s, e) => void call.events.push(e));
        }
        session.onEvent('system.control.interrupt', () => void (call.interruptAt ??= performance.now()));
        session.onEvent('system.user.dtmf', (_s, e) => {
          if (e.digit === '#') {
            agent.speak('Goodbye then, and thanks for calling.');
            agent.endCall();
          }
          if (e.digit === '0') agent.transferCall('+15550000000');
        });
        const sid = String(session.context.get('stream_sid'));
        calls.set(sid, call);
        await session.start();
        called.get(sid)?.(call);
      },
    });
    const { port } = await app.listen();
    url = `ws://127.0.0.1:${port}/twilio`;
    base = `http://127.0.0.1:${port}`;
  });

  afterAll(() => app.close());

  async function dial(customParameters: Record<string, string> = {}): Promise<{ caller: TwilioCaller; call: Call }> {
    const caller = await TwilioCaller.connect(url, { customParameters, timeout: 5000 });
    const call = await within(new Promise<Call>((resolve) => called.set(caller.streamSid, resolve)), 'the call to start');
    return { caller, call };
  }

  /** Waits for `n` media messages. */
  async function media(caller: TwilioCaller, n: number) {
    while (caller.all('media').length < n) await caller.next('media');
    return caller.all('media');
  }

  /** Waits for `e` to be in `call.events`. */
  async function seen(call: Call, type: string): Promise<CrewEvent> {
    return within(
      (async () => {
        for (;;) {
          const e = call.events.find((x) => x.type === type);
          if (e) return e;
          await new Promise((r) => setImmediate(r));
        }
      })(),
      type,
    );
  }

  it('maps start to the session: custom parameters and the sids in context, 8 kHz both ways, user.joined', async () => {
    const { caller, call } = await dial({ from: '+15551234567', sentences: '1' });
    expect(call.session.context.get('from')).toBe('+15551234567');
    expect(call.session.context.get('call_sid')).toBe(caller.callSid);
    expect(call.session.context.get('stream_sid')).toBe(caller.streamSid);
    expect(call.session.context.get('account_sid')).toBe(caller.accountSid);
    expect(call.session.audioFormat).toEqual({ inputSampleRate: 8000, outputSampleRate: 8000 });
    await caller.stop();
  });

  it('sends the greeting as μ-law media with the stream’s streamSid, a mark after each chunk, paced at real time', async () => {
    const { caller } = await dial({ sentences: '3' });
    const frames = (3 * SENTENCE_MS) / 20;
    const got = await media(caller, frames);
    expect(got.every((m) => m.streamSid === caller.streamSid)).toBe(true);
    const audioMs = got.reduce((ms, m) => ms + m.pcm.length / 16, 0);
    expect(audioMs).toBe(3 * SENTENCE_MS);
    // every media is followed by its mark
    const kinds = caller.received.filter((e) => e.kind !== 'clear').map((e) => e.kind);
    for (let i = 0; i < frames * 2; i += 2) expect(kinds.slice(i, i + 2)).toEqual(['media', 'mark']);
    // paced: playback starts after the caller's `start`, and no chunk is sent ahead of it by more than
    // the lead. Measured from `start` (not from the first chunk, which a stalled process may read late
    // and together with the next ones), these lower bounds hold on any machine, however loaded.
    const startAt = caller.sent.find((s) => s.message.event === 'start')!.at;
    got.forEach((m, k) => expect(m.at - startAt).toBeGreaterThanOrEqual(k * 20 - 100 - 5));
    const span = got[got.length - 1].at - got[0].at;
    pacing.push(span / (audioMs - 100 - 20));
    expect(caller.problems).toEqual([]);
    await caller.stop();
  });

  it('on caller speech during the greeting: clear, no media after it, and the conversation keeps only what was played', async () => {
    const { caller, call } = await dial({ sentences: '5' });
    // a sentence and a bit has played (marks echoed by playback)
    while (caller.echoed.length < 25) await caller.next('mark');
    void caller.sendTone(300, 600, { amplitude: 0.4 });
    const clear = await caller.next('clear');
    const transcript = await seen(call, 'agent.transcript.update');
    await caller.stop();
    const clearAt = caller.received.indexOf(clear);
    expect(caller.received.slice(clearAt).some((e) => e.kind === 'media')).toBe(false);
    expect(call.interruptAt).toBeDefined();
    latencies.push(clear.at - call.interruptAt!);
    const heardMs = caller.heard().length / 16;
    const content = String(transcript.content);
    const k = SENTENCES.findIndex((_, i) => SENTENCES.slice(0, i + 1).join(' ') === content) + 1;
    expect(k).toBeGreaterThanOrEqual(1);
    expect(k).toBeLessThan(5);
    expect(k * SENTENCE_MS).toBeLessThanOrEqual(heardMs + 20);
    const assistant = call.agent.messages.filter((m) => m.role === 'assistant');
    expect(assistant).toEqual([{ role: 'assistant', content }]);
  });

  it('turns dtmf into system.user.dtmf for the hooks', async () => {
    const { caller, call } = await dial({ sentences: '1' });
    caller.dtmf('5');
    expect((await seen(call, 'system.user.dtmf')).digit).toBe('5');
    await caller.stop();
  });

  it('ends the session on stop: hooks see system.user.left', async () => {
    const { caller, call } = await dial({ sentences: '1' });
    await caller.stop();
    expect(await seen(call, 'system.user.left')).toMatchObject({ type: 'system.user.left' });
    await within(call.session.waitUntilComplete(), 'teardown');
    expect(app.sessions.has(call.session.id)).toBe(false);
  });

  it('survives malformed messages, unknown events and binary frames, counting them', async () => {
    const before = app.twilioStats!;
    const { caller, call } = await dial({ sentences: '1' });
    caller.sendRaw('not json');
    caller.sendRaw('{"event":"media","media":{}}');
    caller.sendRaw('{"event":"surprise"}');
    caller.sendRaw(Buffer.from([1, 2, 3]));
    caller.dtmf('7');
    expect((await seen(call, 'system.user.dtmf')).digit).toBe('7');
    const after = app.twilioStats!;
    expect(after.malformed - before.malformed).toBe(2);
    expect(after.unknownEvents - before.unknownEvents).toBe(1);
    expect(after.binaryFrames - before.binaryFrames).toBe(1);
    expect(call.session.state).toBe('running');
    await caller.stop();
  });

  it('on agent.end_call with nothing playing, still plays the goodbye being synthesized, then closes', async () => {
    const caller = await TwilioCaller.connect(url, { customParameters: { sentences: '1' }, marks: 'immediate', timeout: 5000 });
    await within(new Promise<Call>((resolve) => called.set(caller.streamSid, resolve)), 'the call to start');
    while (caller.all('mark').length < SENTENCE_MS / 20) await caller.next('mark'); // the greeting, every mark echoed at once
    caller.dtmf('#'); // the goodbye's audio comes 200 ms after agent.end_call
    const closed = await within(caller.closed, 'the stream to close', 8000);
    expect(closed.code).toBe(1000);
    expect(caller.all('mark')).toHaveLength((2 * SENTENCE_MS) / 20); // greeting and goodbye
    expect(caller.echoed).toHaveLength((2 * SENTENCE_MS) / 20);
  });

  it('on agent.end_call closes the stream once the audio sent has played (every mark echoed)', async () => {
    const { caller } = await dial({ sentences: '1' });
    caller.dtmf('#');
    const closed = await within(caller.closed, 'the stream to close', 8000);
    expect(closed.code).toBe(1000);
    const marks = caller.all('mark').length;
    expect(marks).toBe((2 * SENTENCE_MS) / 20); // greeting and goodbye
    expect(caller.echoed.length).toBe(marks);
  });

  it('hands agent.transfer_call to the app’s hooks with the call_sid in context', async () => {
    const { caller, call } = await dial({ sentences: '1' });
    caller.dtmf('0');
    const transfer = await seen(call, 'agent.transfer_call');
    expect(transfer.transfer_call_number).toBe('+15550000000');
    expect(call.session.context.get('call_sid')).toBe(caller.callSid);
    await caller.stop();
  });

  it('serves 200 concurrent calls without cross-talk', async () => {
    const callers = await Promise.all(Array.from({ length: 200 }, (_, n) => TwilioCaller.connect(url, { customParameters: { caller: String(n) }, timeout: 8000 })));
    await Promise.all(callers.map((c) => media(c, SENTENCE_MS / 20)));
    callers.forEach((c, n) => {
      expect(c.problems).toEqual([]);
      expect(c.all('media').every((m) => m.streamSid === c.streamSid)).toBe(true);
      const pcm = c.audio();
      const expected = 1000 + 150 * n;
      let worst = 0;
      for (let i = 0; i < pcm.length; i += 2) worst = Math.max(worst, Math.abs(pcm.readInt16LE(i) - expected));
      expect(worst).toBeLessThanOrEqual(expected * 0.04); // μ-law's step near that level
    });
    await Promise.all(callers.map((c) => c.stop()));
  });

  it('answers POST /twilio/voice with TwiML connecting to wss://HOST/twilio, call parameters included', async () => {
    const res = await fetch(`${base}/twilio/voice`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-host': 'agent.example.com' },
      body: 'From=%2B15551234567&To=%2B15557654321&CallSid=CA1',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/xml/);
    expect(await res.text()).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://agent.example.com/twilio">' +
        '<Parameter name="from" value="+15551234567"/><Parameter name="to" value="+15557654321"/></Stream></Connect></Response>',
    );
  });

  describe('with authToken', () => {
    let signed: CrewApp;
    let signedBase: string;
    beforeAll(async () => {
      signed = new CrewApp({ port: 0, host: '127.0.0.1', logger: silentLogger, setup: () => undefined, twilio: { authToken: '12345', publicUrl: 'https://agent.example.com' } });
      signedBase = `http://127.0.0.1:${(await signed.listen()).port}`;
    });
    afterAll(() => signed.close());
    const body = 'CallSid=CA1&From=%2B15551234567';
    const params = { CallSid: 'CA1', From: '+15551234567' };

    it('answers a request whose X-Twilio-Signature verifies', async () => {
      const signature = twilioSignature('12345', 'https://agent.example.com/twilio/voice', params);
      const res = await fetch(`${signedBase}/twilio/voice`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature }, body });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('<Stream url="wss://agent.example.com/twilio"><Parameter name="from" value="+15551234567"/>');
    });

    it('refuses with 403 a wrong or missing signature, or a changed body', async () => {
      const signature = twilioSignature('12345', 'https://agent.example.com/twilio/voice', params);
      const post = (headers: Record<string, string>, text = body) =>
        fetch(`${signedBase}/twilio/voice`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: text }).then((r) => r.status);
      expect(await post({})).toBe(403);
      expect(await post({ 'x-twilio-signature': twilioSignature('54321', 'https://agent.example.com/twilio/voice', params) })).toBe(403);
      expect(await post({ 'x-twilio-signature': signature }, 'CallSid=CA2&From=%2B15551234567')).toBe(403);
    });
  });

  const latencies: number[] = [];
  const pacing: number[] = [];
  afterAll(() => {
    if (pacing.length > 0) process.stdout.write(`twilio: greeting span / (audio − lead − chunk) = ${pacing.map((r) => r.toFixed(3)).join(', ')}\n`);
    if (latencies.length > 0) process.stdout.write(`twilio: clear after interrupt ${latencies.map((l) => l.toFixed(2)).join(', ')} ms\n`);
  });
});
