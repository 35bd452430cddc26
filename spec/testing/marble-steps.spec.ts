import { TestScheduler } from 'rxjs/testing';
import { drawMarble, interruptFor, marbleSteps } from '../../lib/testing/marble-steps';

describe('marbleSteps', () => {
  it('reads marbles as TestScheduler.run does: 1 ms a character, groups, time progression, ^', () => {
    expect(marbleSteps('-a-(bc)-d 10ms e|', 'm')).toEqual([
      { frame: 1, mark: 'a' },
      { frame: 3, mark: 'b' },
      { frame: 3, mark: 'c' },
      { frame: 8, mark: 'd' },
      { frame: 19, mark: 'e' },
      { frame: 20, mark: '|' },
    ]);
    // ^ is frame 0 and takes a character, as in TestScheduler's hot marbles
    expect(marbleSteps('^-a#', 'm')).toEqual([
      { frame: 2, mark: 'a' },
      { frame: 3, mark: '#' },
    ]);
  });

  it('leaves TestScheduler.frameTimeFactor as it found it', () => {
    expect(TestScheduler.frameTimeFactor).toBe(10);
    marbleSteps('--a', 'm');
    expect(TestScheduler.frameTimeFactor).toBe(10);
  });

  it('refuses what comes before ^, and anything but a string', () => {
    expect(() => marbleSteps('a^-b', 'client')).toThrow("client: nothing may come before '^' (in \"a^-b\")");
    expect(() => marbleSteps(3 as never, 'client')).toThrow('client: expected a marble string, got number');
  });
});

describe('drawMarble', () => {
  it('draws what marbleSteps reads back to the same frames', () => {
    for (const marble of ['a', '-a--b', '(ab)-c', '(rg) 6ms s 29ms (tT) 26ms a', 'r 1000ms |', '---(ab#)']) {
      const steps = marbleSteps(marble, 'm');
      expect(marbleSteps(drawMarble(steps), 'm')).toEqual(steps);
    }
    expect(drawMarble(marbleSteps('a------b', 'm'))).toBe('a 6ms b');
    expect(drawMarble([])).toBe('');
  });

  it('draws marks closer than a group is wide right after it (the frame lists are exact)', () => {
    expect(drawMarble([{ frame: 0, mark: 'a' }, { frame: 0, mark: 'b' }, { frame: 1, mark: 'c' }])).toBe('(ab)c');
  });
});

describe('interruptFor', () => {
  it("is a plain interrupt, or the letter's interrupt event from values", () => {
    expect(interruptFor('i', undefined)).toEqual({ type: 'system.control.interrupt' });
    expect(interruptFor('i', { a: { type: 'x' } })).toEqual({ type: 'system.control.interrupt' });
    const mine = { type: 'system.control.interrupt', why: 'barge-in' };
    expect(interruptFor('i', { i: mine })).toBe(mine);
    expect(() => interruptFor('i', { i: { type: 'system.init' } })).toThrow(/letter 'i' is a "system.init"/);
  });
});
