/*
 * Reading a RIFF/WAVE file's PCM. A dependency would be overkill: what is
 * needed is the `fmt ` chunk (format, channels, rate, bits) and where the
 * `data` chunk starts. Chunks are walked rather than a 44-byte header assumed,
 * because writers add `LIST`/`fact` chunks or pad odd-sized ones.
 */

/** What a WAV file holds. `data` is a view into the file's bytes, not a copy. */
export interface WavAudio {
  /** 1 = integer PCM, 3 = IEEE float, 0xfffe = extensible, … */
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  data: Buffer;
}

/**
 * Parses a WAV file. Throws an `Error` saying what is wrong when `bytes` is
 * not one (no `RIFF`/`WAVE` tag, no `fmt ` or `data` chunk). A `data` chunk
 * whose declared size runs past the end (a streamed file) is cut to what is there.
 *
 * @example
 * const { sampleRate, data } = parseWav(fs.readFileSync('hello.wav'));
 */
export function parseWav(bytes: Uint8Array): WavAudio {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw new Error('parseWav: not a WAV file (no RIFF/WAVE header)');
  }
  let fmt: Omit<WavAudio, 'data'> | undefined;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('latin1', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > buf.length) throw new Error('parseWav: the fmt chunk is truncated');
      fmt = {
        format: buf.readUInt16LE(body),
        channels: buf.readUInt16LE(body + 2),
        sampleRate: buf.readUInt32LE(body + 4),
        bitsPerSample: buf.readUInt16LE(body + 14),
      };
    } else if (id === 'data') {
      if (fmt === undefined) throw new Error('parseWav: the data chunk comes before the fmt chunk');
      return { ...fmt, data: buf.subarray(body, Math.min(body + size, buf.length)) };
    }
    offset = body + size + (size % 2); // chunks are padded to an even size
  }
  throw new Error(fmt === undefined ? 'parseWav: no fmt chunk' : 'parseWav: no data chunk');
}

/**
 * The PCM16 mono samples of a WAV file, or an `Error` naming the format found
 * when it is anything else (the engines here produce only PCM16 mono).
 */
export function pcm16MonoOfWav(bytes: Uint8Array): { sampleRate: number; pcm: Buffer } {
  const wav = parseWav(bytes);
  if (wav.format !== 1 || wav.bitsPerSample !== 16 || wav.channels !== 1) {
    throw new Error(
      `expected 16-bit PCM mono WAV, got format ${wav.format}, ${wav.bitsPerSample}-bit, ${wav.channels} channel(s)`,
    );
  }
  return { sampleRate: wav.sampleRate, pcm: wav.data };
}

/** The 44-byte header of a PCM16 mono WAV file holding `dataBytes` bytes of samples at `sampleRate`. */
export function wavHeader(dataBytes: number, sampleRate: number): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + dataBytes, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // integer PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28); // bytes a second
  header.writeUInt16LE(2, 32); // bytes a frame
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(dataBytes, 40);
  return header;
}

/** A PCM16 mono WAV file of `pcm` (little-endian samples): what `parseWav` reads back. */
export function pcm16Wav(pcm: Buffer, sampleRate: number): Buffer {
  return Buffer.concat([wavHeader(pcm.length, sampleRate), pcm]);
}
