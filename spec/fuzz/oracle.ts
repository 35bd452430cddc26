import type { CrewEvent } from 'rxcrew';

/*
 * What the contract (docs/DESIGN "Wire format" and "Bad input") says a client
 * frame must become, computed here independently of lib/internal/inbound.ts,
 * and a classifier for what a session actually did with one. The fuzz specs
 * compare the two.
 */

/** Deepest nesting a session accepts (`maxJsonDepth`'s default). */
export const MAX_DEPTH = 32;

/** Types a client may send as JSON (the catalog's client → agent list). */
export const CLIENT_TYPES: readonly string[] = [
  'system.init',
  'system.control.interrupt',
  'system.user.started_speaking',
  'system.user.stopped_speaking',
  'system.llm.request',
  'system.output_agent.update_settings',
  'agent.transcript.update',
];

/** Types only the runtime emits (and their aliases): a client's copy is dropped without a word. */
export const RUNTIME_TYPES: readonly string[] = ['system.user.joined', 'system.user.left', 'system.user_joined', 'system.user_left'];

/** Types only the agent sends: a client's copy is refused. `user.audio` as JSON can never validate (no bytes). */
export const REFUSED_TYPES: readonly string[] = [
  'agent.ready',
  'agent.error',
  'agent.llm.response.start',
  'agent.llm.response.chunk',
  'agent.llm.response.end',
  'agent.speak',
  'agent.control.interrupt',
  'agent.control.mute_user',
  'agent.control.unmute_user',
  'agent.end_call',
  'agent.transfer_call',
  'agent.log',
  'agent.audio',
  'user.audio',
];

export const KNOWN_TYPES: readonly string[] = [...CLIENT_TYPES, ...RUNTIME_TYPES, ...REFUSED_TYPES];

/**
 * What a frame must turn into:
 * - `bad`: exactly one `agent.error` {severity warning, payload.code CREW_ERR_BAD_EVENT};
 * - `drop`: nothing at all (runtime-only types);
 * - `accept`: the event enters the graph (hooks see a fresh copy);
 * - `schema`: a client type whose fields decide between `bad` and `accept`;
 * - `audio`: a `user.audio` event holding the frame's bytes;
 * - `audio-or-bad`: a binary frame between braces that is not JSON, holds no
 *   control byte, and has more than `MAX_DEPTH` opening brackets. The runtime
 *   refuses frames that nest too deep before parsing them (parsing is the cost
 *   the limit exists to avoid), so it cannot tell this text-like garbage from
 *   deep JSON; audio always holds control bytes and stays audio.
 */
export type Verdict = 'bad' | 'drop' | 'accept' | 'schema' | 'audio' | 'audio-or-bad';

/** Nesting depth of a decoded JSON value: a primitive is 0, `{}` and `[]` are 1. */
export function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  for (const key of Object.keys(value)) deepest = Math.max(deepest, depthOf((value as Record<string, unknown>)[key]));
  return deepest + 1;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The verdict for one decoded JSON value. */
export function verdictForValue(value: unknown): Verdict {
  if (depthOf(value) > MAX_DEPTH) return 'bad';
  if (!isObject(value)) return 'bad';
  const type = Object.prototype.hasOwnProperty.call(value, 'type') ? value.type : undefined;
  if (typeof type !== 'string' || type === '') return 'bad';
  if (RUNTIME_TYPES.includes(type)) return 'drop';
  if (CLIENT_TYPES.includes(type)) return 'schema';
  return 'bad'; // agent-only, user.audio as JSON, or unknown
}

/** The verdict for a text frame holding `text`. */
export function verdictForText(text: string): Verdict {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'bad';
  }
  return verdictForValue(value);
}

/** The verdict for a binary frame: a JSON object is an event, anything else is audio. */
export function verdictForBinary(bytes: Buffer): Verdict {
  if (bytes.length < 2 || bytes[0] !== 0x7b || bytes[bytes.length - 1] !== 0x7d) return 'audio';
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return looksLikeDeepText(bytes) ? 'audio-or-bad' : 'audio';
  }
  return isObject(value) ? verdictForValue(value) : 'audio';
}

function looksLikeDeepText(bytes: Buffer): boolean {
  let opening = 0;
  for (const b of bytes) {
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
    if (b === 0x7b || b === 0x5b) opening++;
  }
  return opening > MAX_DEPTH;
}

/** What a session did with one frame, read off what the client received and what a `*` hook saw. */
export type Outcome =
  | { kind: 'bad'; message: string }
  | { kind: 'drop' }
  | { kind: 'accept'; event: CrewEvent; reply?: CrewEvent }
  | { kind: 'audio'; audio: Buffer };

/**
 * Classifies a case from `received` (what the client got) and `seen` (what a
 * `*` hook saw) in its window. Throws, describing both, when they fit none of
 * the outcomes the contract allows (two errors, a refused event reaching a
 * hook, a reply that is not the echo, ...). `echoes(e)` says whether the graph
 * answers an accepted event `e` with one `agent.speak` {text: e.content}.
 */
export function classify(received: CrewEvent[], seen: CrewEvent[], echoes: (e: CrewEvent) => boolean): Outcome {
  const fail = (why: string): never => {
    throw new Error(`${why}\n  client received: ${brief(received)}\n  hooks saw: ${brief(seen)}`);
  };
  const errors = received.filter((e) => e.type === 'agent.error');
  if (errors.length > 0) {
    const [error] = errors;
    if (received.length !== 1) fail('a refused frame must yield exactly one agent.error and nothing else');
    if (error.severity !== 'warning') fail(`agent.error severity must be "warning", got ${String(error.severity)}`);
    const code = (error.payload as { code?: unknown } | undefined)?.code;
    if (code !== 'CREW_ERR_BAD_EVENT') fail(`agent.error payload.code must be CREW_ERR_BAD_EVENT, got ${String(code)}`);
    if (typeof error.message !== 'string' || error.message === '') fail('agent.error needs a message');
    // hooks see the report, never the refused input
    if (seen.length !== 1 || seen[0].type !== 'agent.error' || seen[0].message !== error.message) {
      fail('hooks must see only the agent.error of a refused frame');
    }
    return { kind: 'bad', message: error.message as string };
  }
  if (seen.length === 0) {
    if (received.length !== 0) fail('the client got something no hook saw');
    return { kind: 'drop' };
  }
  const [first] = seen;
  assertOrdinaryObjects(first, fail);
  if (first.type === 'user.audio') {
    if (!Buffer.isBuffer(first.audio)) fail('user.audio must carry a Buffer');
    if (seen.length !== 1 || received.length !== 0) fail('audio must reach the graph once and be answered by nothing');
    return { kind: 'audio', audio: first.audio as Buffer };
  }
  if (!CLIENT_TYPES.includes(first.type)) fail(`hooks saw a "${first.type}" from the client`);
  if (echoes(first)) {
    const reply = received[0];
    if (seen.length !== 2 || seen[1].type !== 'agent.speak' || received.length !== 1 || reply.type !== 'agent.speak' || reply.text !== first.content) {
      fail('an accepted transcript must be answered by exactly one agent.speak echoing its content');
    }
    return { kind: 'accept', event: first, reply };
  }
  if (seen.length !== 1 || received.length !== 0) fail(`an accepted "${first.type}" must reach the graph once and be answered by nothing`);
  return { kind: 'accept', event: first };
}

/** Every object in an accepted event has an ordinary prototype: nothing was merged into one. */
function assertOrdinaryObjects(value: unknown, fail: (why: string) => never, path = 'event'): void {
  if (typeof value !== 'object' || value === null) return;
  if (Buffer.isBuffer(value)) return;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
    fail(`${path} has a foreign prototype (keys: ${Object.keys(proto as object).join(', ')})`);
  }
  for (const key of Object.keys(value)) assertOrdinaryObjects((value as Record<string, unknown>)[key], fail, `${path}.${key}`);
}

/** A short description of events for failure messages. */
export function brief(events: CrewEvent[]): string {
  if (events.length === 0) return 'nothing';
  return events
    .map((e) => {
      if (e.type === 'agent.error') return `agent.error(${String(e.severity)}: ${String(e.message).slice(0, 120)})`;
      if (e.type === 'user.audio') return `user.audio(${(e.audio as Buffer | undefined)?.length ?? '?'} bytes)`;
      return e.type;
    })
    .join(', ');
}

/** Whether an outcome is what the verdict allows. */
export function fits(verdict: Verdict, outcome: Outcome): boolean {
  switch (verdict) {
    case 'schema':
      return outcome.kind === 'bad' || outcome.kind === 'accept';
    case 'audio-or-bad':
      return outcome.kind === 'audio' || outcome.kind === 'bad';
    default:
      return outcome.kind === verdict;
  }
}

/** `Object.prototype`'s own keys now, to compare against later. */
export function prototypeKeys(): string[] {
  return Reflect.ownKeys(Object.prototype).map(String).sort();
}

/** Throws when anything was added to the built-in prototypes. */
export function assertNoPollution(baseline: readonly string[]): void {
  const now = prototypeKeys();
  if (now.length !== baseline.length || now.some((k, i) => k !== baseline[i])) {
    throw new Error(`Object.prototype changed: now ${now.join(', ')}`);
  }
  const probe = {} as Record<string, unknown>;
  if (probe.polluted !== undefined || probe.type !== undefined || probe.isAdmin !== undefined) {
    throw new Error('a fresh object inherits a polluted key');
  }
}
