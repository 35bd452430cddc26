import { createPcm16Resampler, resamplePcm16 } from '../../lib/audio/resample';

/** `seconds` of a sine at `hz`, sampled at `rate`, as PCM16 LE. */
function sine(hz: number, rate: number, seconds: number, amplitude = 0.5): Buffer {
  const n = Math.round(rate * seconds);
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(amplitude * 32767 * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return out;
}

function samples(pcm: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < pcm.length; i += 2) out.push(pcm.readInt16LE(i));
  return out;
}

/** Frequency estimated from sign changes (two per period), skipping the filter's edges. */
function frequency(pcm: Buffer, rate: number): number {
  const s = samples(pcm);
  const edge = Math.round(rate * 0.01);
  let crossings = 0;
  for (let i = edge + 1; i < s.length - edge; i++) if (Math.sign(s[i]) !== Math.sign(s[i - 1]) && s[i] !== 0) crossings++;
  return crossings / 2 / ((s.length - 2 * edge) / rate);
}

function peak(pcm: Buffer): number {
  return Math.max(...samples(pcm).map(Math.abs));
}

describe('resamplePcm16', () => {
  it.each([
    [22050, 16000],
    [22050, 8000],
    [24000, 48000],
    [16000, 44100],
  ])('converts %i Hz to %i Hz keeping the frequency, the length ratio and the level', async (from, to) => {
    const input = sine(440, from, 1);
    const output = await resamplePcm16(input, from, to);
    expect(Math.abs(output.length / 2 - to)).toBeLessThanOrEqual(2); // one second in, one second out
    expect(frequency(output, to)).toBeCloseTo(440, -1); // within ±5 Hz
    expect(peak(output) / peak(input)).toBeGreaterThan(0.95);
    expect(peak(output) / peak(input)).toBeLessThan(1.05);
  });

  it('filters out what the lower rate cannot hold instead of aliasing it', async () => {
    const output = await resamplePcm16(sine(6000, 22050, 0.5), 22050, 8000); // would alias to 2 kHz
    const s = samples(output).slice(100, -100);
    expect(Math.max(...s.map(Math.abs))).toBeLessThan(0.02 * 32767);
  });

  it('returns a copy for equal rates, ignoring a trailing half sample', async () => {
    const input = Buffer.concat([sine(300, 16000, 0.01), Buffer.from([7])]);
    const output = await resamplePcm16(input, 16000, 16000);
    expect(output.equals(input.subarray(0, input.length - 1))).toBe(true);
    output[0] ^= 0xff;
    expect(output[0]).not.toBe(input[0]); // a copy, not a view
  });

  it('takes any byte offset and empty input', async () => {
    const pcm = sine(500, 22050, 0.2);
    const odd = Buffer.alloc(pcm.length + 1);
    pcm.copy(odd, 1);
    const fromView = await resamplePcm16(odd.subarray(1), 22050, 16000);
    expect(fromView.equals(await resamplePcm16(pcm, 22050, 16000))).toBe(true);
    expect((await resamplePcm16(Buffer.alloc(0), 22050, 16000)).length).toBe(0);
  });

  it('clips instead of wrapping around at full scale', async () => {
    const square = Buffer.alloc(4410 * 2);
    for (let i = 0; i < 4410; i++) square.writeInt16LE(Math.floor(i / 50) % 2 === 0 ? 32767 : -32768, i * 2);
    const output = samples(await resamplePcm16(square, 22050, 16000));
    // the sinc filter rings past full scale next to each edge: clipped, it keeps the sign of its half
    let checked = 0;
    for (let j = 40; j < output.length - 40; j++) {
      const at = (j * 22050) / 16000;
      if (at % 50 < 3 || at % 50 > 47) continue; // right at an edge the sign is undecided
      if (Math.sign(output[j]) === (Math.floor(at / 50) % 2 === 0 ? 1 : -1)) checked++;
      else throw new Error(`sample ${j} has the wrong sign: ${output[j]}`);
    }
    expect(checked).toBeGreaterThan(2500);
    expect(Math.max(...output)).toBe(32767);
  });

  it('rejects rates that are not positive integers', async () => {
    await expect(resamplePcm16(Buffer.alloc(4), 0, 16000)).rejects.toMatchObject({ code: 'CREW_ERR_INVALID_ARGUMENT' });
    await expect(resamplePcm16(Buffer.alloc(4), 22050, 16000.5)).rejects.toThrow(/toRate/);
  });
});

describe('createPcm16Resampler', () => {
  it('converts a stream in odd-sized pieces with seamless joins', async () => {
    const input = sine(440, 24000, 1);
    const resampler = await createPcm16Resampler(24000, 16000);
    const pieces: Buffer[] = [];
    for (let i = 0; i < input.length; i += 1001) pieces.push(resampler.push(input.subarray(i, i + 1001)));
    resampler.close();
    resampler.close(); // idempotent
    const output = Buffer.concat(pieces);
    expect(output.length / 2).toBeGreaterThan(16000 - 64); // the filter's delay is lost at the end
    expect(output.length / 2).toBeLessThanOrEqual(16000);
    expect(frequency(output, 16000)).toBeCloseTo(440, -1);
    // no clicks at the joins: no step larger than the sine's own steepest slope (plus rounding)
    const s = samples(output);
    const steepest = 0.5 * 32767 * ((2 * Math.PI * 440) / 16000);
    let largestStep = 0;
    for (let i = 100; i < s.length; i++) largestStep = Math.max(largestStep, Math.abs(s[i] - s[i - 1]));
    expect(largestStep).toBeLessThan(steepest * 1.05 + 2);
    expect(() => resampler.push(input)).toThrow(/closed/);
  });

  it('passes audio through at equal rates', async () => {
    const resampler = await createPcm16Resampler(16000, 16000);
    const input = sine(440, 16000, 0.01);
    expect(Buffer.concat([resampler.push(input.subarray(0, 3)), resampler.push(input.subarray(3))]).equals(input)).toBe(true);
  });
});
