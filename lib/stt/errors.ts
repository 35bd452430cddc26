import { CrewError, ErrorCodes } from '../errors';
import { errorBodyMessage } from '../tts/lightning-error';

/**
 * Errors of speech-to-text engines. A stream's `transcripts` errors with an
 * `SttError`; `code` says what went wrong, `retryable` whether a new stream
 * could fare better. Documented in docs/voice-input.md.
 */

/** The codes of `SttError`: a subset of `ErrorCodes` (the registry in lib/errors.ts). */
export const SttErrorCodes = Object.freeze({
  /** No API key: pass `apiKey` or set `SMALLEST_API_KEY` (thrown by the engine's constructor). */
  NO_KEY: ErrorCodes.STT_NO_KEY,
  /** The server refused the key (HTTP 401 or 403 before the upgrade). */
  AUTH: ErrorCodes.STT_AUTH,
  /** The server refused the parameters (HTTP 400: model, language, encoding, sample rate). */
  BAD_REQUEST: ErrorCodes.STT_BAD_REQUEST,
  /** Too many streams or requests: HTTP 429, or close code 1008 (too many open sessions). */
  LIMIT: ErrorCodes.STT_LIMIT,
  /** Any other HTTP status before the upgrade (`status` is set). */
  HTTP: ErrorCodes.STT_HTTP,
  /** The server sent an error message on the stream. */
  SERVER: ErrorCodes.STT_SERVER,
  /** Could not connect, the handshake timed out, or the connection closed unasked. */
  NETWORK: ErrorCodes.STT_NETWORK,
});

export type SttErrorCode = (typeof SttErrorCodes)[keyof typeof SttErrorCodes];

export interface SttErrorOptions {
  /** HTTP status of a refused upgrade. */
  status?: number;
  /** WebSocket close code, when the connection closed. */
  closeCode?: number;
  retryable?: boolean;
  cause?: unknown;
}

/** A failed speech-to-text stream (or engine setup). Never contains the API key. */
export class SttError extends CrewError {
  declare readonly code: SttErrorCode;
  readonly status?: number;
  readonly closeCode?: number;
  readonly retryable: boolean;

  constructor(code: SttErrorCode, message: string, options: SttErrorOptions = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
    this.closeCode = options.closeCode;
    this.retryable = options.retryable ?? false;
  }
}

/** The error for an upgrade the server answered with `status` and `body` instead of 101. */
export function httpSttError(status: number, body: string): SttError {
  const said = errorBodyMessage(body);
  const detail = said ? `: ${said}` : '';
  if (status === 401 || status === 403) {
    return new SttError(SttErrorCodes.AUTH, `speech-to-text refused the API key (HTTP ${status})${detail}; check SMALLEST_API_KEY`, { status });
  }
  if (status === 400) return new SttError(SttErrorCodes.BAD_REQUEST, `speech-to-text refused the request (HTTP 400)${detail}`, { status });
  if (status === 429) return new SttError(SttErrorCodes.LIMIT, `speech-to-text rate or concurrency limit (HTTP 429)${detail}`, { status, retryable: true });
  return new SttError(SttErrorCodes.HTTP, `speech-to-text answered HTTP ${status} instead of a WebSocket${detail}`, {
    status,
    retryable: status >= 500 || status === 408,
  });
}
