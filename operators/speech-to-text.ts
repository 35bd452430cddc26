import { asyncScheduler, Observable, SchedulerLike, Subscriber } from 'rxjs';
import { agentError } from '../lib/agent-error';
import { ErrorCodes, errorCodeOf, errorMessage, InvalidArgumentError } from '../lib/errors';
import { CrewEvent, event } from '../lib/events';
import { CrewNode, CrewNodeOptions, NodeContext } from '../lib/node';
import type { SttEngine, SttStream, SttTranscript } from '../lib/stt/engine';

export interface SpeechToTextOptions extends CrewNodeOptions {
  /** The engine, e.g. `new PulseEngine()`. Required. */
  engine: SttEngine;
  /** Language code passed to `engine.open`. Default: the engine's. */
  language?: string;
  /** Also emit partial transcripts, as `agent.log` {name: 'transcript_partial', payload: {text}}. Default false. */
  partials?: boolean;
  /** Ask the engine for a final at `system.user.stopped_speaking` (a client's or a VAD's). Default true. */
  finalizeOnStoppedSpeaking?: boolean;
  /** After a failed stream, wait this long before opening the next (ms); doubles per failure, ≤ 30 s. Default 1000. */
  retryDelayMs?: number;
  /** The clock for `retryDelayMs`. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const MAX_RETRY_DELAY_MS = 30000;

/**
 * Speech-to-text for each session: streams the user's audio to an `SttEngine`
 * and turns what it finally heard into a turn of the conversation. For each
 * non-empty final transcript it injects, at the root and in this order,
 * `agent.transcript.update` {role: 'user', content} and `system.llm.request` —
 * injected because the agent is usually a separate branch of the graph.
 *
 * Per session, the engine stream opens on the first `user.audio`, at that
 * event's `sample_rate` (a new rate reopens it), and closes gracefully at
 * `system.user.left` or when the input completes. A failure (bad key, network,
 * server error) is reported as `agent.error` {severity: 'warning', payload.code:
 * the `SttError` code, or `CREW_ERR_STT_FAILED` for an error with no rxcrew
 * code}; the next audio after `retryDelayMs` opens a new stream,
 * audio in between is dropped.
 *
 * It is a side branch: `user.audio` is consumed and nothing else passes through;
 * it emits only its own reports (errors and, with `partials`, partial
 * transcripts). Add it as a root child with no children.
 *
 * ```
 * input:  a a a a a … (final "hello" from the engine)
 * output: (nothing)          injected at the root: transcript.update "hello", llm.request
 * ```
 */
export class SpeechToText extends CrewNode {
  private readonly engine: SttEngine;
  private readonly language?: string;
  private readonly partials: boolean;
  private readonly finalizeOnStop: boolean;
  private readonly retryDelayMs: number;
  private readonly scheduler: SchedulerLike;

  constructor(options: SpeechToTextOptions) {
    super(options);
    if (typeof options?.engine?.open !== 'function') {
      throw new InvalidArgumentError('SpeechToText: engine must be an SttEngine (an object with open()), e.g. new PulseEngine()');
    }
    const retryDelayMs = options.retryDelayMs ?? 1000;
    if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) {
      throw new InvalidArgumentError(`SpeechToText: retryDelayMs must be a number ≥ 0, got ${String(options.retryDelayMs)}`);
    }
    this.engine = options.engine;
    this.language = options.language;
    this.partials = options.partials ?? false;
    this.finalizeOnStop = options.finalizeOnStoppedSpeaking ?? true;
    this.retryDelayMs = retryDelayMs;
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    const { engine, language, partials, finalizeOnStop, retryDelayMs, scheduler } = this;
    const nodeName = this.name;
    // per-session state; it survives a resubscription after an error
    let out: Subscriber<CrewEvent> | undefined;
    let stream: SttStream | undefined;
    let streamRate = 0;
    let failures = 0;
    let retryAt = -Infinity;
    let ended = false;

    const heard = (t: SttTranscript): void => {
      failures = 0;
      const text = t.text.trim();
      if (text === '') return;
      if (t.isFinal) {
        ctx.session.inject(event('agent.transcript.update', { role: 'user', content: text }));
        ctx.session.inject(event('system.llm.request'));
      } else if (partials) {
        out?.next(event('agent.log', { name: 'transcript_partial', payload: { text } }));
      }
    };

    const failed = (from: SttStream | undefined, err: unknown): void => {
      if (from !== undefined && from !== stream) return; // an old stream, already replaced
      stream = undefined;
      failures++;
      retryAt = scheduler.now() + Math.min(retryDelayMs * 2 ** (failures - 1), MAX_RETRY_DELAY_MS);
      // the engine's own code (an SttError's, say) tells auth from network; an uncoded failure is STT_FAILED
      const code = errorCodeOf(err, ErrorCodes.STT_FAILED);
      const message = errorMessage(ErrorCodes.STT_FAILED, { node_name: nodeName, cause: err });
      out?.next(agentError(code, err, { message, details: { node_name: nodeName } }));
    };

    const open = (rate: number): void => {
      let opened: SttStream;
      try {
        opened = engine.open({ sampleRate: rate, language });
      } catch (err) {
        failed(undefined, err);
        return;
      }
      stream = opened;
      streamRate = rate;
      opened.transcripts.subscribe({
        next: heard,
        error: (err: unknown) => failed(opened, err),
        complete: () => {
          if (stream === opened) stream = undefined;
        },
      });
    };

    const close = (): void => {
      const closing = stream;
      stream = undefined;
      if (closing) void closing.close();
    };

    const audio = (e: CrewEvent): void => {
      if (ended || !(e.audio instanceof Uint8Array)) return;
      const rate = typeof e.sample_rate === 'number' ? e.sample_rate : ctx.session.audioFormat.inputSampleRate;
      if (stream !== undefined && rate !== streamRate) close();
      if (stream === undefined) {
        if (scheduler.now() < retryAt) return;
        open(rate);
      }
      stream?.write(e.audio);
    };

    return new Observable<CrewEvent>((subscriber) => {
      out = subscriber;
      const upstream = input$.subscribe({
        next: (e) => {
          if (e.type === 'user.audio') audio(e);
          else if (e.type === 'system.user.stopped_speaking' && finalizeOnStop) stream?.finalize();
          else if (e.type === 'system.user.left') {
            ended = true;
            close();
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          ended = true;
          close();
          subscriber.complete();
        },
      });
      return () => {
        upstream.unsubscribe();
        if (out === subscriber) out = undefined;
      };
    });
  }
}
