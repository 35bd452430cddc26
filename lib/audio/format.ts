/**
 * Audio on the wire is PCM16 little-endian mono (2 bytes a sample). A client
 * may declare its rates in `system.init` (`audio: { input_sample_rate,
 * output_sample_rate }`); `session.audioFormat` holds what it declared.
 */
export interface AudioFormat {
  /** Rate of `user.audio` (the client's microphone), Hz. */
  inputSampleRate: number;
  /** Rate the client plays `agent.audio` at, Hz. */
  outputSampleRate: number;
}

const DEFAULT_SAMPLE_RATE = 16000;

export const DEFAULT_AUDIO_FORMAT: Readonly<AudioFormat> = Object.freeze({
  inputSampleRate: DEFAULT_SAMPLE_RATE,
  outputSampleRate: DEFAULT_SAMPLE_RATE,
});

export const BYTES_PER_SAMPLE = 2;

/** Milliseconds of audio in `bytes` of PCM16 mono at `sampleRate`. */
export function pcmDurationMs(bytes: number, sampleRate: number): number {
  return (bytes / BYTES_PER_SAMPLE / sampleRate) * 1000;
}

/** Bytes of PCM16 mono at `sampleRate` for `ms` milliseconds (whole samples). */
export function pcmBytes(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000) * BYTES_PER_SAMPLE;
}
