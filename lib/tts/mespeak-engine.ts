import { resamplePcm16 } from '../audio/resample';
import { InvalidArgumentError } from '../errors';
import { abortError, TtsEngine, TtsSynthesisOptions } from './engine';
import { MespeakArgs, mespeakThread } from './mespeak-thread';
import { pcm16MonoOfWav } from './wav';

export interface MespeakEngineOptions {
  /** A voice that ships with mespeak: `en/en-us` (default), `en/en` (British), `en/en-sc`, `fr`, `de`, `es`, … */
  voice?: string;
  /** A voice variant: `m1`–`m7`, `f1`–`f5`, `croak`, `klatt`, `klatt2`, `klatt3`, `whisper`, `whisperf`. */
  variant?: string;
  /** Words per minute, 80–450. Default 175. */
  speed?: number;
  /** Base pitch, 0–99. Default 50. */
  pitch?: number;
  /** Loudness, 0–200. Default 100. */
  amplitude?: number;
  /** Extra pause between words, in units of 10 ms. Default 0. */
  wordGap?: number;
}

const VARIANTS = new Set(['croak', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt', 'klatt2', 'klatt3', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'whisper', 'whisperf']);

/**
 * The embedded speech engine: eSpeak (through the npm package `mespeak`), in
 * the process, with no network and no key. Robotic but intelligible, and fast
 * (≈50–150 ms for a sentence once warm). Synthesis runs in a worker thread
 * shared by all instances, so it never blocks the event loop; its 22,050 Hz
 * output is resampled to the rate asked for.
 *
 * The first request starts the worker (≈0.4 s) and warms eSpeak up; call
 * `warmUp()` at startup to pay that before the first caller speaks.
 *
 * Note: eSpeak and mespeak are GPL-licensed.
 *
 * @example
 * new TextToSpeech({ engine: new MespeakEngine({ voice: 'en/en', speed: 190 }) })
 */
export class MespeakEngine implements TtsEngine {
  readonly name = 'mespeak';
  readonly voice: string;
  private readonly voiceFile: string;
  private readonly args: MespeakArgs;

  constructor(options: MespeakEngineOptions = {}) {
    this.voice = options.voice ?? 'en/en-us';
    if (!/^[a-z]{2,3}(-[a-z]{1,3})?(\/[a-z]{2,3}(-[a-z]{1,3})?)?$/.test(this.voice)) {
      throw new InvalidArgumentError(`MespeakEngine: voice must look like "en/en-us" or "fr", got ${JSON.stringify(this.voice)}`);
    }
    try {
      this.voiceFile = require.resolve(`mespeak/voices/${this.voice}.json`);
    } catch {
      throw new InvalidArgumentError(`MespeakEngine: mespeak has no voice "${this.voice}" (see node_modules/mespeak/voices)`);
    }
    if (options.variant !== undefined && !VARIANTS.has(options.variant)) {
      throw new InvalidArgumentError(`MespeakEngine: unknown variant ${JSON.stringify(options.variant)}; one of ${[...VARIANTS].join(', ')}`);
    }
    this.args = {
      voice: this.voice,
      speed: inRange('speed', options.speed ?? 175, 80, 450),
      pitch: inRange('pitch', options.pitch ?? 50, 0, 99),
      amplitude: inRange('amplitude', options.amplitude ?? 100, 0, 200),
      wordgap: inRange('wordGap', options.wordGap ?? 0, 0, 100),
      ...(options.variant !== undefined ? { variant: options.variant } : {}),
    };
  }

  /** Synthesizes `text` as PCM16 mono at `sampleRate`; rejects with an `AbortError` once `signal` fires. */
  async synthesize(text: string, { sampleRate, signal }: TtsSynthesisOptions): Promise<Buffer> {
    // eSpeak reads its command line: text starting with "-" would be taken for an option
    const wav = await mespeakThread.speak(text.replace(/^(\s*)-/, '$1 -'), this.voiceFile, this.args, signal);
    const { sampleRate: rate, pcm } = pcm16MonoOfWav(wav);
    const audio = await resamplePcm16(pcm, rate, sampleRate);
    if (signal.aborted) throw abortError(signal);
    return audio;
  }

  /** Starts the worker and synthesizes a word, so that the first real sentence is fast. */
  async warmUp(): Promise<void> {
    await this.synthesize('Ready.', { sampleRate: 16000, signal: new AbortController().signal });
  }

  /**
   * Stops the worker thread all engines share (for a graceful shutdown or the
   * end of a test run); requests in progress fail. The next request starts it again.
   */
  static terminate(): Promise<void> {
    return mespeakThread.terminate();
  }
}

function inRange(name: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidArgumentError(`MespeakEngine: ${name} must be a number from ${min} to ${max}, got ${String(value)}`);
  }
  return Math.round(value);
}
