import { CrewEvent, CrewSession } from 'rxcrew';
import { AudioPacer } from 'rxcrew/operators';
import { createNodeTestScheduler, runNode } from 'rxcrew/testing';
import { playbackOf } from '../../lib/audio/playback';

// 100 ms of 16 kHz PCM16 mono is 3200 bytes
const audio = (n: number): CrewEvent => ({ type: 'agent.audio', audio: Buffer.alloc(3200, n), sample_rate: 16000 });
const a = audio(1);
const b = audio(2);
const c = audio(3);
const d = audio(4);
const text = { type: 'agent.llm.response.chunk', text: 'hi' };
const interrupt = { type: 'system.control.interrupt' };
const clear = { type: 'agent.control.interrupt', timestamp: expect.any(String) };

function scheduler() {
  return createNodeTestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('AudioPacer', () => {
  it('sends audio at real time with the lead, passing other events straight through', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const input = hot('(abcd)-t', { a, b, c, d, t: text });
      const pacer = new AudioPacer({ leadMs: 200, scheduler: ts });
      // a, b, c go at once (up to 200 ms ahead); d when a has played (100 ms)
      expectObservable(runNode(pacer, input)).toBe('(abc) 2ms t 92ms d', { a, b, c, d, t: text });
    });
  });

  it('drops the unsent audio at an interrupt and tells the client to clear its buffer', () => {
    const ts = scheduler();
    const session = new CrewSession();
    ts.run(({ hot, expectObservable }) => {
      const input = hot('(abcd) 44ms i', { a, b, c, d, i: interrupt });
      const pacer = new AudioPacer({ leadMs: 200, scheduler: ts });
      // a, b, c at 0; d would go at 100: the interrupt at 50 drops it and sends the clear
      expectObservable(runNode(pacer, input, { session })).toBe('(abc) 45ms (xi)', { a, b, c, i: interrupt, x: clear });
    });
    expect(playbackOf(session).isPlaying()).toBe(false);
  });

  it('sends no clear for an interrupt while nothing plays', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const input = hot('a 999ms i', { a, i: interrupt });
      expectObservable(runNode(new AudioPacer({ scheduler: ts }), input)).toBe('a 999ms i', { a, i: interrupt });
    });
  });

  it('records until when the client plays, for barge-in detection', () => {
    const ts = scheduler();
    const session = new CrewSession();
    const seen: boolean[] = [];
    ts.run(({ hot, cold }) => {
      runNode(new AudioPacer({ scheduler: ts }), hot('(ab)', { a, b }), { session }).subscribe();
      cold('150ms x 99ms y').subscribe(() => seen.push(playbackOf(session).isPlaying()));
    });
    expect(seen).toEqual([true, false]);
  });
});
