import type { IncomingHttpHeaders } from 'node:http';

/*
 * The pieces of the `POST /twilio/voice` webhook, as pure functions: where the
 * server is reachable from outside (for the `<Stream url>` and for checking a
 * signature over the URL Twilio requested), the TwiML answer, and the form
 * body Twilio posts.
 */

/** Where the server is reachable from outside. */
export interface PublicOrigin {
  /** `https`/`wss` (true) or `http`/`ws`. */
  secure: boolean;
  /** Host name, with `:port` when not the default. */
  host: string;
}

/** What `publicOrigin` reads. */
export interface PublicOriginOptions {
  headers: IncomingHttpHeaders;
  /**
   * The server's public base URL (`https://agent.example.com`, `wss://…`, or a bare host);
   * when set, the request's headers are not read (a proxy's can be forged).
   */
  publicUrl?: string;
}

// a host name or an IPv4/IPv6 literal, then an optional port: nothing else goes into a URL or attribute
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The server's public origin: from `publicUrl` when given, else the first
 * `X-Forwarded-Host` (a tunnel or proxy in front), else `Host`. The scheme
 * is secure unless `publicUrl` says `http:`/`ws:` or, without it,
 * `X-Forwarded-Proto` says `http` (Twilio streams only to `wss://` URLs).
 * `undefined` when no well-formed host is known.
 */
export function publicOrigin({ headers, publicUrl }: PublicOriginOptions): PublicOrigin | undefined {
  if (publicUrl !== undefined) {
    const match = /^(?:(https?|wss?):\/\/)?([^/?#]+)/i.exec(publicUrl.trim());
    if (match === null || !HOST.test(match[2])) return undefined;
    const scheme = (match[1] ?? 'https').toLowerCase();
    return { secure: scheme === 'https' || scheme === 'wss', host: match[2] };
  }
  const host = firstValue(headers['x-forwarded-host']) ?? firstValue(headers.host);
  if (host === undefined || !HOST.test(host)) return undefined;
  return { secure: firstValue(headers['x-forwarded-proto'])?.toLowerCase() !== 'http', host };
}

/** The WebSocket URL for `<Stream url>`: `wss://HOST` + `path` (default `/twilio`). */
export function streamUrl(origin: PublicOrigin, path = '/twilio'): string {
  return `${origin.secure ? 'wss' : 'ws'}://${origin.host}${path}`;
}

/**
 * The URL Twilio requested, as it signs it: `https://HOST` + the request's
 * path and query (`req.url`, as received).
 */
export function requestUrl(origin: PublicOrigin, pathAndQuery: string): string {
  return `${origin.secure ? 'https' : 'http'}://${origin.host}${pathAndQuery}`;
}

/**
 * The TwiML that connects a call to a bidirectional Media Stream, passing
 * `parameters` as `<Parameter>`s (they arrive in `start.customParameters`).
 * Names and values are XML-escaped.
 *
 * @example
 * connectStreamTwiml('wss://agent.example.com/twilio', { from: '+15551234567' })
 * // <?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://agent.example.com/twilio">
 * //   <Parameter name="from" value="+15551234567"/></Stream></Connect></Response>   (one line)
 */
export function connectStreamTwiml(url: string, parameters: Readonly<Record<string, string>> = {}): string {
  const params = Object.entries(parameters)
    .map(([name, value]) => `<Parameter name="${escapeXml(name)}" value="${escapeXml(value)}"/>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${escapeXml(url)}">${params}</Stream></Connect></Response>`;
}

/**
 * The voice webhook's fields passed on to the stream by default, and the
 * names they get there (snake_case, as `call_sid`, `stream_sid` and
 * `account_sid`, which `start` carries anyway).
 */
export const DEFAULT_CALL_PARAMETERS: Readonly<Record<string, string>> = Object.freeze({
  From: 'from',
  To: 'to',
  Direction: 'direction',
  CallerName: 'caller_name',
  ForwardedFrom: 'forwarded_from',
});

/**
 * Picks the fields of a voice webhook's form to pass to the stream, renamed
 * by `names` (Twilio's name → the parameter's). Missing and empty fields are left out.
 */
export function callParameters(
  form: Iterable<readonly [string, string]>,
  names: Readonly<Record<string, string>> = DEFAULT_CALL_PARAMETERS,
): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of form) {
    if (Object.hasOwn(names, name) && value !== '' && !Object.hasOwn(picked, names[name])) picked[names[name]] = value;
  }
  return picked;
}

/**
 * An `application/x-www-form-urlencoded` body as `[name, value]` pairs, in
 * order, repeats kept (`+` is a space, `%XX` decoded; a malformed escape is kept as it is).
 */
export function parseFormBody(body: string | Uint8Array): Array<[string, string]> {
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return [...new URLSearchParams(text)];
}

/**
 * Escapes text for an XML attribute value (or element content). Tabs and line
 * breaks become character references (an attribute would turn them into
 * spaces); characters XML 1.0 cannot hold at all (other controls, lone
 * surrogates, U+FFFE/U+FFFF) are dropped.
 */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '')
    .replace(/[&<>"'\t\n\r]/g, (c) => XML_ESCAPES[c]);
}

const XML_ESCAPES: Record<string, string> = {
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;',
};

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const first = value.split(',')[0].trim();
  return first === '' ? undefined : first;
}
