/**
 * What the text-to-speech node asks of a speech engine: turn one piece of text
 * (a sentence, usually) into audio.
 *
 * The contract:
 * - The audio is PCM16 little-endian mono at exactly `options.sampleRate` —
 *   the rate the client plays (`session.audioFormat.outputSampleRate`). An
 *   engine whose voice runs at another rate converts it itself
 *   (`resamplePcm16` / `createPcm16Resampler` from `lib/audio/resample`).
 * - Return a `Promise` of the whole utterance, or an `AsyncIterable` of
 *   pieces as they are made (a streaming API): the node sends each piece on as
 *   it comes, so speech starts sooner. Pieces may have any length, even odd
 *   (a sample split across two pieces is joined by the node).
 * - `options.signal` fires when the user interrupts or the session ends: stop
 *   work (close the HTTP request, …) and reject or end. The node has stopped
 *   listening by then, so what arrives later is dropped either way.
 * - Fail by rejecting/throwing with an `Error` whose message says what went
 *   wrong; the node reports it as an `agent.error` warning and goes on.
 * - One engine instance may serve many sessions at once: keep per-call state
 *   inside `synthesize`.
 *
 * @example
 * const silence: TtsEngine = {
 *   name: 'silence',
 *   async synthesize(text, { sampleRate }) {
 *     return Buffer.alloc(Math.round(sampleRate * 0.06 * text.length) * 2); // ~60 ms a character
 *   },
 * };
 */
export interface TtsEngine {
  /** Shown in logs and errors. */
  readonly name: string;
  synthesize(text: string, options: TtsSynthesisOptions): AsyncIterable<Uint8Array> | Promise<Uint8Array>;
}

export interface TtsSynthesisOptions {
  /** The rate (Hz) the returned PCM16 must have. */
  sampleRate: number;
  /** Fires when the result is no longer wanted. */
  signal: AbortSignal;
}

/** The pieces an engine's result yields, whichever shape it returned. */
export async function* pcmPiecesOf(result: AsyncIterable<Uint8Array> | Promise<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (isAsyncIterable(result)) {
    yield* result;
    return;
  }
  yield await result;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/** The error an engine throws when `signal` fired (same `name` as an aborted `fetch`). */
export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new Error(reason instanceof Error ? reason.message : 'synthesis aborted');
  err.name = 'AbortError';
  return err;
}
