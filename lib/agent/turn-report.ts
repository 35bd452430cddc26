import type { SchedulerLike, Subscription } from 'rxjs';
import { existingVoiceClockOf } from '../audio/voice-clock';
import { CrewEvent, event } from '../events';
import { observerOf } from '../internal/observer';
import type { CrewSession } from '../session';
import { TURN_METRICS_LOG, TurnMetrics } from '../turn-metrics';
import { ms } from './turn-measure';

/** A turn whose figures wait for the voice ones. */
interface Waiting {
  readonly metrics: TurnMetrics;
  readonly timer: Subscription;
}

/**
 * Sends each turn's figures — one `agent.log` {name: 'turn.metrics', payload} —
 * and gives them to the session's observer. In a voice graph (a `TextToSpeech`
 * registered on the session's voice clock) a completed turn's figures wait for
 * its reply's text → first audio and, when the user's stop still waits for an
 * answer, stop → first audio sent: until both are known, `waitMs` has passed,
 * an interrupt comes or the session ends (then with what is known). Other turns'
 * figures go at once. `dispose()` drops what waits and its timers.
 */
export class TurnReporter {
  private waiting: Waiting[] = [];
  private stopListening: (() => void) | undefined;
  private checkQueued = false;

  constructor(
    private readonly session: CrewSession,
    private readonly scheduler: SchedulerLike,
    private readonly waitMs: number,
    /** Sends an event later (the node's output). */
    private readonly emit: (e: CrewEvent) => void,
  ) {}

  /** A turn ended: its `agent.log` to send right after its end, or undefined when it waits (it is sent later). */
  ended(metrics: TurnMetrics): CrewEvent | undefined {
    const voice = existingVoiceClockOf(this.session);
    if (metrics.outcome !== 'completed' || metrics.chunks === 0 || voice?.speaks !== true || this.settled(metrics.request_id)) {
      return this.report(metrics);
    }
    const timer = this.scheduler.schedule(() => this.send(metrics), this.waitMs);
    this.waiting.push({ metrics, timer });
    this.stopListening ??= voice.onChange(() => this.checkSoon());
    return undefined;
  }

  /** Sends what waits, with the figures known so far (an interrupt, or the user left). */
  flush(): void {
    for (const w of [...this.waiting]) this.send(w.metrics);
  }

  dispose(): void {
    for (const w of this.waiting) w.timer.unsubscribe();
    this.waiting = [];
    this.stopListening?.();
    this.stopListening = undefined;
  }

  /** Whether the voice figures of reply `id` are known (or will not come). */
  private settled(id: string): boolean {
    const voice = existingVoiceClockOf(this.session)!;
    const speech = voice.figures(id);
    const tts = speech !== undefined && (speech.ttsTtfbMs !== undefined || speech.silent);
    const response = !voice.awaitingResponse || (speech !== undefined && (speech.audioSent || speech.silent));
    return tts && response;
  }

  /**
   * Checks once the delivery in progress is over: a figure is recorded while an
   * audio frame is being delivered, and the figures must not overtake that frame.
   */
  private checkSoon(): void {
    if (this.checkQueued) return;
    this.checkQueued = true;
    queueMicrotask(() => {
      this.checkQueued = false;
      this.check();
    });
  }

  private check(): void {
    for (const w of [...this.waiting]) if (this.settled(w.metrics.request_id)) this.send(w.metrics);
  }

  private send(metrics: TurnMetrics): void {
    const i = this.waiting.findIndex((w) => w.metrics === metrics);
    if (i === -1) return;
    this.waiting[i].timer.unsubscribe();
    this.waiting.splice(i, 1);
    if (this.waiting.length === 0) {
      this.stopListening?.();
      this.stopListening = undefined;
    }
    this.emit(this.report(metrics));
  }

  /** The figures with the voice ones known, to the observer; the event that carries them. */
  private report(metrics: TurnMetrics): CrewEvent {
    const speech = existingVoiceClockOf(this.session)?.figures(metrics.request_id);
    if (speech?.ttsTtfbMs !== undefined) metrics.tts_ttfb_ms = ms(speech.ttsTtfbMs);
    if (speech?.voiceResponseMs !== undefined) metrics.voice_response_ms = ms(speech.voiceResponseMs);
    observerOf(this.session).turn(metrics);
    return event('agent.log', { name: TURN_METRICS_LOG, payload: metrics });
  }
}
