import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Resume tokens: `base64url(payload).base64url(HMAC-SHA256(secret, payload))`,
 * the payload `{"s": sessionId, "t": issuedAtMs}`. Signed, not encrypted: a
 * token names its session (an id the client already knows from `agent.ready`)
 * and cannot be forged or altered without the app's secret. Whether the
 * session can still be resumed is the store's to say (its keys expire).
 */

const SEPARATOR = '.';

/** A token for `sessionId`, signed with `secret`. */
export function signResumeToken(secret: string, sessionId: string, issuedAt = Date.now()): string {
  const payload = Buffer.from(JSON.stringify({ s: sessionId, t: issuedAt })).toString('base64url');
  return `${payload}${SEPARATOR}${mac(secret, payload)}`;
}

/** The session id a token names, if `secret` signed it; `undefined` for anything else. */
export function verifyResumeToken(secret: string, token: unknown): string | undefined {
  if (typeof token !== 'string' || token.length > 1024) return undefined;
  const dot = token.indexOf(SEPARATOR);
  if (dot <= 0 || dot !== token.lastIndexOf(SEPARATOR)) return undefined;
  const payload = token.slice(0, dot);
  const given = Buffer.from(token.slice(dot + 1), 'base64url');
  const expected = Buffer.from(mac(secret, payload), 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const { s } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { s?: unknown };
    return typeof s === 'string' && s.length > 0 ? s : undefined;
  } catch {
    return undefined;
  }
}

function mac(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}
