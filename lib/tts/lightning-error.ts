import { CrewError, ErrorCodes } from '../errors';

/** The codes of `LightningError` (entries of the registry in lib/errors.ts). */
export type LightningErrorCode =
  | typeof ErrorCodes.TTS_HTTP
  | typeof ErrorCodes.TTS_NETWORK
  | typeof ErrorCodes.TTS_TIMEOUT
  | typeof ErrorCodes.TTS_BAD_RESPONSE
  | typeof ErrorCodes.TTS_STREAM;

/**
 * A failed Lightning text-to-speech call. `code` says what failed:
 * `CREW_ERR_TTS_HTTP` when the server answered with an error status (`status`
 * set: 401 bad key, 400 bad request, 429 rate or concurrency limit, 5xx
 * server error), `CREW_ERR_TTS_NETWORK` when the request failed,
 * `CREW_ERR_TTS_TIMEOUT` when nothing came within `timeoutMs`,
 * `CREW_ERR_TTS_STREAM` when the stream reported an error and
 * `CREW_ERR_TTS_BAD_RESPONSE` when it was not Lightning's stream (no body,
 * data that is not JSON, no done frame). The message names the status and
 * the server's own explanation, e.g.
 * `Lightning TTS: HTTP 400: voice_id: Invalid Voice ID`.
 */
export class LightningError extends CrewError {
  declare readonly code: LightningErrorCode;
  readonly status?: number;
  /** The server's explanation, as parsed from its error body. */
  readonly serverMessage?: string;
  /** The `x-request-id` response header, to quote to Smallest AI's support. */
  readonly requestId?: string;

  constructor(
    code: LightningErrorCode,
    message: string,
    options: { status?: number; serverMessage?: string; requestId?: string; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.serverMessage = options.serverMessage;
    this.requestId = options.requestId;
  }
}

/** The error for a response whose status is not 2xx. */
export async function lightningHttpError(response: Response): Promise<LightningError> {
  let body = '';
  try {
    body = await response.text();
  } catch {
    // the body broke off: the status alone must do
  }
  const serverMessage = errorBodyMessage(body) || response.statusText || 'no details';
  const requestId = response.headers.get('x-request-id') ?? undefined;
  const retryAfter = response.status === 429 ? response.headers.get('retry-after') : null;
  const hints = [retryAfter ? `retry after ${retryAfter} s` : '', requestId ? `request id ${requestId}` : ''].filter(Boolean);
  return new LightningError(
    ErrorCodes.TTS_HTTP,
    `Lightning TTS: HTTP ${response.status}: ${serverMessage}${hints.length > 0 ? ` (${hints.join(', ')})` : ''}`,
    { status: response.status, serverMessage, requestId },
  );
}

/**
 * The explanation in an error body of Smallest AI's API (Lightning, and the
 * Pulse speech-to-text handshake). The spec documents
 * `{"error": "InvalidRequest", "message": "…"}`; live servers answer zod-style,
 * `{"error": [{"code", "path": ["voice_id"], "message": "Invalid Voice ID"}]}`.
 * Both are read; anything else gives its first 200 characters.
 */
export function errorBodyMessage(body: string): string {
  const text = body.trim();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  }
  if (json === null || typeof json !== 'object') return text;
  const { error, message, detail } = json as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof error === 'string') parts.push(error);
  else if (Array.isArray(error)) parts.push(...error.map(issueMessage));
  else if (error !== null && typeof error === 'object') parts.push(issueMessage(error));
  if (typeof message === 'string' && message !== '') parts.push(message);
  else if (typeof detail === 'string' && detail !== '') parts.push(detail);
  const joined = parts.filter((p) => p !== '').join(Array.isArray(error) ? '; ' : ': ');
  return joined || (text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/** One zod issue (`path: message`), or an `{message}` object. */
function issueMessage(issue: unknown): string {
  if (issue === null || typeof issue !== 'object') return String(issue);
  const { path, message } = issue as { path?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : JSON.stringify(issue);
  return Array.isArray(path) && path.length > 0 ? `${path.join('.')}: ${text}` : text;
}
