import { InvalidArgumentError } from '../errors';
import type { Backoff, Sleep } from './retry';

export interface OpenAIChatClientOptions {
  /** The model name sent with every request, e.g. `'gpt-4o-mini'`. Required. */
  model: string;
  /** The API root; `/chat/completions` is appended. Default `'https://api.openai.com/v1'`. */
  baseURL?: string;
  /** Sent as `Authorization: Bearer …` when set (local servers often need none). */
  apiKey?: string;
  /** Ms from sending the request to the first byte of the response body. Default 30000. */
  timeoutMs?: number;
  /** Longest gap between two pieces of the body once it has started. Default 30000. */
  idleTimeoutMs?: number;
  /** Retries on 408/409/429/5xx, network errors and first-byte timeouts. Default 2. */
  maxRetries?: number;
  /** Default: the global `fetch` (Node ≥ 18). */
  fetch?: typeof fetch;
  /** Extra request headers, merged over the client's own. */
  headers?: Record<string, string>;
  /** How to wait between retries (tests inject one that returns at once). */
  sleep?: Sleep;
  /** Ms before retry `n` when the server sent no `Retry-After`. Default 500 ms doubling, jittered, ≤ 8 s. */
  backoff?: Backoff;
}

/** The defaults of `OpenAIChatClientOptions`. */
export const OPENAI_CLIENT_DEFAULTS = Object.freeze({
  baseURL: 'https://api.openai.com/v1',
  timeoutMs: 30_000,
  idleTimeoutMs: 30_000,
  maxRetries: 2,
});

/** Checks `baseURL` is an http(s) URL; returns it without trailing slashes. */
export function checkBaseURL(value: unknown): string {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new InvalidArgumentError(
      `new OpenAIChatClient: option "baseURL" must be an http(s) URL such as "https://api.openai.com/v1", got ${JSON.stringify(value)}`,
    );
  }
  return String(value).replace(/\/+$/, '');
}

/** Checks an integer option is at least `min`. */
export function checkCount(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`new OpenAIChatClient: option "${name}" must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}
