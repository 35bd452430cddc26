/** Root mean square of PCM16 LE samples, in [0, 1]. */
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
