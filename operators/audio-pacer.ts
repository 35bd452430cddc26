import { asyncScheduler, Observable, SchedulerLike, Subscription } from 'rxjs';
import { pcmDurationMs } from '../lib/audio/format';
import { playbackOf } from '../lib/audio/playback';
import { CrewEvent, event } from '../lib/events';
import { CrewNode, CrewNodeOptions, NodeContext } from '../lib/node';

export interface AudioPacerOptions extends CrewNodeOptions {
  /** How far ahead of the client's playback audio may be sent (ms). Default 200. */
  leadMs?: number;
  /** The clock and timers; a `TestScheduler` runs it in virtual time. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Sends `agent.audio` at real time with a small lead, instead of all at once,
 * so that an interrupt can still take back what the user has not heard: on
 * `system.control.interrupt` the audio not yet sent is dropped at once, and
 * if any was playing or waiting the client gets `agent.control.interrupt` to
 * clear its own buffer (at most `leadMs` of audio). Other events pass straight
 * through. Place it last before the sink, after text-to-speech.
 *
 * It records what the client is playing in `playbackOf(session)`, which
 * barge-in detection reads. With `interruptible: false` (the runtime then gives
 * it an `interrupt$` that never emits) it paces everything it gets.
 *
 * ```
 * input:  (abcd) 44ms i          a…d: 100 ms of audio each; i: interrupt at 50 ms
 * output: (abc) 45ms (xi)       (leadMs 200) d would wait until 100 ms: dropped; x: agent.control.interrupt
 * ```
 */
export class AudioPacer extends CrewNode {
  private readonly leadMs: number;
  private readonly scheduler: SchedulerLike;

  constructor(options: AudioPacerOptions = {}) {
    super(options);
    this.leadMs = options.leadMs ?? 200;
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    const { leadMs, scheduler } = this;
    return new Observable<CrewEvent>((subscriber) => {
      const playback = playbackOf(ctx.session);
      playback.now = () => scheduler.now();
      let queue: CrewEvent[] = [];
      let timer: Subscription | undefined;

      const pump = (): void => {
        timer = undefined;
        const now = scheduler.now();
        while (queue.length > 0 && playback.playingUntil - now <= leadMs) {
          const audio = queue.shift()!;
          const bytes = (audio.audio as Uint8Array).length;
          const rate = (audio.sample_rate as number | undefined) ?? ctx.session.audioFormat.outputSampleRate;
          playback.playingUntil = Math.max(now, playback.playingUntil) + pcmDurationMs(bytes, rate);
          subscriber.next(audio);
        }
        // the loop stopped because more than leadMs is ahead: wake when exactly leadMs is
        if (queue.length > 0) timer = scheduler.schedule(pump, playback.playingUntil - leadMs - now);
      };

      const interruption = ctx.interrupt$.subscribe(() => {
        const heard = queue.length > 0 || playback.isPlaying();
        queue = [];
        timer?.unsubscribe();
        timer = undefined;
        playback.clear();
        if (heard) subscriber.next(event('agent.control.interrupt'));
      });

      const upstream = input$.subscribe({
        next: (e) => {
          if (e.type !== 'agent.audio' || !(e.audio instanceof Uint8Array)) {
            subscriber.next(e);
            return;
          }
          queue.push(e);
          if (timer === undefined) pump();
        },
        error: (err) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });

      return () => {
        interruption.unsubscribe();
        upstream.unsubscribe();
        timer?.unsubscribe();
        queue = [];
      };
    });
  }
}
