import { RECONNECT, reconnectDelay, resumeUrl } from '../../lib/cli/reconnect';

describe('reconnectDelay', () => {
  const most = () => 1 - Number.EPSILON;
  const least = () => 0;

  it('goes at once after 1012, then waits 100 ms doubling up to 2 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 9].map((n) => reconnectDelay(n, 1012, RECONNECT, most))).toEqual([0, 100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it('waits from the first attempt after any other code', () => {
    for (const code of [1001, 1006, 1011, 1013]) {
      expect([0, 1, 2, 5, 9].map((n) => reconnectDelay(n, code, RECONNECT, most))).toEqual([100, 200, 400, 2000, 2000]);
    }
  });

  it('jitters each wait between half and all of it', () => {
    expect(reconnectDelay(3, 1006, RECONNECT, least)).toBe(400);
    expect(reconnectDelay(3, 1006, RECONNECT, () => 0.5)).toBe(600);
    expect(reconnectDelay(3, 1006, RECONNECT, most)).toBe(800);
    expect(reconnectDelay(0, 1012, RECONNECT, most)).toBe(0);
  });

  it('keeps to a policy given, and does not overflow for large attempt numbers', () => {
    const policy = { ...RECONNECT, baseDelayMs: 10, maxDelayMs: 50 };
    expect([0, 1, 2, 3, 1000].map((n) => reconnectDelay(n, 1006, policy, most))).toEqual([10, 20, 40, 50, 50]);
  });

  it('bounds the outage by default: 10 attempts within 30 s', () => {
    expect(RECONNECT).toEqual({ maxAttempts: 10, maxOutageMs: 30_000, baseDelayMs: 100, maxDelayMs: 2000 });
    expect(Object.isFrozen(RECONNECT)).toBe(true);
  });
});

describe('resumeUrl', () => {
  it('adds resume=TOKEN and keeps the path and other query parameters', () => {
    expect(resumeUrl('ws://127.0.0.1:8080/ws?agent=sales', 'abc.def')).toBe('ws://127.0.0.1:8080/ws?agent=sales&resume=abc.def');
  });

  it('replaces an earlier token and encodes what needs it', () => {
    expect(resumeUrl('wss://example.test/ws?resume=old&x=1', 'a+b/c=')).toBe('wss://example.test/ws?resume=a%2Bb%2Fc%3D&x=1');
  });
});
