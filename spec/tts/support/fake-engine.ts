import type { TtsEngine, TtsSynthesisOptions } from '../../../lib/tts/engine';
import { constant } from '../../support/pcm';

export interface Call {
  text: string;
  sampleRate: number;
  signal: AbortSignal;
}

/**
 * An engine that speaks `msPerChar` of a constant level per character; the level
 * is the call's number (1, 2, …), so the order of the audio can be checked.
 * `gated` calls wait for `release()` (or their abort); `failNext` makes the next call throw.
 */
export class FakeEngine implements TtsEngine {
  readonly name = 'fake';
  readonly calls: Call[] = [];
  gated = false;
  failNext: Error | undefined;
  private releases: Array<() => void> = [];

  constructor(private readonly msPerChar = 5) {}

  async synthesize(text: string, { sampleRate, signal }: TtsSynthesisOptions): Promise<Buffer> {
    this.calls.push({ text, sampleRate, signal });
    const level = this.calls.length;
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
    if (this.gated) {
      await new Promise<void>((resolve, reject) => {
        this.releases.push(resolve);
        signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
      });
    }
    return constant(level, Math.round((sampleRate * text.length * this.msPerChar) / 1000));
  }

  release(): void {
    this.releases.shift()?.();
  }
}
