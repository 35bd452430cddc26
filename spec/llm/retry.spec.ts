import { defaultBackoff, defaultSleep } from '../../lib/llm/retry';
import { MAX_RETRY_AFTER_MS, retryAfterMs } from '../../lib/llm/retry';
import { isRetryableStatus, serverErrorMessage } from '../../lib/llm/errors';

describe('retry timing', () => {
  const headers = (init: Record<string, string>) => new Headers(init);

  it('reads Retry-After as seconds or as an HTTP date, and retry-after-ms first', () => {
    const now = Date.parse('2024-05-03T12:00:00Z');
    expect(retryAfterMs(headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(headers({ 'retry-after': '0.5' }), now)).toBe(500);
    expect(retryAfterMs(headers({ 'retry-after': 'Fri, 03 May 2024 12:00:07 GMT' }), now)).toBe(7000);
    expect(retryAfterMs(headers({ 'retry-after-ms': '120', 'retry-after': '5' }), now)).toBe(120);
  });

  it('ignores a missing, unreadable, negative or too long Retry-After', () => {
    expect(retryAfterMs(headers({}))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': 'soon' }))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': '-1' }))).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after': String(MAX_RETRY_AFTER_MS / 1000 + 1) }))).toBeUndefined();
  });

  it('backs off exponentially with at most 25 % jitter, capped at 8 s', () => {
    for (let i = 0; i < 20; i++) {
      expect(defaultBackoff(1)).toBeGreaterThanOrEqual(375);
      expect(defaultBackoff(1)).toBeLessThanOrEqual(500);
      expect(defaultBackoff(3)).toBeGreaterThanOrEqual(1500);
      expect(defaultBackoff(3)).toBeLessThanOrEqual(2000);
      expect(defaultBackoff(10)).toBeLessThanOrEqual(8000);
    }
  });

  it('sleeps, and stops sleeping on abort', async () => {
    await expect(defaultSleep(1)).resolves.toBeUndefined();
    const controller = new AbortController();
    const sleeping = defaultSleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    await expect(defaultSleep(1, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });

  it('retries 408, 409, 429 and 5xx only', () => {
    expect([400, 401, 404, 408, 409, 422, 429, 500, 503].filter(isRetryableStatus)).toEqual([408, 409, 429, 500, 503]);
  });

  it('finds the server message in the common error body shapes', () => {
    expect(serverErrorMessage('{"error":{"message":"bad key"}}')).toBe('bad key');
    expect(serverErrorMessage('{"error":"model not found"}')).toBe('model not found');
    expect(serverErrorMessage('{"detail":"Not Found"}')).toBe('Not Found');
    expect(serverErrorMessage('<html>gateway</html>')).toBe('<html>gateway</html>');
    expect(serverErrorMessage('x'.repeat(300))).toHaveLength(201);
  });
});
