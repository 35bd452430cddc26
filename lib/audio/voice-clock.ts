import type { CrewEvent } from '../events';
import { observerOf } from '../internal/observer';
import type { CrewSession } from '../session';
import { pcmDurationMs } from './format';

/** What is known of one speech (a reply, by its `request_id`, or an `agent.speak`). */
interface Speech {
  /** Its first sentence given to the engine → its first audio frame (ms). */
  ttsTtfbMs?: number;
  /** The user stopped speaking → its first audio frame sent to the client (ms). */
  voiceResponseMs?: number;
  /** Whether any of its audio has been sent. */
  audioSent: boolean;
  /** Text-to-speech will make no audio for it (the reply had nothing to say). */
  silent: boolean;
}

/** Speeches remembered (the latest ones): a turn's figures are read right after its reply. */
const KEPT_SPEECHES = 8;

/**
 * A session's voice timings, written by the parts of a voice graph and read by
 * `OutputCrewNode` for its turn figures: `TextToSpeech` registers (`speaks`)
 * and reports each reply's text → first audio; `VoiceActivity` (or the client)
 * reports the user stopping; the runtime reports every `agent.audio` it writes
 * to the client and every interrupt. All on one clock, the session's (`now`).
 *
 * The voice response of a stop is the first audio of a speech other than the one
 * being sent when the user stopped (audio of an old reply still going out does
 * not count). An interrupt while agent audio is still playing (by the duration
 * of what was sent) opens a window: the last audio of that speech sent after the
 * interrupt is when the audio stopped (the interrupt itself, if none was). The
 * window is closed, and `interruptStopped` reported to the session's observer,
 * at the next interrupt, at the first audio of another speech, or at the
 * session's end. Work per audio frame: a few comparisons and a sum.
 */
export class VoiceClock {
  /** The session's clock (the runtime sets it when the session starts). */
  now: () => number = () => performance.now();
  /** Whether a node speaks replies (`TextToSpeech`): turn figures then wait for the voice ones. */
  speaks = false;
  private readonly speeches = new Map<string, Speech>();
  /** Speech id of the audio sent last. */
  private lastSpeech: unknown;
  /** Until when (on `now`) the audio sent so far plays at the client. */
  private playingUntil = -Infinity;
  /** When the user last stopped speaking, until a speech's first audio answers it. */
  private stoppedAt: number | undefined;
  private speechAtStop: unknown;
  /** An interrupt's window, open until it is closed (see the class). */
  private interruptAt: number | undefined;
  private speechAtInterrupt: unknown;
  private lastAudioAfterInterrupt: number | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly session: CrewSession) {}

  /** The user stopped speaking (a `system.user.stopped_speaking`). */
  userStopped(): void {
    this.stoppedAt = this.now();
    this.speechAtStop = this.lastSpeech;
  }

  /** Whether the user's last stop still waits for the agent's answering audio. */
  get awaitingResponse(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** `TextToSpeech`: the first audio of speech `id` came `ms` after its first text went to the engine. */
  ttsFirstAudio(id: string, ms: number): void {
    this.speech(id).ttsTtfbMs = ms;
    this.changed();
  }

  /** `TextToSpeech`: speech `id` (a reply) ended with nothing to say. */
  silent(id: string): void {
    this.speech(id).silent = true;
    this.changed();
  }

  /** The runtime wrote `audio` (an `agent.audio`) to the client. */
  audioSent(audio: CrewEvent, outputRate: number): void {
    const id = audio.speech_id;
    const now = this.now();
    const bytes = audio.audio instanceof Uint8Array ? audio.audio.length : 0;
    const rate = typeof audio.sample_rate === 'number' ? audio.sample_rate : outputRate;
    this.playingUntil = Math.max(now, this.playingUntil) + pcmDurationMs(bytes, rate);
    if (this.interruptAt !== undefined) {
      if (id === this.speechAtInterrupt) this.lastAudioAfterInterrupt = now;
      else this.closeInterrupt();
    }
    if (id === this.lastSpeech) return; // the common case: more of the same speech
    this.lastSpeech = id;
    if (typeof id !== 'string') return;
    const speech = this.speech(id);
    if (speech.audioSent) return;
    speech.audioSent = true;
    if (this.stoppedAt !== undefined && id !== this.speechAtStop) {
      speech.voiceResponseMs = now - this.stoppedAt;
      this.stoppedAt = undefined;
    }
    this.changed();
  }

  /** A `system.control.interrupt` entered the graph. */
  interrupted(): void {
    this.closeInterrupt();
    const now = this.now();
    if (now < this.playingUntil) {
      this.interruptAt = now;
      this.speechAtInterrupt = this.lastSpeech;
      this.lastAudioAfterInterrupt = undefined;
    }
    this.playingUntil = -Infinity; // the client clears what it was playing
    this.changed();
  }

  /** The session ended: an open interrupt window is closed; waiting readers are woken. */
  close(): void {
    this.closeInterrupt();
    this.stoppedAt = undefined;
    this.changed();
  }

  /** What is known of speech `id`: its figures, whether its audio began, whether it will have none. */
  figures(id: string): Readonly<Speech> | undefined {
    return this.speeches.get(id);
  }

  /** Calls `listener` whenever a figure is recorded; returns the function that stops it. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private closeInterrupt(): void {
    const at = this.interruptAt;
    if (at === undefined) return;
    this.interruptAt = undefined;
    observerOf(this.session).interruptStopped((this.lastAudioAfterInterrupt ?? at) - at);
  }

  private speech(id: string): Speech {
    let speech = this.speeches.get(id);
    if (speech === undefined) {
      speech = { audioSent: false, silent: false };
      this.speeches.set(id, speech);
      if (this.speeches.size > KEPT_SPEECHES) this.speeches.delete(this.speeches.keys().next().value!);
    }
    return speech;
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

const clocks = new WeakMap<CrewSession, VoiceClock>();

/** The voice clock of `session` (one per session, made on first use: nodes of a voice graph make it as they are wired). */
export function voiceClockOf(session: CrewSession): VoiceClock {
  let clock = clocks.get(session);
  if (clock === undefined) {
    clock = new VoiceClock(session);
    clocks.set(session, clock);
  }
  return clock;
}

/** The voice clock of `session` if a node made one (a session without one measures no voice figures). */
export function existingVoiceClockOf(session: CrewSession): VoiceClock | undefined {
  return clocks.get(session);
}
