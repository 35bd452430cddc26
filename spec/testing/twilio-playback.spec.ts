import { TwilioPlayback } from '../../lib/testing/twilio-playback';

/** 8 kHz PCM16 of `ms` milliseconds, each sample = `value`. */
const pcm = (ms: number, value = 1) => {
  const out = Buffer.alloc(ms * 16);
  for (let i = 0; i < out.length; i += 2) out.writeInt16LE(value, i);
  return out;
};

describe('TwilioPlayback (virtual clock)', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => (now = 1000));

  it('plays media at real time, one chunk after another, from when it arrives', () => {
    const p = new TwilioPlayback(clock);
    expect(p.playingUntil).toBe(-Infinity);
    expect(p.play(pcm(20))).toEqual({ start: 1000, end: 1020 });
    expect(p.play(pcm(20))).toEqual({ start: 1020, end: 1040 }); // queued behind the first
    now = 1100; // played out, a gap
    expect(p.isPlaying()).toBe(false);
    expect(p.play(pcm(40))).toEqual({ start: 1100, end: 1140 });
    expect(p.isPlaying()).toBe(true);
  });

  it('makes a mark due when the audio before it has played, and hands out due marks in order', () => {
    const p = new TwilioPlayback(clock);
    p.play(pcm(100));
    expect(p.mark('a')).toBe(1100);
    p.play(pcm(50));
    expect(p.mark('b')).toBe(1150);
    expect(p.mark('c')).toBe(1150);
    expect(p.nextDue).toBe(1100);
    expect(p.takeDue(1099)).toEqual([]);
    expect(p.takeDue(1100)).toEqual(['a']);
    expect(p.nextDue).toBe(1150);
    now = 2000;
    expect(p.takeDue()).toEqual(['b', 'c']);
    expect(p.nextDue).toBeUndefined();
  });

  it('makes a mark with nothing playing due at once', () => {
    const p = new TwilioPlayback(clock);
    expect(p.mark('now')).toBe(1000);
    expect(p.takeDue()).toEqual(['now']);
  });

  it('on clear: drops what has not played, cuts what is playing, returns every waiting mark', () => {
    const p = new TwilioPlayback(clock);
    p.play(pcm(100, 1));
    p.mark('a');
    p.play(pcm(100, 2));
    p.mark('b');
    now = 1050; // halfway through the first
    expect(p.clear()).toEqual(['a', 'b']);
    expect(p.playingUntil).toBe(1050);
    expect(p.nextDue).toBeUndefined();
    now = 5000;
    expect(p.heard()).toEqual(pcm(50, 1)); // half of the first, none of the second
    // what comes after a clear plays at once
    expect(p.play(pcm(20, 3))).toEqual({ start: 5000, end: 5020 });
    expect(p.heard(5010)).toEqual(Buffer.concat([pcm(50, 1), pcm(10, 3)]));
  });

  it('clear with nothing playing keeps what was heard', () => {
    const p = new TwilioPlayback(clock);
    p.play(pcm(20, 7));
    now = 1500;
    expect(p.clear()).toEqual([]);
    expect(p.heard()).toEqual(pcm(20, 7));
    expect(p.playingUntil).toBe(1020);
  });

  it('tells what was heard by any time, in whole samples', () => {
    const p = new TwilioPlayback(clock);
    p.play(pcm(20, 1));
    p.play(pcm(20, 2));
    expect(p.heard(1000)).toEqual(Buffer.alloc(0));
    expect(p.heard(1010.06)).toEqual(pcm(10, 1)); // 80.48 samples: 80
    expect(p.heard(1030)).toEqual(Buffer.concat([pcm(20, 1), pcm(10, 2)]));
    expect(p.heard(9999)).toEqual(Buffer.concat([pcm(20, 1), pcm(20, 2)]));
  });
});
