import type { CrewSession } from '../session';

/**
 * What the client is playing, as the session's audio pacer knows it: until
 * when (on the scheduler's clock, ms) the agent audio already sent will play.
 * A voice-activity node reads it to tell barge-in (user speech over the agent)
 * from ordinary turn taking.
 */
export class PlaybackState {
  /** When the audio sent so far finishes playing (ms, the pacer's clock). */
  playingUntil = -Infinity;
  /** The pacer's clock; the one `isPlaying()` compares against. */
  now: () => number = () => performance.now();

  isPlaying(at: number = this.now()): boolean {
    return at < this.playingUntil;
  }

  /** Forget what was playing (an interrupt flushed it). */
  clear(): void {
    this.playingUntil = -Infinity;
  }
}

const states = new WeakMap<CrewSession, PlaybackState>();

/** The playback state of `session` (one per session, made on first use). */
export function playbackOf(session: CrewSession): PlaybackState {
  let state = states.get(session);
  if (state === undefined) {
    state = new PlaybackState();
    states.set(session, state);
  }
  return state;
}
