import { BadEventError } from '../errors';
import { badEventFromZod, canonicalType, CrewEvent, getEventDefinition } from '../events';
import { jsonDepthExceeds, valueDepthExceeds } from './json-depth';

/** What a client's message turned out to be. */
export type Inbound =
  | { kind: 'event'; event: CrewEvent }
  | { kind: 'audio'; audio: Buffer }
  | { kind: 'drop'; type: string }
  | { kind: 'bad'; error: BadEventError };

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Decodes one WebSocket frame. Text frames are JSON events. A binary frame
 * holding a JSON object is an event too (the Atoms platform sends those);
 * any other binary frame is audio, and never touches JSON or zod beyond a
 * two-byte check.
 */
export function decodeFrame(data: string | Buffer, isBinary: boolean, maxDepth = Infinity): Inbound {
  if (!isBinary || typeof data === 'string') {
    const text = typeof data === 'string' ? data : data.toString('utf8');
    // A large text is scanned before parsing, so that thousands of `[` are refused
    // without building them; a small one parses faster than it scans, and its depth
    // is checked on the value (parsing a few KiB of brackets costs no more than a
    // legitimate event of the largest size).
    const small = text.length <= PARSE_BEFORE_DEPTH_CHECK;
    if (!small && jsonDepthExceeds(text, maxDepth)) return tooDeep(maxDepth);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { kind: 'bad', error: new BadEventError(`malformed JSON: ${(err as Error).message}`) };
    }
    if (small && valueDepthExceeds(value, maxDepth)) return tooDeep(maxDepth);
    return validateClientEvent(value);
  }
  const value = jsonObjectIn(data, maxDepth);
  if (value === TOO_DEEP) return tooDeep(maxDepth);
  return value === undefined ? { kind: 'audio', audio: data } : validateClientEvent(value);
}

/**
 * Whether a binary frame is certainly audio, by its first and last byte alone
 * (what `decodeFrame` then finds too): JSON in a binary frame starts with `{`
 * and ends with `}`.
 */
export function isAudioFrame(data: Buffer): boolean {
  return data.length < 2 || data[0] !== OPEN_BRACE || data[data.length - 1] !== CLOSE_BRACE;
}

/** Text frames up to this many characters are parsed first and their depth checked on the value. */
const PARSE_BEFORE_DEPTH_CHECK = 4096;

const TOO_DEEP = Symbol('too deep');

function tooDeep(maxDepth: number): Inbound {
  return { kind: 'bad', error: new BadEventError(`an event may nest objects and arrays at most ${maxDepth} deep`) };
}

/**
 * The JSON object a binary frame holds, or `undefined` when the frame is audio:
 * only a frame that starts with `{`, ends with `}` and parses to an object is JSON.
 */
function jsonObjectIn(data: Buffer, maxDepth: number): Record<string, unknown> | typeof TOO_DEEP | undefined {
  if (isAudioFrame(data)) return undefined;
  const text = data.toString('utf8');
  // too deep to parse safely: deep JSON is refused, but audio that happens to
  // hold many brackets is still audio (JSON never holds a raw control byte)
  if (jsonDepthExceeds(text, maxDepth)) return hasControlByte(data) ? undefined : TOO_DEEP;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isPlainObject(value) ? value : undefined;
}

/** Whether `data` holds a byte below 0x20 other than JSON whitespace (tab, LF, CR). */
function hasControlByte(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return true;
  }
  return false;
}

/**
 * Validates a decoded client message against the catalog. Returns a fresh event
 * object (zod copies the fields; `__proto__` keys are dropped), a drop for
 * runtime-only types, or the problem.
 */
export function validateClientEvent(value: unknown): Inbound {
  if (!isPlainObject(value)) {
    return { kind: 'bad', error: new BadEventError(`an event must be a JSON object, got ${describeValue(value)}`) };
  }
  const rawType = (value as { type?: unknown }).type;
  if (typeof rawType !== 'string' || rawType.length === 0) {
    return { kind: 'bad', error: new BadEventError('an event needs a "type" field holding a non-empty string') };
  }
  const type = canonicalType(rawType);
  const definition = getEventDefinition(type);
  if (definition === undefined) {
    return { kind: 'bad', error: new BadEventError(`unknown event type "${truncate(rawType)}"`) };
  }
  if (definition.direction === 'runtime') return { kind: 'drop', type };
  if (definition.direction === 'agent') {
    return { kind: 'bad', error: new BadEventError(`"${type}" is sent by the agent; a client may not send it`) };
  }
  const input = type === rawType ? value : { ...value, type };
  const result = definition.schema.safeParse(input);
  if (!result.success) return { kind: 'bad', error: badEventFromZod(type, result.error) };
  return { kind: 'event', event: result.data as CrewEvent };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
