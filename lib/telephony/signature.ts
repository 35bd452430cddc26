import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * `X-Twilio-Signature`, as Twilio documents it ("Webhooks security"): the
 * base64 HMAC-SHA1, keyed with the account's auth token, of the full URL
 * Twilio requested followed by every POST parameter sorted by name, each as
 * name + value with no delimiters. A name that repeats contributes each of
 * its distinct values once, sorted (as Twilio's own libraries sign).
 */

/** POST parameters: `[name, value]` pairs (as `parseFormBody` gives), or a record (a value may be a list). */
export type SignedParams = Iterable<readonly [string, string]> | Readonly<Record<string, string | readonly string[]>>;

/** The string Twilio signs: `url`, then each parameter as name + value, sorted by name. */
export function signedString(url: string, params: SignedParams = []): string {
  const byName = new Map<string, Set<string>>();
  const add = (name: string, value: string) => {
    let values = byName.get(name);
    if (values === undefined) byName.set(name, (values = new Set()));
    values.add(value);
  };
  if (isIterable(params)) for (const [name, value] of params) add(name, value);
  else for (const [name, value] of Object.entries(params)) for (const v of typeof value === 'string' ? [value] : value) add(name, v);
  let signed = url;
  for (const name of [...byName.keys()].sort()) for (const value of [...byName.get(name)!].sort()) signed += name + value;
  return signed;
}

/** The signature Twilio sends for a request to `url` with `params` (base64 HMAC-SHA1 keyed with `authToken`). */
export function twilioSignature(authToken: string, url: string, params: SignedParams = []): string {
  return createHmac('sha1', authToken).update(signedString(url, params), 'utf8').digest('base64');
}

/** What `validateTwilioSignature` checks. */
export interface SignatureCheck {
  authToken: string;
  /** The `X-Twilio-Signature` header (missing: the check fails). */
  signature: string | string[] | undefined;
  /** The full URL Twilio requested (`requestUrl()` rebuilds it behind a proxy). */
  url: string;
  params?: SignedParams;
}

/**
 * Whether `signature` is Twilio's for this request. The URL is tried as given
 * and with the port changed the way Twilio's own libraries allow (Twilio may
 * sign with or without it): with the default port added when there is none,
 * and with the port removed. Digests are compared in constant time.
 */
export function validateTwilioSignature({ authToken, signature, url, params = [] }: SignatureCheck): boolean {
  if (typeof signature !== 'string' || authToken === '') return false;
  const given = Buffer.from(signature, 'base64');
  if (given.length !== 20 || given.toString('base64') !== signature) return false; // not a SHA-1 digest in canonical base64
  const pairs = isIterable(params) ? [...params] : params; // read once, however many URLs are tried
  let valid = false;
  for (const candidate of urlVariants(url)) {
    const expected = createHmac('sha1', authToken).update(signedString(candidate, pairs), 'utf8').digest();
    valid = timingSafeEqual(expected, given) || valid; // no early exit: each variant costs the same
  }
  return valid;
}

/** `url` as given, with its scheme's default port added (when it has no port), and with its port removed. */
export function urlVariants(url: string): string[] {
  const match = /^(https?):\/\/([^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)(:\d*)?(.*)$/is.exec(url);
  if (match === null) return [url];
  const [, scheme, userinfo = '', host, port, rest] = match;
  const base = `${scheme}://${userinfo}${host}`;
  const withPort = port === undefined ? `${base}:${scheme.toLowerCase() === 'https' ? 443 : 80}${rest}` : url;
  const withoutPort = `${base}${rest}`;
  return [...new Set([url, withPort, withoutPort])];
}

function isIterable(params: SignedParams): params is Iterable<readonly [string, string]> {
  return typeof (params as Iterable<unknown>)[Symbol.iterator] === 'function';
}
