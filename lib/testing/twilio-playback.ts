/*
 * What Twilio does with the audio a server sends on a bidirectional stream,
 * as a model for the scripted caller: media is queued and played at real time
 * (8 kHz); a mark is answered ("echoed") when playback reaches it; `clear`
 * drops what has not played and answers every mark still waiting at once.
 * The clock is passed in, so the model runs on virtual time in its spec.
 */

/** 8 kHz PCM16: 16 bytes a millisecond. */
const BYTES_PER_MS = 16;

interface Segment {
  pcm: Buffer;
  start: number;
  end: number;
}

export class TwilioPlayback {
  private readonly segments: Segment[] = [];
  private readonly marks: Array<{ name: string; due: number }> = [];
  private until = -Infinity;

  constructor(private readonly now: () => number) {}

  /** When the audio queued so far will have played (ms on the clock; −∞ before any). */
  get playingUntil(): number {
    return this.until;
  }

  /** Whether audio is playing at `at`. */
  isPlaying(at = this.now()): boolean {
    return at < this.until;
  }

  /** Queues 8 kHz PCM16 arriving `at`; it plays after what is queued (or at once). */
  play(pcm: Buffer, at = this.now()): { start: number; end: number } {
    const start = Math.max(at, this.until);
    const end = start + pcm.length / BYTES_PER_MS;
    this.segments.push({ pcm, start, end });
    this.until = end;
    return { start, end };
  }

  /** Queues a mark: it is due when the audio queued before it has played. Returns when. */
  mark(name: string, at = this.now()): number {
    const due = Math.max(at, this.until);
    this.marks.push({ name, due });
    return due;
  }

  /** The marks due by `at`, in the order they came, taken off the queue. */
  takeDue(at = this.now()): string[] {
    let n = 0;
    while (n < this.marks.length && this.marks[n].due <= at) n++;
    return this.marks.splice(0, n).map((m) => m.name);
  }

  /** When the next mark is due, if one is waiting. */
  get nextDue(): number | undefined {
    return this.marks[0]?.due;
  }

  /** Drops the audio not played by `at` and returns every mark still waiting (Twilio echoes them all). */
  clear(at = this.now()): string[] {
    for (let i = this.segments.length - 1; i >= 0 && this.segments[i].end > at; i--) {
      const segment = this.segments[i];
      if (segment.start >= at) this.segments.splice(i, 1);
      else segment.end = at; // cut where playback is
    }
    if (this.until > at) this.until = at;
    return this.marks.splice(0).map((m) => m.name);
  }

  /** The PCM the caller has heard by `at`: what played, cut at a `clear`. */
  heard(at = this.now()): Buffer {
    const parts: Buffer[] = [];
    for (const s of this.segments) {
      if (s.start >= at) break;
      const ms = Math.min(at, s.end) - s.start;
      parts.push(s.pcm.subarray(0, Math.min(s.pcm.length, Math.floor(ms * 8) * 2)));
    }
    return Buffer.concat(parts);
  }
}
