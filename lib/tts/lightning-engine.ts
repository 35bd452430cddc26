import { createPcm16Resampler, Pcm16Resampler } from '../audio/resample';
import { describeError, ErrorCodes, InvalidArgumentError } from '../errors';
import { SseParser } from '../llm/sse';
import { abortError, TtsEngine, TtsSynthesisOptions } from './engine';
import { LightningError, lightningHttpError } from './lightning-error';

export interface LightningEngineOptions {
  /** Default: the `SMALLEST_API_KEY` environment variable. */
  apiKey?: string;
  /** Default `https://api.smallest.ai`. */
  baseURL?: string;
  /** A Lightning voice (`magnus`, `meher`, …) or a cloned voice `voice_…`. Required. */
  voiceId: string;
  /** `lightning_v3.1` (default) or `lightning_v3.1_pro`. */
  model?: string;
  /** 0.5–2.0. The server's default is 1. */
  speed?: number;
  /** An ISO-639-1 code (`en`, `hi`, `es`, …). Default `en`. */
  language?: string;
  /** Longest wait for the response, and between two pieces of it (ms). Default 15000. */
  timeoutMs?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
}

/** The rates Lightning produces; any other is requested at 24 kHz and resampled. */
export const LIGHTNING_SAMPLE_RATES: readonly number[] = [8000, 16000, 24000, 44100];

/**
 * Smallest AI's Lightning text-to-speech over its streaming HTTP route
 * (`POST /waves/v1/tts/live`, server-sent events). Audio is requested as raw
 * PCM at the session's rate (resampled when Lightning has no such rate) and
 * yielded as each event arrives, so playback starts after the first ~200 ms.
 * Firing the signal closes the HTTP request. Failures throw `LightningError` (its `code` says what failed).
 *
 * @example
 * new TextToSpeech({ engine: new LightningEngine({ voiceId: 'magnus' }) }) // key from SMALLEST_API_KEY
 */
export class LightningEngine implements TtsEngine {
  readonly name = 'lightning';
  readonly voiceId: string;
  readonly model: string;
  private readonly url: string;
  private readonly apiKey: string;
  private readonly speed: number | undefined;
  private readonly language: string;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: LightningEngineOptions) {
    const apiKey = options?.apiKey ?? process.env.SMALLEST_API_KEY;
    if (typeof apiKey !== 'string' || apiKey === '') {
      throw new InvalidArgumentError('new LightningEngine: no API key; set SMALLEST_API_KEY or pass { apiKey }');
    }
    if (typeof options.voiceId !== 'string' || options.voiceId === '') {
      throw new InvalidArgumentError('new LightningEngine: voiceId is required (e.g. "magnus")');
    }
    if (options.speed !== undefined && !(options.speed >= 0.5 && options.speed <= 2)) {
      throw new InvalidArgumentError(`new LightningEngine: speed must be from 0.5 to 2, got ${String(options.speed)}`);
    }
    const fetchImpl = options.fetch ?? globalThis.fetch;
    if (typeof fetchImpl !== 'function') throw new InvalidArgumentError('new LightningEngine: no global fetch; pass { fetch }');
    this.apiKey = apiKey;
    this.voiceId = options.voiceId;
    this.model = options.model ?? 'lightning_v3.1';
    this.speed = options.speed;
    this.language = options.language ?? 'en';
    this.timeoutMs = options.timeoutMs ?? 15000;
    this.url = `${(options.baseURL ?? 'https://api.smallest.ai').replace(/\/+$/, '')}/waves/v1/tts/live`;
    this.fetchImpl = (input, init) => fetchImpl(input, init); // some fetches reject any other `this`
  }

  /** Streams `text` as PCM16 mono at `sampleRate`. */
  async *synthesize(text: string, { sampleRate, signal }: TtsSynthesisOptions): AsyncGenerator<Buffer> {
    if (signal.aborted) throw abortError(signal);
    const requestRate = LIGHTNING_SAMPLE_RATES.includes(sampleRate) ? sampleRate : 24000;
    // our own controller: aborting it closes the request whether the caller aborted, a timeout hit or iteration stopped
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.timeoutMs);
    };
    let finished = false;
    let resampler: Pcm16Resampler | undefined;
    try {
      arm();
      const response = await this.fetchImpl(this.url, {
        method: 'POST',
        headers: { Authorization: `Bearer ${this.apiKey}`, 'Content-Type': 'application/json', Accept: 'text/event-stream' },
        body: JSON.stringify(this.body(text, requestRate)),
        signal: controller.signal,
      });
      if (!response.ok) throw await lightningHttpError(response);
      if (response.body === null) throw new LightningError(ErrorCodes.TTS_BAD_RESPONSE, 'Lightning TTS: the response has no body');
      if (requestRate !== sampleRate) resampler = await createPcm16Resampler(requestRate, sampleRate);
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      for (;;) {
        arm();
        const { done, value } = await reader.read();
        const events = done ? [...parser.feed(decoder.decode()), ...parser.end()] : parser.feed(decoder.decode(value, { stream: true }));
        for (const e of events) {
          const frame = parseFrame(e.data);
          if (frame.done === true) {
            finished = await bodyEnds(reader);
            return;
          }
          if (typeof frame.audio === 'string' && frame.audio !== '') {
            const pcm = Buffer.from(frame.audio, 'base64');
            clearTimeout(timer); // the time the consumer takes is not the server's
            yield resampler ? resampler.push(pcm) : pcm;
          } else if (frame.status === 'error' || frame.error !== undefined) {
            throw new LightningError(ErrorCodes.TTS_STREAM, `Lightning TTS: the stream reported an error: ${streamErrorMessage(frame)}`);
          }
        }
        if (done) throw new LightningError(ErrorCodes.TTS_BAD_RESPONSE, 'Lightning TTS: the stream ended before its done frame (the audio may be cut short)');
      }
    } catch (err) {
      if (signal.aborted) throw abortError(signal);
      if (timedOut) throw new LightningError(ErrorCodes.TTS_TIMEOUT, `Lightning TTS: no response from ${this.url} within ${this.timeoutMs} ms`);
      if (err instanceof LightningError) throw err;
      throw new LightningError(ErrorCodes.TTS_NETWORK, `Lightning TTS: request to ${this.url} failed: ${describeError(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (!finished) controller.abort(); // stopped early (interrupt, error, consumer gone): close the stream
      resampler?.close();
    }
  }

  private body(text: string, sampleRate: number): Record<string, unknown> {
    return {
      text,
      voice_id: this.voiceId,
      model: this.model,
      sample_rate: sampleRate,
      output_format: 'pcm',
      language: this.language,
      ...(this.speed !== undefined ? { speed: this.speed } : {}),
    };
  }
}

/**
 * After the terminator the response should end at once. Reading it to its end
 * lets fetch reuse the connection (no new TLS handshake for the next
 * sentence); a server that keeps it open gets 200 ms, then the request is closed.
 */
async function bodyEnds(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 200)));
  try {
    for (;;) {
      const result = await Promise.race([reader.read(), timeout]);
      if (result === false) return false;
      if (result.done) return true;
    }
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

interface SseFrame {
  audio?: unknown;
  done?: unknown;
  status?: unknown;
  error?: unknown;
  message?: unknown;
}

function parseFrame(data: string): SseFrame {
  try {
    const frame: unknown = JSON.parse(data);
    if (frame !== null && typeof frame === 'object') return frame as SseFrame;
  } catch {
    // fall through
  }
  throw new LightningError(ErrorCodes.TTS_BAD_RESPONSE, `Lightning TTS: unexpected data in the stream: ${data.slice(0, 200)}`);
}

function streamErrorMessage(frame: SseFrame): string {
  if (typeof frame.message === 'string') return frame.message;
  const { error } = frame;
  if (typeof error === 'string') return error;
  if (error !== null && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
    return (error as { message: string }).message;
  }
  return JSON.stringify(frame).slice(0, 200);
}
