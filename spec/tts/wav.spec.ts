import { parseWav, pcm16MonoOfWav } from '../../lib/tts/wav';

function chunk(id: string, body: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.write(id, 0, 'latin1');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body, body.length % 2 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

function fmt(format: number, channels: number, rate: number, bits: number): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt16LE(format, 0);
  body.writeUInt16LE(channels, 2);
  body.writeUInt32LE(rate, 4);
  body.writeUInt32LE((rate * channels * bits) / 8, 8);
  body.writeUInt16LE((channels * bits) / 8, 12);
  body.writeUInt16LE(bits, 14);
  return chunk('fmt ', body);
}

function wav(...chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
  return Buffer.concat([Buffer.from('RIFF', 'latin1'), Buffer.from(Uint32Array.of(body.length).buffer), body]);
}

describe('parseWav', () => {
  it('reads the format and the samples of a plain 44-byte-header file', () => {
    const samples = Buffer.from([1, 0, 2, 0, 0xff, 0xff]);
    const file = wav(fmt(1, 1, 22050, 16), chunk('data', samples));
    expect(file.length).toBe(44 + samples.length);
    const parsed = parseWav(file);
    expect(parsed).toMatchObject({ format: 1, channels: 1, sampleRate: 22050, bitsPerSample: 16 });
    expect(parsed.data.equals(samples)).toBe(true);
  });

  it('walks past other chunks, odd-sized ones padded', () => {
    const samples = Buffer.from([9, 0, 8, 0]);
    const file = wav(chunk('LIST', Buffer.from('odd')), fmt(1, 1, 16000, 16), chunk('fact', Buffer.alloc(4)), chunk('data', samples));
    expect(parseWav(file).data.equals(samples)).toBe(true);
  });

  it('cuts a data chunk whose declared size runs past the end (a streamed file)', () => {
    const file = wav(fmt(1, 1, 16000, 16), chunk('data', Buffer.alloc(10)));
    file.writeUInt32LE(0xffffffff, 40);
    expect(parseWav(file).data.length).toBe(10);
  });

  it('throws saying what is wrong', () => {
    expect(() => parseWav(Buffer.from('not a wav file at all'))).toThrow(/not a WAV file/);
    expect(() => parseWav(wav(chunk('data', Buffer.alloc(2)), fmt(1, 1, 16000, 16)))).toThrow(/before the fmt/);
    expect(() => parseWav(wav(fmt(1, 1, 16000, 16)))).toThrow(/no data chunk/);
    expect(() => parseWav(wav(chunk('data', Buffer.alloc(0)).subarray(0, 4)))).toThrow(/no fmt chunk/);
  });
});

describe('pcm16MonoOfWav', () => {
  it('returns the rate and samples of PCM16 mono', () => {
    const { sampleRate, pcm } = pcm16MonoOfWav(new Uint8Array(wav(fmt(1, 1, 8000, 16), chunk('data', Buffer.alloc(6)))));
    expect(sampleRate).toBe(8000);
    expect(pcm.length).toBe(6);
  });

  it('refuses stereo, 8-bit and float files, naming what it found', () => {
    expect(() => pcm16MonoOfWav(wav(fmt(1, 2, 8000, 16), chunk('data', Buffer.alloc(8))))).toThrow(/16-bit, 2 channel/);
    expect(() => pcm16MonoOfWav(wav(fmt(1, 1, 8000, 8), chunk('data', Buffer.alloc(8))))).toThrow(/8-bit/);
    expect(() => pcm16MonoOfWav(wav(fmt(3, 1, 8000, 32), chunk('data', Buffer.alloc(8))))).toThrow(/format 3/);
  });
});
