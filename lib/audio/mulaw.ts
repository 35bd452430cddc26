import { InvalidArgumentError } from '../errors';

/*
 * G.711 μ-law (PCMU), the codec of every telephone line and of Twilio Media
 * Streams: one byte a sample, 8 kHz. Here it converts to and from the PCM16
 * little-endian mono the rest of rxcrew carries (`user.audio`, `agent.audio`).
 *
 * A code byte is the bitwise inverse of `sign | segment << 4 | step` (sign set
 * for negative values). Segment s (0–7) holds 16 steps of 2^(s+1) in G.711's
 * 14-bit scale; code → value is ((2·step + 33) << s) − 33, which PCM16 scales
 * by 4 (±32,124 at full scale). Encoding follows the ITU-T G.191 reference
 * (`ulaw_compress`): negative samples take their ones' complement before the
 * shift, so the code of x and of −x − 1 differ only in sign, and −1 to −4
 * become "negative zero" (0x7F) as 0 to 3 become 0xFF.
 *
 * A package (`alawmulaw`) does the same on Int16Arrays; this file is shorter
 * than the copies to and from Buffers that using it would take.
 */

/** PCM16 of each of the 256 μ-law codes (decoding is one look-up a sample). */
export const MULAW_TO_PCM16: Readonly<Int16Array> = buildDecodeTable();

/** The μ-law code of every PCM16 sample >> 2 (14 bits, offset by 8,192): encoding is one look-up too. */
const ENCODE_14BIT = buildEncodeTable();

/** The PCM16 value of one μ-law code (0–255). */
export function mulawToPcm16(code: number): number {
  return MULAW_TO_PCM16[code & 0xff];
}

/** The μ-law code of one PCM16 sample (clipped to −32,768 … 32,767 first). */
export function pcm16ToMulaw(sample: number): number {
  const s = sample > 32767 ? 32767 : sample < -32768 ? -32768 : sample | 0;
  return ENCODE_14BIT[(s >> 2) + 8192];
}

/**
 * Decodes μ-law bytes to PCM16 LE (two bytes a sample, a new Buffer).
 *
 * @example
 * const pcm = mulawDecode(Buffer.from(message.media.payload, 'base64'));
 */
export function mulawDecode(mulaw: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(mulaw.length * 2);
  for (let i = 0, b = 0; i < mulaw.length; i++, b += 2) {
    const v = MULAW_TO_PCM16[mulaw[i]];
    out[b] = v & 0xff;
    out[b + 1] = (v >> 8) & 0xff;
  }
  return out;
}

/**
 * Encodes PCM16 LE to μ-law (one byte a sample, a new Buffer). Throws
 * `InvalidArgumentError` for an odd byte count: half a sample means the
 * bytes are not PCM16, or were cut in the wrong place.
 *
 * @example
 * const payload = mulawEncode(pcm8k).toString('base64');
 */
export function mulawEncode(pcm: Uint8Array): Buffer {
  if (pcm.length % 2 !== 0) {
    throw new InvalidArgumentError(`mulawEncode: PCM16 has two bytes a sample; got ${pcm.length} bytes (an odd count)`);
  }
  const out = Buffer.allocUnsafe(pcm.length >> 1);
  for (let i = 0, b = 0; i < out.length; i++, b += 2) {
    const sample = ((pcm[b] | (pcm[b + 1] << 8)) << 16) >> 16;
    out[i] = ENCODE_14BIT[(sample >> 2) + 8192];
  }
  return out;
}

function buildDecodeTable(): Int16Array {
  const table = new Int16Array(256);
  for (let code = 0; code < 256; code++) {
    const raw = ~code & 0xff;
    const segment = (raw >> 4) & 0x07;
    const step = raw & 0x0f;
    const magnitude = (((2 * step + 33) << segment) - 33) * 4;
    table[code] = raw & 0x80 ? -magnitude : magnitude;
  }
  return table;
}

function buildEncodeTable(): Uint8Array {
  const table = new Uint8Array(16384);
  for (let i = 0; i < 16384; i++) {
    const x = i - 8192; // a 14-bit sample
    const negative = x < 0;
    let magnitude = negative ? ~x : x; // ones' complement, as G.191
    if (magnitude > 8158) magnitude = 8158;
    const biased = magnitude + 33; // 33 … 8191: the segment is where its top bit is
    const segment = 31 - Math.clz32(biased) - 5;
    const step = (biased >> (segment + 1)) & 0x0f;
    table[i] = ~((negative ? 0x80 : 0) | (segment << 4) | step) & 0xff;
  }
  return table;
}
