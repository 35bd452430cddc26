import type { Observable } from 'rxjs';

/**
 * Speech-to-text, engine-neutral. An engine opens one stream per utterance
 * source (one per session); the stream takes PCM16 little-endian mono audio and
 * emits what it heard. `SpeechToText` (rxcrew/operators) drives one per session;
 * `PulseEngine` is the Smallest AI adapter. See docs/voice-input.md.
 *
 * @example
 * const stream = engine.open({ sampleRate: 16000, signal: controller.signal });
 * stream.transcripts.subscribe((t) => t.isFinal && console.log(t.text));
 * stream.write(pcm);
 * await stream.close();
 */
export interface SttEngine {
  /** Opens a stream; connecting happens in the background (audio written meanwhile is buffered). */
  open(options: SttOpenOptions): SttStream;
}

export interface SttOpenOptions {
  /** Rate of the PCM16 mono audio that will be written, Hz. */
  sampleRate: number;
  /** Language code; default: the engine's. */
  language?: string;
  /** Aborting it drops the stream at once (no final flush); `transcripts` completes. */
  signal?: AbortSignal;
}

/** One thing the engine heard. */
export interface SttTranscript {
  /** The words; may be empty (a final over silence). */
  text: string;
  /**
   * `false`: a partial, which later messages may revise. `true`: final for the
   * audio since the previous final (finals are not cumulative).
   */
  isFinal: boolean;
  /** The last transcript of the stream (after `close()`). */
  isLast?: boolean;
  /** The final was caused by `finalize()` rather than by the engine's own endpointing. */
  fromFinalize?: boolean;
  /** The language the engine detected or used, when it says. */
  language?: string;
}

/** An open stream: write audio, read transcripts. */
export interface SttStream {
  /**
   * Partials and finals, in order. Hot and not replayed: subscribe right after
   * `open`. Completes after `close()` (or an abort); errors with an `SttError`
   * when the engine fails — the stream is then dead; open a new one.
   */
  readonly transcripts: Observable<SttTranscript>;
  /** Sends PCM16 LE mono audio at the stream's rate. Ignored once closing. */
  write(pcm: Uint8Array): void;
  /** Asks for a final for the audio so far; the stream stays open. */
  finalize(): void;
  /**
   * Ends the stream: flushes, waits (bounded) for the last transcript, closes.
   * Never rejects; failures go to `transcripts`. Idempotent.
   */
  close(): Promise<void>;
}
