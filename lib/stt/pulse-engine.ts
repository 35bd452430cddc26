import { InvalidArgumentError } from '../errors';
import type { SttEngine, SttOpenOptions, SttStream } from './engine';
import { SttError, SttErrorCodes } from './errors';
import { PulseStream } from './pulse-stream';

/** Handshake parameter values: sent as strings (`true` → `"true"`). */
export type PulseQueryValue = string | number | boolean;

export interface PulseEngineOptions {
  /** Sent as `Authorization: Bearer …`. Default `process.env.SMALLEST_API_KEY`. */
  apiKey?: string;
  /** WebSocket root. Default `'wss://api.smallest.ai'` (some languages need `'wss://api.us.smallest.ai'`). */
  baseURL?: string;
  /** Default language code when `open()` gives none. Default `'en'`. */
  language?: string;
  /** The `model` parameter. Default `'pulse'` (the only one the live route takes). */
  model?: string;
  /**
   * More handshake parameters, e.g. `{ eou_timeout_ms: 500, keywords: 'rxcrew:5' }`.
   * `model`, `language`, `encoding` and `sample_rate` are set by the engine.
   */
  query?: Record<string, PulseQueryValue>;
  /** Longest wait for the WebSocket handshake (ms). Default 10000. */
  connectTimeoutMs?: number;
  /** After `close()`, longest wait for the transcript with `is_last` (ms). Default 5000. */
  closeTimeoutMs?: number;
  /**
   * Audio held while connecting, or while the socket's send buffer is this full (bytes);
   * audio beyond it is dropped. Default 262144 (8 s at 16 kHz).
   */
  maxBufferedBytes?: number;
}

/** Sample rates the live route takes; it does not resample. */
export const PULSE_SAMPLE_RATES: readonly number[] = Object.freeze([8000, 16000, 22050, 24000, 44100, 48000]);

const PULSE_PATH = '/waves/v1/stt/live';

/** What every stream of one engine shares (options merged over the defaults). */
export interface PulseSettings {
  readonly apiKey: string;
  readonly connectTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly maxBufferedBytes: number;
}

/**
 * Smallest AI's Pulse streaming speech-to-text
 * (`wss://api.smallest.ai/waves/v1/stt/live`), as an `SttEngine`. Each `open()`
 * is one WebSocket: audio goes as binary frames of PCM16 (`encoding=linear16`),
 * `finalize()` and `close()` as `{"type":"finalize"}` / `{"type":"close_stream"}`
 * text frames; `transcription` messages become transcripts. Refusals (HTTP 400,
 * 401, 429 before the upgrade), `error` messages and close code 1008 (too many
 * open sessions) become `SttError`s on `transcripts`.
 *
 * @example
 * const stt = new SpeechToText({ engine: new PulseEngine({ language: 'en' }) });
 */
export class PulseEngine implements SttEngine {
  readonly baseURL: string;
  readonly language: string;
  readonly model: string;
  private readonly query: Readonly<Record<string, PulseQueryValue>>;
  private readonly settings: PulseSettings;

  constructor(options: PulseEngineOptions = {}) {
    const apiKey = options.apiKey ?? process.env.SMALLEST_API_KEY;
    if (typeof apiKey !== 'string' || apiKey.trim() === '') {
      throw new SttError(SttErrorCodes.NO_KEY, 'PulseEngine: no API key; pass { apiKey } or set SMALLEST_API_KEY');
    }
    this.baseURL = (options.baseURL ?? 'wss://api.smallest.ai').replace(/\/+$/, '');
    if (!/^wss?:\/\//i.test(this.baseURL)) {
      throw new InvalidArgumentError(`PulseEngine: baseURL must start with wss:// or ws://, got ${JSON.stringify(options.baseURL)}`);
    }
    this.language = nonEmpty('language', options.language ?? 'en');
    this.model = nonEmpty('model', options.model ?? 'pulse');
    this.query = Object.freeze({ ...options.query });
    this.settings = Object.freeze({
      apiKey,
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? 10000),
      closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs ?? 5000),
      maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes ?? 262144),
    });
  }

  /** The handshake URL for a stream of `sampleRate` in `language`. */
  url(sampleRate: number, language: string = this.language): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(this.query)) params.set(key, String(value));
    params.set('model', this.model);
    params.set('language', language);
    params.set('encoding', 'linear16');
    params.set('sample_rate', String(sampleRate));
    return `${this.baseURL}${PULSE_PATH}?${params.toString()}`;
  }

  open(options: SttOpenOptions): SttStream {
    const { sampleRate, signal } = options;
    if (!PULSE_SAMPLE_RATES.includes(sampleRate)) {
      const error = new SttError(
        SttErrorCodes.BAD_REQUEST,
        `Pulse takes sample rates ${PULSE_SAMPLE_RATES.join(', ')} Hz, not ${String(sampleRate)}; resample the audio first`,
      );
      return PulseStream.failed(error);
    }
    return new PulseStream(this.url(sampleRate, options.language ?? this.language), this.settings, signal);
  }
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidArgumentError(`PulseEngine: ${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(`PulseEngine: ${name} must be a number > 0, got ${String(value)}`);
  }
  return value;
}
