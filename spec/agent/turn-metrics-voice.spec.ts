import { Observable, timer, map } from 'rxjs';
import { CrewEvent, CrewNode, CrewSession, event, node, OutputCrewNode, Turn, TurnMetrics } from 'rxcrew';
import { scriptedResponder } from 'rxcrew/llm';
import { TextToSpeech, VoiceActivity } from 'rxcrew/voice';
import { testSession } from 'rxcrew/testing';
import { NO_OBSERVER, observeSession, SessionObserver } from '../../lib/internal/observer';
import type { TtsEngine, TtsSynthesisOptions } from '../../lib/tts/engine';
import { constant, silence, tone } from '../support/pcm';

// The voice figures of a turn in virtual time: text → first audio (TextToSpeech),
// user stopped speaking → first agent audio sent (the voice response), and
// interrupt → last agent audio sent (to the observer).

/** Speaks `audioMs` of a constant level per call, `delayMs` after it is called (virtual time). */
class SlowEngine implements TtsEngine {
  readonly name = 'slow';
  calls = 0;
  constructor(
    private readonly delayMs: number,
    private readonly audioMs = 100,
  ) {}
  async synthesize(_text: string, { sampleRate, signal }: TtsSynthesisOptions): Promise<Buffer> {
    this.calls++;
    if (this.delayMs === Infinity) await new Promise<void>((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    else await new Promise((r) => setTimeout(r, this.delayMs));
    return constant(1, (sampleRate * this.audioMs) / 1000);
  }
}

/** Answers with `reply`, one piece `delayMs` after the request. */
class Scripted extends OutputCrewNode {
  private readonly respond;
  constructor(reply: string, delayMs: number) {
    super();
    this.respond = scriptedResponder([{ name: 'any', when: () => true, reply }], { chunkDelayMs: delayMs, wordsPerChunk: 50 });
  }
  generateResponse(turn: Turn) {
    return this.respond(turn);
  }
}

function recorder() {
  const turns: Array<{ at: number; metrics: TurnMetrics }> = [];
  const stops: Array<{ at: number; ms: number }> = [];
  const observer: SessionObserver = {
    ...NO_OBSERVER,
    turn: (metrics) => void turns.push({ at: performance.now(), metrics: { ...metrics } }),
    interruptStopped: (ms) => void stops.push({ at: performance.now(), ms }),
  };
  return { turns, stops, observer };
}

/** agent → text-to-speech → client. */
function voiceGraph(engine: TtsEngine, observer: SessionObserver, reply = 'Hello there.', extra?: (session: CrewSession, agent: CrewNode) => void) {
  return (session: CrewSession) => {
    observeSession(session, observer);
    const agent = new Scripted(reply, 10);
    const tts = new TextToSpeech({ engine });
    session.addNode(agent).addNode(tts).addEdge(agent, tts);
    extra?.(session, agent);
  };
}

const request = (id: string): CrewEvent => ({ type: 'system.llm.request', request_id: id, messages: [{ role: 'user', content: 'hi' }] });
const stopped: CrewEvent = { type: 'system.user.stopped_speaking' };
type Frame = { frame: number; event?: CrewEvent; closed?: unknown };
const figuresOf = (frames: Frame[]) =>
  frames.filter((f) => f.event?.type === 'agent.log' && f.event.name === 'turn.metrics').map((f) => ({ at: f.frame, payload: f.event!.payload }));
const firstAudioAt = (frames: readonly Frame[]) => frames.find((f) => f.event?.type === 'agent.audio')?.frame;

describe('turn figures in a voice graph', () => {
  it('waits for the reply\'s first audio: tts_ttfb_ms and voice_response_ms (client-sent stopped_speaking)', async () => {
    const { turns, observer } = recorder();
    const { frames } = await testSession(voiceGraph(new SlowEngine(40), observer), {
      // the user stops at 5, the request at 10; the reply's one piece (and its end) at 20,
      // spoken from 20 (the sentence is complete at the end), its audio 40 ms later
      client: '-----s----q',
      values: { s: stopped, q: request('q1') },
    });
    expect(firstAudioAt(frames)).toBe(60);
    const payload = {
      request_id: 'q1',
      ttft_ms: 10,
      duration_ms: 10,
      tool_ms: 0,
      tts_ttfb_ms: 40,
      voice_response_ms: 55,
      interrupted: false,
      chunks: 1,
      outcome: 'completed',
    };
    expect(figuresOf(frames)).toEqual([{ at: 60, payload }]);
    expect(turns).toEqual([{ at: 60, metrics: payload }]);
    // the figures come after the first audio frame, not in the middle of its delivery
    const types = frames.filter((f) => f.frame === 60).map((f) => ('event' in f ? f.event.type : 'closed'));
    expect(types[0]).toBe('agent.audio');
    expect(types.indexOf('agent.log')).toBeGreaterThan(0);
  });

  it('measures the voice response from VoiceActivity\'s stopped_speaking', async () => {
    const { turns, observer } = recorder();
    const { frames } = await testSession(
      voiceGraph(new SlowEngine(30), observer, 'Hello there.', (session, agent) => {
        const vad = new VoiceActivity();
        session.addNode(vad).addEdge(vad, agent);
      }),
      {
        // 300 ms of voice then 600 ms of silence in one frame at 5: the VAD says "stopped" at 5
        client: '-----a---q',
        values: { a: { type: 'user.audio', audio: Buffer.concat([tone(300), silence(600)]), sample_rate: 16000 }, q: request('q1') },
      },
      { serialize: false }, // the audio as the binary frame it is (JSON would make it an object)
    );
    // request at 9, text and end at 19, audio at 49: 44 ms after the user stopped
    expect(firstAudioAt(frames)).toBe(49);
    expect(turns.map((t) => [t.at, t.metrics.tts_ttfb_ms, t.metrics.voice_response_ms])).toEqual([[49, 30, 44]]);
  });

  it('measures text → first audio from the first sentence given to the engine, not from the first chunk', async () => {
    const { turns, observer } = recorder();
    // a long first sentence is spoken as soon as it is complete (at the chunk, 10 ms after the request)
    await testSession(voiceGraph(new SlowEngine(25), observer, 'This first sentence is long enough to go at once. And a second.'), {
      client: '-q',
      values: { q: request('q1') },
    });
    // no stop came before it: no voice response
    expect(turns.map((t) => [t.at, t.metrics.tts_ttfb_ms, 'voice_response_ms' in t.metrics])).toEqual([[36, 25, false]]);
  });

  it('sends the figures without the voice ones after 3 s when no audio comes, and leaves no timer behind', async () => {
    const { turns, observer } = recorder();
    const { frames } = await testSession(voiceGraph(new SlowEngine(Infinity), observer), {
      client: '-----s----q',
      values: { s: stopped, q: request('q1') },
    });
    expect(figuresOf(frames)).toEqual([{ at: 3020, payload: expect.objectContaining({ request_id: 'q1', outcome: 'completed' }) }]);
    expect(turns[0].metrics).not.toHaveProperty('tts_ttfb_ms');
    expect(turns[0].metrics).not.toHaveProperty('voice_response_ms');
  });

  it('sends what is known at once when the user leaves while the figures wait (no 3 s timer keeps the test running)', async () => {
    const { turns, observer } = recorder();
    const { frames } = await testSession(voiceGraph(new SlowEngine(Infinity), observer), {
      client: '-----s----q 99ms |',
      values: { s: stopped, q: request('q1') },
    });
    expect(figuresOf(frames)).toEqual([]); // the client had gone
    expect(turns.map((t) => t.at)).toEqual([110]);
    // nothing ran after the hang-up: the wait's timer was cancelled
    expect(frames.at(-1)!.frame).toBe(110);
  });

  it('sends what is known at once on an interrupt while the figures wait', async () => {
    const { turns, observer } = recorder();
    await testSession(voiceGraph(new SlowEngine(Infinity), observer), {
      client: '-----s----q',
      interrupt: '50ms i',
      values: { s: stopped, q: request('q1') },
    });
    expect(turns.map((t) => [t.at, t.metrics.outcome])).toEqual([[50, 'completed']]);
  });

  it('does not wait for audio of a reply with nothing to say', async () => {
    const { turns, observer } = recorder();
    class Blank extends OutputCrewNode {
      async *generateResponse(): AsyncGenerator<string> {
        await new Promise((r) => setTimeout(r, 10));
        yield '  ';
      }
    }
    await testSession(
      (session) => {
        observeSession(session, observer);
        const agent = new Blank();
        const tts = new TextToSpeech({ engine: new SlowEngine(40) });
        session.addNode(agent).addNode(tts).addEdge(agent, tts);
      },
      { client: '-----s----q', values: { s: stopped, q: request('q1') } },
    );
    expect(turns.map((t) => [t.at, t.metrics.chunks, 'tts_ttfb_ms' in t.metrics])).toEqual([[20, 1, false]]);
  });

  it('sends a chat turn\'s figures at once in a graph without text-to-speech', async () => {
    const { turns, observer } = recorder();
    await testSession(
      (session) => {
        observeSession(session, observer);
        const vad = new VoiceActivity();
        const agent = new Scripted('Hello there.', 10);
        session.addNode(vad).addNode(agent).addEdge(vad, agent);
      },
      { client: '-----s----q', values: { s: stopped, q: request('q1') } },
    );
    expect(turns.map((t) => [t.at, Object.keys(t.metrics).sort()])).toEqual([
      [20, ['chunks', 'duration_ms', 'interrupted', 'outcome', 'request_id', 'tool_ms', 'ttft_ms']],
    ]);
  });
});

describe('interrupt → audio stopped', () => {
  /** Sends 100 ms frames of speech `id` at the given frames, whatever interrupts (a node that does not stop); no voice nodes. */
  const stubborn = (id: string, at: number[]) => (session: CrewSession, observer: SessionObserver) => {
    observeSession(session, observer);
    const frames = node(
      'stubborn',
      () =>
        new Observable<CrewEvent>((s) => {
          const subs = at.map((t) => timer(t).pipe(map(() => event('agent.audio', { audio: constant(1, 1600), sample_rate: 16000, speech_id: id }))).subscribe((e) => s.next(e)));
          return () => subs.forEach((sub) => sub.unsubscribe());
        }),
      { interruptible: false },
    );
    session.addNode(frames);
  };

  it('reports 0 when no audio follows an interrupt that came while audio was playing (closed at the session end)', async () => {
    const { stops, observer } = recorder();
    await testSession(voiceGraph(new SlowEngine(10, 1000), observer), {
      client: '-q',
      // the second of audio is sent at 21 (10 ms to the text, 10 to the audio) and plays until 1021
      interrupt: '500ms i',
      values: { q: request('q1') },
    });
    expect(stops).toEqual([{ at: 500, ms: 0 }]);
  });

  it('reports nothing for an interrupt while no agent audio is playing', async () => {
    const { stops, observer } = recorder();
    await testSession(voiceGraph(new SlowEngine(10, 100), observer), {
      client: '-q',
      interrupt: '500ms i', // the 100 ms of audio sent at 21 ended at 121
      values: { q: request('q1') },
    });
    expect(stops).toEqual([]);
  });

  it('reports when the last audio of the interrupted speech was sent, at the next speech\'s first audio', async () => {
    const { stops, observer } = recorder();
    await testSession(
      (session) => {
        stubborn('r1', [10, 60, 75])(session, observer);
        const later = node('later', () => timer(200).pipe(map(() => event('agent.audio', { audio: constant(2, 160), sample_rate: 16000, speech_id: 'r2' }))));
        session.addNode(later);
      },
      { interrupt: '50ms i' },
    );
    // playing since 10 (until 110) at the interrupt (50); r1 went on until 75; r2's audio at 200 closes the window
    expect(stops).toEqual([{ at: 200, ms: 25 }]);
  });

  it('closes the window at the next interrupt', async () => {
    const { stops, observer } = recorder();
    await testSession((session) => stubborn('r1', [10, 60, 300])(session, observer), { interrupt: '50ms i 99ms j' });
    // the second interrupt (150) finds audio playing again (60 → 160): a window of its own, closed at the end (300 was after it)
    expect(stops).toEqual([
      { at: 150, ms: 10 },
      { at: 300, ms: 150 },
    ]);
  });
});
