import { randomUUID } from 'node:crypto';
import { Observable, Subject } from 'rxjs';
import { pcmBytes } from '../lib/audio/format';
import { agentError } from '../lib/agent-error';
import { ErrorCodes, errorCodeOf, errorMessage, InvalidArgumentError } from '../lib/errors';
import { CrewEvent, event } from '../lib/events';
import { CrewNode, CrewNodeOptions, NodeContext } from '../lib/node';
import { pcmPiecesOf, TtsEngine } from '../lib/tts/engine';
import { MespeakEngine } from '../lib/tts/mespeak-engine';
import { SentenceSplitter, splitSentences } from '../lib/tts/sentences';
import { interruptibleConcatMap } from '../lib/interruptible-concat-map';
import { VoiceClock, voiceClockOf } from '../lib/audio/voice-clock';

export interface TextToSpeechOptions extends CrewNodeOptions {
  /** The speech engine. Default: a `MespeakEngine` (embedded, offline). */
  engine?: TtsEngine;
  /** A sentence shorter than this is joined to the next before it is spoken. Default 20. */
  minSentenceChars?: number;
  /** Text with no sentence end is cut (at a comma or space) past this many characters. Default 250. */
  maxSentenceChars?: number;
  /** Length of each `agent.audio` event (ms). Default 20. */
  frameMs?: number;
}

/**
 * Speaks what the agent says: `agent.speak` text, and streamed replies
 * (`agent.llm.response.start`, `chunk`s, `end`) cut into sentences so that
 * speech starts when the first sentence is complete, not when the reply is.
 * Every event passes through unchanged (the client still gets the text); the
 * speech follows as `agent.audio` {audio, sample_rate} events of `frameMs`,
 * PCM16 at the session's `audioFormat.outputSampleRate`, sentence after
 * sentence in order. Place it before an `AudioPacer`. Each frame carries
 * `speech_id` (the reply's `request_id`, or an id of its own for an
 * `agent.speak`), and the last frame of a sentence carries its `text`: a
 * transport that knows what played (the Twilio one, by marks) can tell the
 * agent which sentences the user heard.
 *
 * On `system.control.interrupt` the sentence being synthesized is aborted (its
 * engine call gets the signal), queued sentences and the text of the reply
 * still held back are dropped, and the rest of that reply is not spoken. An
 * engine failure becomes an `agent.error` warning (payload.code the engine
 * error's code, e.g. `CREW_ERR_TTS_HTTP`, or `CREW_ERR_TTS_FAILED` for an error
 * with no rxcrew code); the next sentence is spoken.
 *
 * Each reply's first sentence given to the engine → its first frame is recorded
 * on the session's voice clock (`tts_ttfb_ms` of the turn's `turn.metrics`), and
 * its presence makes `OutputCrewNode` wait for the reply's voice figures.
 *
 * ```
 * input:  s--c------c----e         s: start, c: chunks "Hello there, friend. How", " are you?", e: end
 * output: s--c-~~aaa-c---e~~aaa    aaa: agent.audio of "Hello there, friend." (the rest at the end)
 * ```
 *
 * @example
 * session.addNode(agent).addNode(tts).addNode(pacer);
 * session.addEdge(agent, tts).addEdge(tts, pacer);
 */
export class TextToSpeech extends CrewNode {
  readonly engine: TtsEngine;
  readonly frameMs: number;
  private readonly splitterOptions: { minChars?: number; maxChars?: number };

  constructor(options: TextToSpeechOptions = {}) {
    super(options);
    this.frameMs = options.frameMs ?? 20;
    if (typeof this.frameMs !== 'number' || !(this.frameMs >= 5 && this.frameMs <= 1000)) {
      throw new InvalidArgumentError(`TextToSpeech: frameMs must be from 5 to 1000, got ${String(options.frameMs)}`);
    }
    if (options.engine !== undefined && typeof options.engine?.synthesize !== 'function') {
      throw new InvalidArgumentError('TextToSpeech: engine must have a synthesize(text, options) method');
    }
    this.splitterOptions = { minChars: options.minSentenceChars, maxChars: options.maxSentenceChars };
    new SentenceSplitter(this.splitterOptions); // checks the options now rather than in each session
    this.engine = options.engine ?? new MespeakEngine();
  }

  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    return new Observable<CrewEvent>((subscriber) => {
      const reply = new SentenceSplitter(this.splitterOptions); // the streamed reply's unfinished sentence
      let muted = false; // an interrupt silences the rest of the reply it cut
      const sentences = new Subject<Sentence>();
      let speechId = ''; // the reply being spoken
      let spoken = 0; // sentences of that reply queued
      const voice = voiceClockOf(ctx.session);
      voice.speaks = true;
      const timing = new FirstAudio(voice);

      const audio = sentences
        .pipe(interruptibleConcatMap((s, signal) => this.speech(s, signal, ctx, timing), ctx.interrupt$))
        .subscribe({ next: (e) => subscriber.next(e), error: (err) => subscriber.error(err), complete: () => subscriber.complete() });
      const interruption = ctx.interrupt$.subscribe(() => {
        reply.reset();
        muted = true;
      });
      const upstream = input$.subscribe({
        next: (e) => {
          subscriber.next(e);
          let texts: string[] = [];
          let id = speechId;
          if (e.type === 'agent.speak' && typeof e.text === 'string') {
            texts = splitSentences(e.text, this.splitterOptions);
            id = randomUUID();
          } else if (e.type === 'agent.llm.response.start') {
            reply.reset();
            muted = false;
            id = speechId = typeof e.request_id === 'string' ? e.request_id : randomUUID();
            spoken = 0;
            timing.reply(id);
          } else if (e.type === 'agent.llm.response.chunk' && typeof e.text === 'string') {
            if (!muted) texts = reply.push(e.text);
          } else if (e.type === 'agent.llm.response.end') {
            if (!muted && e.interrupted !== true) texts = reply.flush();
            reply.reset();
            muted = false;
            if (spoken + texts.length === 0) voice.silent(id);
          }
          if (id === speechId) spoken += texts.length;
          for (const text of texts) sentences.next({ text, id });
        },
        error: (err) => subscriber.error(err),
        complete: () => sentences.complete(), // the audio completes once the queue is spoken
      });

      return () => {
        upstream.unsubscribe();
        interruption.unsubscribe();
        audio.unsubscribe();
      };
    });
  }

  /** One sentence's audio, in frames; a failure becomes an `agent.error` warning. */
  private speech({ text, id }: Sentence, signal: AbortSignal, ctx: NodeContext, timing: FirstAudio): Observable<CrewEvent> {
    return new Observable<CrewEvent>((subscriber) => {
      const rate = ctx.session.audioFormat.outputSampleRate;
      const frames = new PcmFramer(pcmBytes(this.frameMs, rate));
      timing.synthesizing(id);
      // one frame is held back, so that the sentence's last one can carry its text
      let held: Buffer | undefined;
      const send = (audio: Buffer) => {
        if (held) {
          timing.audio(id);
          subscriber.next(event('agent.audio', { audio: held, sample_rate: rate, speech_id: id }));
        }
        held = audio;
      };
      const run = async () => {
        for await (const piece of pcmPiecesOf(this.engine.synthesize(text, { sampleRate: rate, signal }))) {
          if (signal.aborted) return; // also returns the engine's iterator, ending its work
          frames.push(piece).forEach(send);
        }
        const last = frames.flush();
        if (last) send(last);
        if (held && !signal.aborted) {
          timing.audio(id);
          subscriber.next(event('agent.audio', { audio: held, sample_rate: rate, speech_id: id, text }));
        }
      };
      run().then(
        () => subscriber.complete(),
        (err: unknown) => {
          if (!signal.aborted) subscriber.next(this.failure(err));
          subscriber.complete();
        },
      );
    });
  }

  /** The engine's own code (a `LightningError`'s) when it has one, else `CREW_ERR_TTS_FAILED`. */
  private failure(err: unknown): CrewEvent {
    const details = { node_name: this.name, engine: this.engine.name };
    const message = errorMessage(ErrorCodes.TTS_FAILED, { ...details, cause: err });
    return agentError(errorCodeOf(err, ErrorCodes.TTS_FAILED), err, { message, details });
  }
}

/**
 * Times a reply's text → first audio for the session's voice clock: from its
 * first sentence given to the engine to its first frame (once per reply).
 */
class FirstAudio {
  private id: string | undefined;
  private startedAt: number | undefined;

  constructor(private readonly voice: VoiceClock) {}

  /** A reply begins (its `request_id`). */
  reply(id: string): void {
    this.id = id;
    this.startedAt = undefined;
  }

  synthesizing(id: string): void {
    if (id === this.id && this.startedAt === undefined) this.startedAt = this.voice.now();
  }

  audio(id: string): void {
    if (id !== this.id || this.startedAt === undefined) return;
    this.id = undefined;
    this.voice.ttsFirstAudio(id, this.voice.now() - this.startedAt);
  }
}

/** A sentence to speak, and the speech (reply or `agent.speak`) it belongs to. */
interface Sentence {
  text: string;
  id: string;
}

/**
 * Cuts PCM arriving in pieces of any size into frames of `frameBytes` (whole
 * samples); the remainder waits for the next piece, and `flush` returns it.
 */
class PcmFramer {
  private rest: Buffer = Buffer.alloc(0);

  constructor(private readonly frameBytes: number) {}

  push(piece: Uint8Array): Buffer[] {
    // one copy a piece (an engine may reuse its buffer); the frames and the rest are views of it
    const bytes = Buffer.concat([this.rest, piece]);
    const frames: Buffer[] = [];
    let offset = 0;
    for (; offset + this.frameBytes <= bytes.length; offset += this.frameBytes) {
      frames.push(bytes.subarray(offset, offset + this.frameBytes));
    }
    this.rest = bytes.subarray(offset);
    return frames;
  }

  /** The last, shorter frame (whole samples only), if any. */
  flush(): Buffer | undefined {
    const rest = this.rest.subarray(0, this.rest.length - (this.rest.length % 2));
    this.rest = Buffer.alloc(0);
    return rest.length > 0 ? rest : undefined;
  }
}
