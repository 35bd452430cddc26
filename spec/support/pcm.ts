/**
 * Test signals as PCM16 little-endian mono, generated in code (no audio files,
 * no tools at run time): tones at a given level, silence, deterministic noise.
 */

/** Peak amplitude of a sine whose RMS is `dbfs` (0 dBFS: RMS of a full-scale square wave). */
function sinePeak(dbfs: number): number {
  return Math.SQRT2 * 32768 * 10 ** (dbfs / 20);
}

/** `ms` of a sine of `hz` whose RMS level is `dbfs` (default -20 dBFS, a speaking voice). */
export function tone(ms: number, rate = 16000, dbfs = -20, hz = 440): Buffer {
  const n = Math.round((ms * rate) / 1000);
  const peak = Math.min(32767, sinePeak(dbfs));
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(peak * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return out;
}

/** `ms` of digital silence. */
export function silence(ms: number, rate = 16000): Buffer {
  return Buffer.alloc(Math.round((ms * rate) / 1000) * 2);
}

/** `ms` of uniform white noise at about `dbfs` RMS, the same every run (`seed`). */
export function noise(ms: number, rate = 16000, dbfs = -60, seed = 1): Buffer {
  const n = Math.round((ms * rate) / 1000);
  // uniform in [-a, a] has RMS a/√3
  const amplitude = Math.sqrt(3) * 32768 * 10 ** (dbfs / 20);
  const out = Buffer.alloc(n * 2);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0; // LCG
    const sample = Math.round((state / 0xffffffff) * 2 * amplitude - amplitude);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, sample)), i * 2);
  }
  return out;
}

/** Cuts `pcm` into frames of `ms` (the last one may be shorter). */
export function frames(pcm: Buffer, ms = 20, rate = 16000): Buffer[] {
  const size = Math.round((ms * rate) / 1000) * 2;
  const out: Buffer[] = [];
  for (let i = 0; i < pcm.length; i += size) out.push(pcm.subarray(i, i + size));
  return out;
}

/** Root mean square of PCM16 LE samples, in [0, 1] of full scale. */
export function rms(pcm: Uint8Array): number {
  const buf = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  let sum = 0;
  const n = buf.length >> 1;
  for (let i = 0; i < n; i++) sum += (buf.readInt16LE(i * 2) / 32768) ** 2;
  return n === 0 ? 0 : Math.sqrt(sum / n);
}

/** `samples` samples of the constant `level × 1000`, as PCM16 LE (non-silent, and tells where it came from). */
export function constant(level: number, samples: number): Buffer {
  const pcm = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) pcm.writeInt16LE(level * 1000, i * 2);
  return pcm;
}

/** PCM16 mono WAV files: the header alone, or a whole file (the writer beside the runtime's `parseWav`). */
export { pcm16Wav as wav, wavHeader } from '../../lib/tts/wav';
