import { HookRegistry } from '../lib/hooks';

describe('HookRegistry', () => {
  const noop = () => undefined;

  it('returns matches in registration order across pattern kinds', () => {
    const r = new HookRegistry();
    r.add('*', noop);
    r.add('agent.speak', noop);
    r.add('agent.*', noop);
    expect(r.match('agent.speak').map((h) => h.pattern)).toEqual(['*', 'agent.speak', 'agent.*']);
    expect(r.match('system.init').map((h) => h.pattern)).toEqual(['*']);
  });

  it('finds matches with a few hooks, and forgets a removed one', () => {
    const r = new HookRegistry();
    expect(r.match('a.b')).toHaveLength(0);
    const off = r.add('a.*', noop);
    expect(r.match('a.b')).toHaveLength(1);
    expect(r.match('a.c').map((h) => h.pattern)).toEqual(['a.*']);
    off();
    expect(r.match('a.b')).toHaveLength(0);
    expect(r.match('a.c')).toHaveLength(0);
  });

  it('caches per type with many hooks, and forgets the cache when hooks change', () => {
    const r = new HookRegistry();
    for (let i = 0; i < 12; i++) r.add(`other.${i}`, noop);
    const off = r.add('a.*', noop);
    expect(r.match('a.b')).toHaveLength(1);
    expect(r.match('a.b')).toBe(r.match('a.b'));
    expect(r.match('other.3').map((h) => h.pattern)).toEqual(['other.3']);
    off();
    expect(r.match('a.b')).toHaveLength(0);
    r.add('*', noop);
    expect(r.match('a.b').map((h) => h.pattern)).toEqual(['*']);
  });

  it('matches aliases given as patterns against canonical types', () => {
    const r = new HookRegistry();
    r.add('system.user_left', noop);
    expect(r.match('system.user.left')).toHaveLength(1);
  });
});
