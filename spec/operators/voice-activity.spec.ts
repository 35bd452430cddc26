import { Subject } from 'rxjs';
import { CrewEvent, ErrorCodes } from 'rxcrew';
import { VoiceActivity, VoiceActivityOptions } from 'rxcrew/operators';
import { runNode } from 'rxcrew/testing';
import { frames, noise, silence, tone } from '../support/pcm';

interface Seen {
  /** How many ms of audio had been fed when the event came out. */
  atMs: number;
  type: string;
  offset_ms?: number;
}

/** Feeds `pcm` in `frameMs` frames and records each event with the audio fed so far. */
function detect(pcm: Buffer, options: VoiceActivityOptions = {}, rate = 16000, frameMs = 20): Seen[] {
  const input = new Subject<CrewEvent>();
  const seen: Seen[] = [];
  let fedMs = 0;
  runNode(new VoiceActivity(options), input).subscribe((e) => {
    const short = e.type.replace('system.user.', '');
    seen.push({ atMs: Math.round(fedMs * 1000) / 1000, type: short, ...(e.offset_ms === undefined ? {} : { offset_ms: e.offset_ms as number }) });
  });
  for (const frame of frames(pcm, frameMs, rate)) {
    fedMs += (frame.length / 2 / rate) * 1000;
    input.next({ type: 'user.audio', audio: frame, sample_rate: rate });
  }
  return seen;
}

describe('VoiceActivity', () => {
  it('starts after startMs of tone, timed from the samples', () => {
    expect(detect(tone(200), { startMs: 80 })).toEqual([{ atMs: 80, type: 'started_speaking', offset_ms: 0 }]);
    expect(detect(Buffer.concat([silence(100), tone(200)]), { startMs: 60 })).toEqual([
      { atMs: 160, type: 'started_speaking', offset_ms: 100 },
    ]);
  });

  it('stops after hangoverMs of silence, and a shorter pause does not stop it', () => {
    const pcm = Buffer.concat([tone(200), silence(300), tone(200), silence(600)]);
    expect(detect(pcm, { startMs: 80, hangoverMs: 400 })).toEqual([
      { atMs: 80, type: 'started_speaking', offset_ms: 0 },
      { atMs: 1100, type: 'stopped_speaking', offset_ms: 700 },
    ]);
  });

  it('ignores clicks shorter than startMs and low noise', () => {
    const clicks = Buffer.concat([tone(40), silence(200), tone(60), silence(200)]);
    expect(detect(clicks, { startMs: 80 })).toEqual([]);
    expect(detect(noise(2000, 16000, -60), { threshold: -40 })).toEqual([]);
    expect(detect(tone(500, 16000, -45), { threshold: -40 })).toEqual([]);
  });

  it('keeps speaking within the hysteresis and stops below it', () => {
    // started at -30 dBFS, then a quieter stretch at -43 (under -40, above -40 - 6)
    const pcm = Buffer.concat([tone(200, 16000, -30), tone(1000, 16000, -43), tone(500, 16000, -50)]);
    expect(detect(pcm, { threshold: -40, hysteresis: 6, hangoverMs: 400 })).toEqual([
      { atMs: 80, type: 'started_speaking', offset_ms: 0 },
      { atMs: 1600, type: 'stopped_speaking', offset_ms: 1200 },
    ]);
  });

  it('gives the same events at any frame size, odd byte counts included', () => {
    const pcm = Buffer.concat([silence(50), tone(300), silence(500)]);
    const byOffsets = (seen: Seen[]) => seen.map(({ type, offset_ms }) => ({ type, offset_ms }));
    const twenty = byOffsets(detect(pcm));
    expect(twenty).toEqual([
      { type: 'started_speaking', offset_ms: 50 },
      { type: 'stopped_speaking', offset_ms: 350 },
    ]);
    // 7-byte frames split samples across events
    const input = new Subject<CrewEvent>();
    const seen: CrewEvent[] = [];
    runNode(new VoiceActivity(), input).subscribe((e) => seen.push(e));
    for (let i = 0; i < pcm.length; i += 7) input.next({ type: 'user.audio', audio: pcm.subarray(i, i + 7), sample_rate: 16000 });
    expect(seen.map((e) => ({ type: e.type.replace('system.user.', ''), offset_ms: e.offset_ms }))).toEqual(twenty);
  });

  it.each([8000, 22050, 44100, 48000])('times from the samples at %i Hz', (rate) => {
    const pcm = Buffer.concat([tone(300, rate, -20, 300), silence(600, rate)]);
    const seen = detect(pcm, { startMs: 80, hangoverMs: 400 }, rate);
    expect(seen.map((s) => s.type)).toEqual(['started_speaking', 'stopped_speaking']);
    expect(seen[0].offset_ms).toBe(0);
    // windows are whole samples: within one window (10 ms) of the exact times
    expect(seen[0].atMs).toBeGreaterThanOrEqual(80);
    expect(seen[0].atMs).toBeLessThanOrEqual(100);
    expect(seen[1].offset_ms).toBeCloseTo(300, -1);
    expect(seen[1].atMs).toBeGreaterThanOrEqual(700);
    expect(seen[1].atMs).toBeLessThanOrEqual(720);
  });

  it('uses the session rate when an event has no sample_rate, and follows a change of rate', () => {
    const input = new Subject<CrewEvent>();
    const seen: CrewEvent[] = [];
    runNode(new VoiceActivity(), input).subscribe((e) => seen.push(e));
    input.next({ type: 'user.audio', audio: tone(60) }); // 16 kHz, the default
    input.next({ type: 'user.audio', audio: tone(60, 8000), sample_rate: 8000 });
    input.next({ type: 'user.audio', audio: silence(500, 8000), sample_rate: 8000 });
    expect(seen.map((e) => [e.type, e.offset_ms])).toEqual([
      ['system.user.started_speaking', 0],
      ['system.user.stopped_speaking', 120],
    ]);
  });

  it('raises the threshold over an adaptive noise floor', () => {
    const pcm = Buffer.concat([noise(1000, 16000, -35), tone(300, 16000, -10), noise(1000, 16000, -35)]);
    // fixed threshold: the noise itself is "speech"
    expect(detect(pcm, { threshold: -40 })[0]).toEqual({ atMs: 80, type: 'started_speaking', offset_ms: 0 });
    expect(detect(pcm, { threshold: -40, noiseMargin: 10 })).toEqual([
      { atMs: 1080, type: 'started_speaking', offset_ms: 1000 },
      { atMs: 1700, type: 'stopped_speaking', offset_ms: 1300 },
    ]);
  });

  it('consumes user.audio, passes every other event through, and ends speech on completion', () => {
    const input = new Subject<CrewEvent>();
    const seen: string[] = [];
    let completed = false;
    runNode(new VoiceActivity(), input).subscribe({ next: (e) => seen.push(e.type), complete: () => (completed = true) });
    const chunk = { type: 'agent.llm.response.chunk', text: 'hi' };
    input.next(chunk);
    input.next({ type: 'user.audio', audio: tone(100), sample_rate: 16000 });
    input.next({ type: 'user.audio', audio: 'not bytes' });
    input.complete();
    expect(seen).toEqual(['agent.llm.response.chunk', 'system.user.started_speaking', 'system.user.stopped_speaking']);
    expect(completed).toBe(true);
  });

  it('keeps per-session state apart', () => {
    const node = new VoiceActivity();
    const a = new Subject<CrewEvent>();
    const b = new Subject<CrewEvent>();
    const seenA: string[] = [];
    const seenB: string[] = [];
    runNode(node, a).subscribe((e) => seenA.push(e.type));
    runNode(node, b).subscribe((e) => seenB.push(e.type));
    a.next({ type: 'user.audio', audio: tone(60), sample_rate: 16000 });
    b.next({ type: 'user.audio', audio: tone(60), sample_rate: 16000 });
    expect(seenA).toEqual([]);
    a.next({ type: 'user.audio', audio: tone(40), sample_rate: 16000 });
    expect(seenA).toEqual(['system.user.started_speaking']);
    expect(seenB).toEqual([]);
  });

  it.each([
    [{ threshold: 3 }, /threshold/],
    [{ startMs: -1 }, /startMs/],
    [{ hangoverMs: Number.NaN }, /hangoverMs/],
    [{ windowMs: 0 }, /windowMs/],
    [{ noiseMargin: -2 }, /noiseMargin/],
  ])('rejects bad options %p', (options, message) => {
    expect(() => new VoiceActivity(options)).toThrow(message);
    expect(() => new VoiceActivity(options)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  });
});
