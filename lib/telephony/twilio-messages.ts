import { z } from 'zod';
import type { EventIssue } from '../errors';
import { badEventFromZod } from '../events';

/*
 * The messages of Twilio Media Streams (text frames, JSON), both ways, as
 * Twilio documents them ("Media Streams - WebSocket Messages"). What Twilio
 * sends is checked with zod; what a server sends back is built as a string.
 *
 * Schemas hold what the session mapping needs and are lenient where Twilio's
 * near copies (Telnyx, Plivo, Exotel, SIP bridges) differ in what they leave
 * out: `sequenceNumber` and the top-level `streamSid` may be missing (or a
 * number), `tracks` and `customParameters` default to `['inbound']` and `{}`,
 * `media` needs only its `payload`. Unknown fields are dropped.
 */

/** The only audio Twilio streams: μ-law, 8 kHz, mono. */
export const TWILIO_MEDIA_FORMAT = Object.freeze({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } as const);

const sequenceNumber = z.union([z.string(), z.number()]).transform(String).optional();
const streamSid = z.string().optional();
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64'); // BASE64 below, for the fast path

export const TwilioConnectedSchema = z.object({
  event: z.literal('connected'),
  protocol: z.string(),
  version: z.string(),
});

export const TwilioStartSchema = z.object({
  event: z.literal('start'),
  sequenceNumber,
  streamSid,
  start: z.object({
    streamSid: z.string().min(1),
    accountSid: z.string(),
    callSid: z.string().min(1),
    tracks: z.array(z.string()).default(['inbound']),
    customParameters: z.record(z.string(), z.string()).default({}),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number() }),
  }),
});

export const TwilioMediaSchema = z.object({
  event: z.literal('media'),
  sequenceNumber,
  streamSid,
  media: z.object({
    /** `inbound` (the caller) or `outbound` (what the call plays). */
    track: z.string().optional(),
    chunk: z.string().optional(),
    /** Milliseconds since the stream started, as a string. */
    timestamp: z.string().optional(),
    /** Base64 μ-law, 8 kHz mono, no header. */
    payload: base64,
  }),
});

export const TwilioMarkSchema = z.object({
  event: z.literal('mark'),
  sequenceNumber,
  streamSid,
  mark: z.object({ name: z.string() }),
});

export const TwilioDtmfSchema = z.object({
  event: z.literal('dtmf'),
  sequenceNumber,
  streamSid,
  dtmf: z.object({
    track: z.string().optional(),
    digit: z.string().regex(/^[0-9A-D*#]$/, 'expected one DTMF key: 0-9, *, #, A-D'),
  }),
});

export const TwilioStopSchema = z.object({
  event: z.literal('stop'),
  sequenceNumber,
  streamSid,
  stop: z.object({ accountSid: z.string(), callSid: z.string() }),
});

/** Everything Twilio sends on a Media Stream, by `event`. */
export const TwilioInboundSchema = z.discriminatedUnion('event', [
  TwilioConnectedSchema,
  TwilioStartSchema,
  TwilioMediaSchema,
  TwilioMarkSchema,
  TwilioDtmfSchema,
  TwilioStopSchema,
]);

export type TwilioConnected = z.infer<typeof TwilioConnectedSchema>;
export type TwilioStart = z.infer<typeof TwilioStartSchema>;
export type TwilioMedia = z.infer<typeof TwilioMediaSchema>;
export type TwilioMark = z.infer<typeof TwilioMarkSchema>;
export type TwilioDtmf = z.infer<typeof TwilioDtmfSchema>;
export type TwilioStop = z.infer<typeof TwilioStopSchema>;
export type TwilioInbound = z.infer<typeof TwilioInboundSchema>;
export type TwilioInboundEvent = TwilioInbound['event'];

/** What a server sends Twilio (bidirectional `<Connect><Stream>` only). */
export const TwilioOutboundSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('media'), streamSid: z.string(), media: z.object({ payload: base64 }) }),
  z.object({ event: z.literal('mark'), streamSid: z.string(), mark: z.object({ name: z.string() }) }),
  z.object({ event: z.literal('clear'), streamSid: z.string() }),
]);
export type TwilioOutbound = z.infer<typeof TwilioOutboundSchema>;

/** Why a text frame is not a message: not JSON, not an object with an `event`, an event not known, or a known one malformed. */
export type TwilioParseFailure = 'json' | 'not-object' | 'unknown-event' | 'invalid';

/** A parse result: the message, or what was wrong. Parsing never throws. */
export type TwilioParseResult<M> =
  | { ok: true; message: M }
  | {
      ok: false;
      reason: TwilioParseFailure;
      /** The message's `event`, when it had a string one. */
      event?: string;
      /** One line naming each problem, for a log. */
      error: string;
      /** The problems by field path (`reason: 'invalid'`). */
      issues?: EventIssue[];
    };

const INBOUND_EVENTS: ReadonlySet<string> = new Set(['connected', 'start', 'media', 'mark', 'dtmf', 'stop']);
const OUTBOUND_EVENTS: ReadonlySet<string> = new Set(['media', 'mark', 'clear']);

/**
 * Parses one text frame from Twilio. Malformed input gives `{ ok: false }`
 * with a `reason` and an `error` that says what was wrong; nothing throws.
 *
 * @example
 * const parsed = parseTwilioMessage(text);
 * if (!parsed.ok) log.warn(`twilio: ${parsed.error}`);
 * else if (parsed.message.event === 'media') audio(mulawDecode(mediaPayload(parsed.message)));
 */
export function parseTwilioMessage(text: string | Uint8Array): TwilioParseResult<TwilioInbound> {
  return parseWith(text, INBOUND_EVENTS, TwilioInboundSchema, 'Twilio Media Streams', fastInbound);
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const optionalString = (v: unknown) => v === undefined || typeof v === 'string';

/**
 * `media` and `mark`, fifty times a second a call, checked by hand: the same
 * result as their schemas for what the schemas accept, and undefined for
 * anything else (zod then says what is wrong). The specs hold both to the same
 * messages.
 */
function fastInbound(value: Record<string, unknown>, event: string): TwilioInbound | undefined {
  const { sequenceNumber: seq, streamSid: sid } = value;
  if (!(seq === undefined || typeof seq === 'string' || typeof seq === 'number') || !optionalString(sid)) return undefined;
  let message: TwilioMedia | TwilioMark;
  if (event === 'media') {
    const media = value.media;
    if (!isRecord(media) || typeof media.payload !== 'string' || !BASE64.test(media.payload)) return undefined;
    const { track, chunk, timestamp, payload } = media;
    if (!optionalString(track) || !optionalString(chunk) || !optionalString(timestamp)) return undefined;
    const fields: TwilioMedia['media'] = { payload };
    if (track !== undefined) fields.track = track as string;
    if (chunk !== undefined) fields.chunk = chunk as string;
    if (timestamp !== undefined) fields.timestamp = timestamp as string;
    message = { event, media: fields };
  } else if (event === 'mark') {
    const mark = value.mark;
    if (!isRecord(mark) || typeof mark.name !== 'string') return undefined;
    message = { event, mark: { name: mark.name } };
  } else {
    return undefined;
  }
  if (seq !== undefined) message.sequenceNumber = String(seq);
  if (sid !== undefined) message.streamSid = sid as string;
  return message;
}

/** Parses what a server sent to Twilio (`media`, `mark`, `clear`): the other side of the stream, for test callers. */
export function parseTwilioOutbound(text: string | Uint8Array): TwilioParseResult<TwilioOutbound> {
  return parseWith(text, OUTBOUND_EVENTS, TwilioOutboundSchema, 'to-Twilio');
}

/** Whether a `start` announces the one format Twilio streams (μ-law, 8 kHz, mono). */
export function isTwilioMediaFormat(format: TwilioStart['start']['mediaFormat']): boolean {
  return (
    format.encoding === TWILIO_MEDIA_FORMAT.encoding &&
    format.sampleRate === TWILIO_MEDIA_FORMAT.sampleRate &&
    format.channels === TWILIO_MEDIA_FORMAT.channels
  );
}

/** The μ-law bytes of a `media` message (base64-decoded; a new Buffer). */
export function mediaPayload(message: { media: { payload: string } }): Buffer {
  return Buffer.from(message.media.payload, 'base64');
}

/** `{"event":"media","streamSid":…,"media":{"payload":…}}`: μ-law bytes for Twilio to play. */
export function twilioMediaFrame(streamSid: string, mulaw: Uint8Array): string {
  const payload = Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength).toString('base64');
  return `{"event":"media","streamSid":${JSON.stringify(streamSid)},"media":{"payload":"${payload}"}}`;
}

/** `{"event":"mark","streamSid":…,"mark":{"name":…}}`: Twilio echoes it once the audio sent before it has played. */
export function twilioMarkFrame(streamSid: string, name: string): string {
  return `{"event":"mark","streamSid":${JSON.stringify(streamSid)},"mark":{"name":${JSON.stringify(name)}}}`;
}

/** `{"event":"clear","streamSid":…}`: Twilio drops the audio it has not played yet (and echoes the marks in it). */
export function twilioClearFrame(streamSid: string): string {
  return `{"event":"clear","streamSid":${JSON.stringify(streamSid)}}`;
}

function parseWith<M>(
  text: string | Uint8Array,
  known: ReadonlySet<string>,
  schema: z.ZodType<M>,
  what: string,
  fast?: (value: Record<string, unknown>, event: string) => M | undefined,
): TwilioParseResult<M> {
  let value: unknown;
  try {
    value = JSON.parse(typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('utf8'));
  } catch (cause) {
    return { ok: false, reason: 'json', error: `not JSON: ${(cause as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'not-object', error: `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}` };
  }
  const event = (value as { event?: unknown }).event;
  if (typeof event !== 'string') {
    return { ok: false, reason: 'not-object', error: 'expected a string "event" field' };
  }
  if (!known.has(event)) {
    return { ok: false, reason: 'unknown-event', event, error: `unknown ${what} event "${event.slice(0, 64)}"` };
  }
  const quick = fast?.(value as Record<string, unknown>, event);
  if (quick !== undefined) return { ok: true, message: quick };
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, message: result.data };
  const bad = badEventFromZod(event, result.error); // names each problem as for a client's event
  return { ok: false, reason: 'invalid', event, error: bad.message, issues: [...bad.issues] };
}
