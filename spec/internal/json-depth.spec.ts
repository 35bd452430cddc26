import { jsonDepthExceeds, valueDepthExceeds } from '../../lib/internal/json-depth';

describe('jsonDepthExceeds', () => {
  it('counts objects and arrays, not brackets inside strings', () => {
    expect(jsonDepthExceeds('{"a":[{"b":1}]}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":[{"b":1}]}', 2)).toBe(true);
    expect(jsonDepthExceeds('{"s":"[[[[[[[[{{{{"}', 1)).toBe(false);
    expect(jsonDepthExceeds('{"s":"\\"[[[["}', 1)).toBe(false);
    expect(jsonDepthExceeds('[]', 0)).toBe(true);
    expect(jsonDepthExceeds('42', 0)).toBe(false);
  });

  it('refuses a huge run of brackets at once', () => {
    expect(jsonDepthExceeds('['.repeat(100_000), 32)).toBe(true);
  });
});

describe('valueDepthExceeds', () => {
  it('measures decoded values the same way', () => {
    expect(valueDepthExceeds({ a: [{ b: 1 }] }, 3)).toBe(false);
    expect(valueDepthExceeds({ a: [{ b: 1 }] }, 2)).toBe(true);
    expect(valueDepthExceeds('text', 0)).toBe(false);
  });
});
