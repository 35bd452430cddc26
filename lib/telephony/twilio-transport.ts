import WebSocket from 'ws';
import { pcmDurationMs } from '../audio/format';
import { mulawEncode } from '../audio/mulaw';
import { playbackOf, PlaybackState } from '../audio/playback';
import { CrewEvent, event } from '../events';
import type { CrewSession } from '../session';
import type { CrewLogger } from '../session-options';
import type { CrewTransport } from '../transport';
import { twilioClearFrame, twilioMarkFrame, twilioMediaFrame } from './twilio-messages';

/** The rate Twilio streams at, both ways (Hz). */
export const TWILIO_SAMPLE_RATE = 8000;

/** How the transport paces and ends a call. */
export interface TwilioTransportOptions {
  /** How far ahead of the caller's playback audio is sent (ms). Default 100. */
  leadMs: number;
  /** Longest wait, on `agent.end_call`, for the marks of the audio sent (ms). Default 5000. */
  endCallTimeoutMs: number;
  logger: CrewLogger;
}

/**
 * After `agent.end_call` the stream closes once the audio sent has played and
 * no audio has arrived for this long (ms): the goodbye an agent speaks before
 * it ends the call is still being synthesized when `agent.end_call` (which
 * passes `TextToSpeech` at once) reaches the transport.
 */
export const END_CALL_GRACE_MS = 500;

/** One chunk sent and not yet confirmed played (its mark not echoed). */
interface Unconfirmed {
  mark: string;
  frame: CrewEvent;
}

/**
 * Carries one session's output over one Twilio Media Stream: `agent.audio`
 * (PCM16 at 8 kHz) goes out as μ-law `media` paced at real time, `leadMs`
 * ahead of the caller's playback, with a `mark` after each chunk. Twilio
 * echoes a mark when playback reaches it, so the transport knows what the
 * caller heard. On `system.control.interrupt` it sends `clear` at once and
 * drops the audio not yet sent; when the audio cut short was the agent's
 * speech, it tells the agent what was heard with an
 * `agent.transcript.update` {role: 'assistant'} (whole sentences the marks
 * confirm, from the `speech_id`/`text` that `TextToSpeech` puts on its
 * frames), which `OutputCrewNode`'s conversation puts in place of the
 * reply it generated. Other JSON events are not sent (Twilio takes none).
 */
export class TwilioTransport implements CrewTransport {
  /** Audio frames received but not sent yet (paced). */
  private queue: CrewEvent[] = [];
  private readonly unconfirmed: Unconfirmed[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the audio sent so far ends playing (ms, the playback clock). */
  private sentUntil = -Infinity;
  private marks = 0;
  /** The sentences of the speech playing now that the marks confirm. */
  private heard: { id: unknown; texts: string[] } | undefined;
  private ending: NodeJS.Timeout | undefined;
  /** While ending: when audio last arrived (or `agent.end_call` did), and the timer that checks again. */
  private lastAudioAt = 0;
  private grace: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly playback: PlaybackState;
  /** Audio frames refused (another sample rate than 8 kHz). */
  droppedFrames = 0;

  constructor(
    private readonly socket: WebSocket,
    readonly streamSid: string,
    private readonly session: CrewSession,
    private readonly options: TwilioTransportOptions,
  ) {
    this.playback = playbackOf(session);
  }

  /** Audio sent whose marks have not come back yet, in chunks. */
  get pendingChunks(): number {
    return this.unconfirmed.length + this.queue.length;
  }

  send(e: CrewEvent): void {
    if (this.closed) return;
    if (e.type === 'agent.audio' && e.audio instanceof Uint8Array) {
      const rate = (e.sample_rate as number | undefined) ?? TWILIO_SAMPLE_RATE;
      if (rate !== TWILIO_SAMPLE_RATE) {
        if (this.droppedFrames++ === 0) {
          const fields = { session_id: this.session.id, stream_sid: this.streamSid, event_type: e.type, sample_rate: rate };
          this.options.logger.warn(fields, `twilio stream: agent.audio at ${rate} Hz dropped (the stream is 8000 Hz)`);
        }
        return;
      }
      this.queue.push(e);
      if (this.ending !== undefined) this.lastAudioAt = this.playback.now();
      if (this.timer === undefined) this.pump();
    } else if (e.type === 'agent.end_call') {
      this.endCall();
    }
  }

  /** The session's interrupt: `clear` now, unsent audio dropped, what was heard reported. */
  interrupted(): void {
    if (this.closed) return;
    const cut = this.unconfirmed[0]?.frame ?? this.queue[0];
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    if (cut === undefined) return; // nothing playing or waiting: nothing to clear
    this.raw(twilioClearFrame(this.streamSid));
    this.unconfirmed.length = 0; // the echoes that follow a clear say nothing about playback
    this.sentUntil = -Infinity;
    this.playback.clear();
    const id = cut.speech_id;
    if (id === undefined) return;
    const content = this.heard?.id === id ? this.heard.texts.join(' ') : '';
    this.heard = undefined;
    this.session.inject(event('agent.transcript.update', { role: 'assistant', content, interrupted: true }));
  }

  /** A `mark` came back: the chunks up to it have played. */
  confirm(name: string): void {
    const at = this.unconfirmed.findIndex((u) => u.mark === name);
    if (at === -1) return; // a clear's echo, or not ours
    for (const { frame } of this.unconfirmed.splice(0, at + 1)) {
      if (typeof frame.text !== 'string' || frame.speech_id === undefined) continue;
      if (this.heard?.id !== frame.speech_id) this.heard = { id: frame.speech_id, texts: [] };
      this.heard.texts.push(frame.text);
    }
    this.checkEnd();
  }

  close(code: number, reason: string): void {
    this.stop();
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason.slice(0, 120));
    }
  }

  /** The socket closed: no more timers. */
  stop(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.ending);
    clearTimeout(this.grace);
    this.timer = this.ending = this.grace = undefined;
    this.queue = [];
  }

  /**
   * `agent.end_call`: the stream closes once the audio sent or queued has played and none
   * has arrived for END_CALL_GRACE_MS, or after `endCallTimeoutMs`.
   */
  private endCall(): void {
    if (this.ending !== undefined) return;
    this.ending = setTimeout(() => this.hangUp(), this.options.endCallTimeoutMs);
    this.ending.unref();
    this.lastAudioAt = this.playback.now();
    this.checkEnd();
  }

  /** While ending: hangs up if everything sent has played and the grace has passed, else checks again when it has. */
  private checkEnd(): void {
    if (this.ending === undefined || this.pendingChunks > 0) return;
    const wait = this.lastAudioAt + END_CALL_GRACE_MS - this.playback.now();
    if (wait <= 0) return this.hangUp();
    clearTimeout(this.grace);
    this.grace = setTimeout(() => this.checkEnd(), wait);
    this.grace.unref();
  }

  private hangUp(): void {
    this.close(1000, 'call ended by the agent');
  }

  /** Sends what is due: audio until `leadMs` ahead of playback, then waits until more is due. */
  private pump(): void {
    this.timer = undefined;
    const now = this.playback.now();
    const { leadMs } = this.options;
    while (this.queue.length > 0 && this.sentUntil - now <= leadMs) {
      const frame = this.queue.shift()!;
      const pcm = frame.audio as Uint8Array;
      this.sentUntil = Math.max(now, this.sentUntil) + pcmDurationMs(pcm.length, TWILIO_SAMPLE_RATE);
      const mark = String(++this.marks);
      this.raw(twilioMediaFrame(this.streamSid, mulawEncode(pcm)));
      this.raw(twilioMarkFrame(this.streamSid, mark));
      this.unconfirmed.push({ mark, frame });
    }
    // barge-in detection reads the playback state; an AudioPacer in the graph keeps the same figure
    if (this.sentUntil > this.playback.playingUntil) this.playback.playingUntil = this.sentUntil;
    if (this.queue.length > 0) this.timer = setTimeout(() => this.pump(), Math.max(1, this.sentUntil - leadMs - now));
  }

  private raw(frame: string): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(frame);
  }
}
