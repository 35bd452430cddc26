import { Observable } from 'rxjs';
import { BYTES_PER_SAMPLE } from '../lib/audio/format';
import { playbackOf } from '../lib/audio/playback';
import { voiceClockOf } from '../lib/audio/voice-clock';
import { InvalidArgumentError } from '../lib/errors';
import { CrewEvent, event } from '../lib/events';
import { CrewNode, CrewNodeOptions, NodeContext } from '../lib/node';

export interface VoiceActivityOptions extends CrewNodeOptions {
  /** Level (RMS, dBFS: 0 is a full-scale square wave) a window must reach to count as speech. Default -40. */
  threshold?: number;
  /** Once speaking, a window still counts as speech down to `threshold - hysteresis` dB. Default 6. */
  hysteresis?: number;
  /** Speech must last this long (ms of audio) before `system.user.started_speaking`. Default 80. */
  startMs?: number;
  /** Silence must last this long (ms of audio) before `system.user.stopped_speaking`. Default 400. */
  hangoverMs?: number;
  /** Length of the analysis window (ms). Default 10. */
  windowMs?: number;
  /**
   * Adaptive noise floor: when set, the threshold rises to (estimated noise floor +
   * `noiseMargin` dB) in noisy rooms. The floor follows quiet windows down at once and
   * rises by at most 2 dB per second. Default: off (the fixed `threshold` only).
   */
  noiseMargin?: number;
  /** Inject `system.control.interrupt` when the user starts speaking over agent audio. Default true. */
  bargeIn?: boolean;
}

type DetectorSettings = Required<Omit<VoiceActivityOptions, keyof CrewNodeOptions | 'noiseMargin'>> & { noiseMargin?: number };

const DEFAULTS = { threshold: -40, hysteresis: 6, startMs: 80, hangoverMs: 400, windowMs: 10, bargeIn: true };
const NOISE_FLOOR_RISE_DB_PER_S = 2;
const NOISE_FLOOR_MIN_DB = -100;
// mean square of a full-scale PCM16 signal: 0 dBFS
const FULL_SCALE_POWER = 32768 * 32768;

/**
 * Voice activity detection on the user's audio: turns `user.audio` (PCM16 LE mono)
 * into `system.user.started_speaking` / `system.user.stopped_speaking`, and
 * detects barge-in.
 *
 * The audio is cut into windows of `windowMs`; a window's level is its RMS in dBFS.
 * A window is voiced at `threshold` or above — once speaking, at `threshold -
 * hysteresis` or above, so that a voice hovering at the threshold does not flap.
 * `startMs` of consecutive voiced windows start speech (a click or a cough is
 * shorter); `hangoverMs` of consecutive unvoiced windows end it (the pauses
 * between words are shorter). Time is counted in samples of the audio itself
 * (`sample_rate` of each event), never by a clock: the same audio always gives
 * the same events, at any frame size.
 *
 * Both events carry `offset_ms`: where in the user's audio (ms since its first
 * sample) the speech began, or the silence that ended it began. When speech starts
 * while agent audio is still playing at the client (`playbackOf(session).isPlaying()`,
 * kept by `AudioPacer`), the node injects `system.control.interrupt` {reason:
 * 'barge-in'} so that the agent stops talking.
 *
 * `user.audio` is consumed (never passed on, so it is not echoed to the client);
 * every other event passes through. Place it at the root, beside speech-to-text.
 *
 * ```
 * input:  a a a a a s s s s s …      a: 20 ms of tone, s: 20 ms of silence
 * output: ----S-----------…--T        S: started (after 80 ms), T: stopped (after 400 ms of s)
 * ```
 */
export class VoiceActivity extends CrewNode {
  private readonly settings: DetectorSettings;

  constructor(options: VoiceActivityOptions = {}) {
    super(options);
    const settings = { ...DEFAULTS, ...withoutUndefined(options) };
    for (const key of ['startMs', 'hangoverMs', 'hysteresis'] as const) {
      if (!Number.isFinite(settings[key]) || settings[key] < 0) {
        throw new InvalidArgumentError(`VoiceActivity: ${key} must be a number ≥ 0, got ${String(settings[key])}`);
      }
    }
    if (!Number.isFinite(settings.windowMs) || settings.windowMs <= 0) {
      throw new InvalidArgumentError(`VoiceActivity: windowMs must be a number > 0, got ${String(settings.windowMs)}`);
    }
    if (!Number.isFinite(settings.threshold) || settings.threshold > 0) {
      throw new InvalidArgumentError(`VoiceActivity: threshold is in dBFS and must be ≤ 0 (e.g. -40), got ${String(settings.threshold)}`);
    }
    if (options.noiseMargin !== undefined && !(Number.isFinite(options.noiseMargin) && options.noiseMargin >= 0)) {
      throw new InvalidArgumentError(`VoiceActivity: noiseMargin must be a number of dB ≥ 0, got ${String(options.noiseMargin)}`);
    }
    this.settings = settings;
  }

  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    const { bargeIn } = this.settings;
    // per-session state; it survives a resubscription after an error
    const detector = new SpeechDetector(this.settings);
    const voice = voiceClockOf(ctx.session); // made now, as the graph is wired, so that the runtime times the voice path
    return new Observable<CrewEvent>((subscriber) => {
      const changed = (speaking: boolean, offsetMs: number): void => {
        const offset_ms = Math.round(offsetMs * 1000) / 1000;
        if (!speaking) {
          voice.userStopped();
          subscriber.next(event('system.user.stopped_speaking', { offset_ms }));
          return;
        }
        subscriber.next(event('system.user.started_speaking', { offset_ms }));
        if (bargeIn && playbackOf(ctx.session).isPlaying()) {
          ctx.session.inject(event('system.control.interrupt', { reason: 'barge-in' }));
        }
      };
      return input$.subscribe({
        next: (e) => {
          if (e.type !== 'user.audio') subscriber.next(e);
          else if (e.audio instanceof Uint8Array) {
            const rate = typeof e.sample_rate === 'number' ? e.sample_rate : ctx.session.audioFormat.inputSampleRate;
            detector.push(e.audio, rate, changed);
          }
        },
        error: (err) => subscriber.error(err),
        complete: () => {
          // keep the events paired: a session that ends mid-speech ends the speech
          detector.end(changed);
          subscriber.complete();
        },
      });
    });
  }
}

/** The energy detector of one session (see `VoiceActivity`). */
class SpeechDetector {
  private rate = 0;
  private windowSamples = 0;
  private startSamples = 0;
  private hangoverSamples = 0;
  // the window being filled, and a byte left over from an odd-length frame
  private sumSquares = 0;
  private filled = 0;
  private oddByte = -1;
  // where the stream is: ms before the current rate, plus samples at it
  private baseMs = 0;
  private samples = 0;
  private speaking = false;
  private runSamples = 0; // consecutive windows against the current state
  private runStart = 0; // sample where that run began
  private noiseFloor = NaN;

  constructor(private readonly settings: DetectorSettings) {}

  push(audio: Uint8Array, rate: number, changed: (speaking: boolean, offsetMs: number) => void): void {
    if (rate !== this.rate) this.setRate(rate);
    let i = 0;
    if (this.oddByte >= 0 && audio.length > 0) {
      this.addSample(((audio[0] << 8) | this.oddByte) << 16 >> 16, changed);
      this.oddByte = -1;
      i = 1;
    }
    const view = new DataView(audio.buffer, audio.byteOffset, audio.byteLength);
    for (; i + 1 < audio.length; i += BYTES_PER_SAMPLE) this.addSample(view.getInt16(i, true), changed);
    if (i < audio.length) this.oddByte = audio[i];
  }

  end(changed: (speaking: boolean, offsetMs: number) => void): void {
    if (this.speaking) {
      this.speaking = false;
      changed(false, this.msAt(this.samples));
    }
  }

  private setRate(rate: number): void {
    const { windowMs, startMs, hangoverMs } = this.settings;
    if (this.rate > 0) {
      // rescale the runs so far to the new rate; the partial window is dropped
      const scale = rate / this.rate;
      this.baseMs = this.msAt(this.samples);
      this.runSamples = Math.round(this.runSamples * scale);
      this.runStart = Math.round((this.runStart - this.samples) * scale);
    }
    this.rate = rate;
    this.samples = 0;
    this.sumSquares = 0;
    this.filled = 0;
    this.windowSamples = Math.max(1, Math.round((windowMs * rate) / 1000));
    this.startSamples = Math.ceil((startMs * rate) / 1000);
    this.hangoverSamples = Math.ceil((hangoverMs * rate) / 1000);
  }

  private addSample(sample: number, changed: (speaking: boolean, offsetMs: number) => void): void {
    this.sumSquares += sample * sample;
    this.samples++;
    if (++this.filled < this.windowSamples) return;
    const level = 10 * Math.log10(this.sumSquares / this.filled / FULL_SCALE_POWER);
    const duration = this.filled;
    this.sumSquares = 0;
    this.filled = 0;
    this.window(level, duration, changed);
  }

  private window(level: number, duration: number, changed: (speaking: boolean, offsetMs: number) => void): void {
    const { threshold, hysteresis, noiseMargin } = this.settings;
    let limit = threshold;
    if (noiseMargin !== undefined) limit = Math.max(limit, this.trackNoise(level, duration) + noiseMargin);
    const voiced = level >= (this.speaking ? limit - hysteresis : limit);
    if (voiced === this.speaking) {
      this.runSamples = 0;
      return;
    }
    if (this.runSamples === 0) this.runStart = this.samples - duration;
    this.runSamples += duration;
    if (this.runSamples < (this.speaking ? this.hangoverSamples : this.startSamples)) return;
    this.speaking = voiced;
    this.runSamples = 0;
    changed(voiced, this.msAt(this.runStart));
  }

  /** The noise floor estimate (dBFS): follows quiet windows down at once, rises slowly. */
  private trackNoise(level: number, duration: number): number {
    const bounded = Math.max(level, NOISE_FLOOR_MIN_DB);
    if (Number.isNaN(this.noiseFloor) || bounded < this.noiseFloor) this.noiseFloor = bounded;
    else this.noiseFloor = Math.min(bounded, this.noiseFloor + (NOISE_FLOOR_RISE_DB_PER_S * duration) / this.rate);
    return this.noiseFloor;
  }

  private msAt(sample: number): number {
    return this.baseMs + (sample / this.rate) * 1000;
  }
}

function withoutUndefined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
