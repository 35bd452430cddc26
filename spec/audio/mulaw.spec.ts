import { MULAW_TO_PCM16, mulawDecode, mulawEncode, mulawToPcm16, pcm16ToMulaw } from '../../lib/audio/mulaw';

/*
 * The expected values are derived here, not by the code under test:
 *  - decoding from G.711's μ-law segment table (Table 2a): segment s starts at
 *    BASE[s] and moves in steps of 2^(s+1), on G.711's 14-bit scale (PCM16 = 4 ×);
 *  - encoding from a line-by-line transcription of ITU-T G.191's reference
 *    `ulaw_compress` (Software Tool Library, g711.c).
 */

/** First decoder output value of each of the eight segments (G.711 Table 2a, 14-bit scale). */
const BASE = [0, 33, 99, 231, 495, 1023, 2079, 4191];
/** Last value of each segment, for a cross-check of the table above: BASE[s] + 15 steps. */
const LAST = [30, 93, 219, 471, 975, 1983, 3999, 8031];

/** The standard's value for a code byte: bits are inverted on the line; then sign (1 = negative), segment, step. */
function standardValue(code: number): number {
  const inverted = 0xff ^ code;
  const negative = (inverted & 0x80) !== 0;
  const segment = (inverted >> 4) & 7;
  const step = inverted & 0x0f;
  const value14 = BASE[segment] + step * 2 ** (segment + 1);
  return negative ? -value14 * 4 || 0 : value14 * 4; // `|| 0`: no JavaScript -0 for 0x7F
}

/** ITU-T G.191 `ulaw_compress` for one 16-bit sample, as written there. */
function g191Compress(x: number): number {
  let absno = x < 0 ? (~x >> 2) + 33 : (x >> 2) + 33;
  if (absno > 0x1fff) absno = 0x1fff;
  let i = absno >> 6;
  let segno = 1;
  while (i !== 0) {
    segno++;
    i >>= 1;
  }
  const highNibble = 0x0008 - segno;
  let lowNibble = (absno >> segno) & 0x000f;
  lowNibble = 0x000f - lowNibble;
  let y = (highNibble << 4) | lowNibble;
  if (x >= 0) y |= 0x0080;
  return y;
}

function pcm(...samples: number[]): Buffer {
  const out = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => out.writeInt16LE(s, i * 2));
  return out;
}

const ALL_CODES = Array.from({ length: 256 }, (_, c) => c);

describe('G.711 μ-law', () => {
  it("the segment table's last values are its first plus fifteen steps (the table itself is right)", () => {
    for (let s = 0; s < 8; s++) expect(BASE[s] + 15 * 2 ** (s + 1)).toBe(LAST[s]);
    // and each segment ends one half step below where the next begins
    for (let s = 0; s < 7; s++) expect(BASE[s + 1] - LAST[s]).toBe(2 ** (s + 1) + 2 ** s);
  });

  it('decodes every one of the 256 codes to the standard value', () => {
    const got = ALL_CODES.map((c) => mulawToPcm16(c));
    expect(got).toEqual(ALL_CODES.map(standardValue));
    expect(Array.from(MULAW_TO_PCM16)).toEqual(ALL_CODES.map(standardValue));
    // a few values read straight off the standard: full scale, zero, the smallest steps
    expect(mulawToPcm16(0x80)).toBe(8031 * 4);
    expect(mulawToPcm16(0x00)).toBe(-8031 * 4);
    expect(mulawToPcm16(0xfe)).toBe(2 * 4);
    expect(mulawToPcm16(0x7e)).toBe(-2 * 4);
    expect(mulawToPcm16(0xef)).toBe(33 * 4);
  });

  it('decodes a buffer to PCM16 little-endian, two bytes a code', () => {
    const bytes = Uint8Array.from(ALL_CODES);
    const out = mulawDecode(bytes);
    expect(out).toBeInstanceOf(Buffer);
    expect(out.length).toBe(512);
    for (const c of ALL_CODES) expect(out.readInt16LE(c * 2)).toBe(standardValue(c));
    expect(mulawDecode(new Uint8Array(0)).length).toBe(0);
  });

  it('encodes every decoded value back to its code (0x7F, negative zero, comes back as 0xFF)', () => {
    for (const c of ALL_CODES) {
      const back = pcm16ToMulaw(standardValue(c));
      expect([c, back]).toEqual([c, c === 0x7f ? 0xff : c]);
    }
    // both zeros decode to 0, and 0 is positive zero
    expect(mulawToPcm16(0x7f)).toBe(0);
    expect(mulawToPcm16(0xff)).toBe(0);
    expect(pcm16ToMulaw(0)).toBe(0xff);
    // a buffer of all 256 codes round-trips the same way
    const roundTrip = mulawEncode(mulawDecode(Uint8Array.from(ALL_CODES)));
    expect(Array.from(roundTrip)).toEqual(ALL_CODES.map((c) => (c === 0x7f ? 0xff : c)));
  });

  it('encodes every PCM16 sample exactly as the G.191 reference does', () => {
    const mismatches: number[] = [];
    for (let x = -32768; x <= 32767; x++) if (pcm16ToMulaw(x) !== g191Compress(x)) mismatches.push(x);
    expect(mismatches).toEqual([]);
    // the buffer encoder is the same function
    const samples = [-32768, -12345, -5, -4, -1, 0, 1, 3, 4, 100, 8031 * 4, 32767];
    expect(Array.from(mulawEncode(pcm(...samples)))).toEqual(samples.map(g191Compress));
  });

  it('encodes to the nearest level: the error is at most half a step (plus the 14-bit truncation)', () => {
    const tooFar: number[] = [];
    for (let x = -32124; x <= 32124; x++) {
      const decoded = mulawToPcm16(pcm16ToMulaw(x));
      let segment = 0;
      while (segment < 7 && Math.abs(decoded) / 4 >= BASE[segment + 1]) segment++;
      if (Math.abs(decoded - x) > 2 ** (segment + 1) * 2 + 4) tooFar.push(x);
    }
    expect(tooFar).toEqual([]);
  });

  it('clips beyond full scale to the largest code of each sign', () => {
    expect(pcm16ToMulaw(32767)).toBe(0x80);
    expect(pcm16ToMulaw(32124)).toBe(0x80);
    expect(pcm16ToMulaw(-32768)).toBe(0x00);
    expect(Array.from(mulawEncode(pcm(32767, -32768)))).toEqual([0x80, 0x00]);
    // numbers outside PCM16 (a scalar caller's mistake) clip too
    expect(pcm16ToMulaw(1e6)).toBe(0x80);
    expect(pcm16ToMulaw(-1e6)).toBe(0x00);
  });

  it('refuses PCM16 of an odd byte count, saying why', () => {
    expect(() => mulawEncode(Buffer.alloc(3))).toThrow(expect.objectContaining({ code: 'CREW_ERR_INVALID_ARGUMENT' }));
    expect(() => mulawEncode(Buffer.alloc(3))).toThrow(/two bytes a sample; got 3 bytes/);
    expect(mulawEncode(Buffer.alloc(0)).length).toBe(0);
  });

  it('reads any byte offset (a view into a larger buffer)', () => {
    const big = Buffer.concat([Buffer.from([9]), pcm(1000, -1000)]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 1, 4);
    expect(Array.from(mulawEncode(view))).toEqual([g191Compress(1000), g191Compress(-1000)]);
  });
});
