import { event } from 'rxcrew';
import { RECENT_EVENTS, RECENT_TURNS, SessionRecorder } from '../../../lib/internal/inspector/recorder';

describe('SessionRecorder', () => {
  it('starts empty', () => {
    const r = new SessionRecorder();
    expect(r.recent()).toEqual([]);
    expect(r.turns()).toEqual([]);
  });

  it('keeps the last RECENT_EVENTS lines, oldest first, folding repeats of one type and direction', () => {
    const r = new SessionRecorder();
    for (let i = 0; i < RECENT_EVENTS + 7; i++) r.seen(event(`t.${i}`), 'in');
    r.seen(event(`t.${RECENT_EVENTS + 6}`), 'in'); // a repeat of the last: folded
    r.seen(event(`t.${RECENT_EVENTS + 6}`), 'out'); // another direction: a line of its own
    const recent = r.recent();
    expect(recent).toHaveLength(RECENT_EVENTS);
    expect(recent[0].type).toBe('t.8');
    expect(recent.at(-2)).toMatchObject({ type: `t.${RECENT_EVENTS + 6}`, dir: 'in', n: 2 });
    expect(recent.at(-1)).toMatchObject({ type: `t.${RECENT_EVENTS + 6}`, dir: 'out', n: 1 });
  });

  it('counts audio in bytes and keeps no buffer', () => {
    const r = new SessionRecorder();
    const audio = Buffer.alloc(640);
    r.seen(event('agent.audio', { audio }), 'out');
    r.seen(event('agent.audio', { audio: Buffer.alloc(100) }), 'out');
    expect(r.recent()).toEqual([{ t: expect.any(Number), type: 'agent.audio', dir: 'out', n: 2, bytes: 740 }]);
    expect(JSON.stringify(r.recent())).not.toContain('"audio"');
  });

  it('keeps the last RECENT_TURNS turn.metrics payloads, and no other agent.log', () => {
    const r = new SessionRecorder();
    r.seen(event('agent.log', { name: 'other', payload: 1 }), 'out');
    for (let i = 0; i < RECENT_TURNS + 2; i++) r.seen(event('agent.log', { name: 'turn.metrics', payload: { request_id: `r${i}` } }), 'out');
    const turns = r.turns();
    expect(turns).toHaveLength(RECENT_TURNS);
    expect(turns[0]).toEqual({ request_id: 'r2' });
    expect(turns.at(-1)).toEqual({ request_id: `r${RECENT_TURNS + 1}` });
    // the recent lines name each log; logs of different names are not folded together
    expect(r.recent().map((e) => [e.name, e.n])).toEqual([
      ['other', 1],
      ['turn.metrics', RECENT_TURNS + 2],
    ]);
  });
});
