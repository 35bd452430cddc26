import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { depthOf, KNOWN_TYPES, REFUSED_TYPES, RUNTIME_TYPES, Verdict, verdictForBinary, verdictForText, verdictForValue } from './oracle';

/*
 * fast-check arbitraries for what a client may throw at a session: arbitrary
 * JSON, valid catalog events with their fields mutated (a small checker of
 * the catalog's field rules decides the verdict), `__proto__` / `constructor` / `prototype`
 * keys at any depth, deep nesting, random text, random binary frames and
 * invalid UTF-8. Each case carries the verdict the contract gives it.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Rec = Record<string, unknown>;

/** One frame as the client sends it. `value`: an already-decoded JSON value (`TestClient.send(object)`). */
export type Delivery =
  | { mode: 'text'; data: string }
  | { mode: 'binary'; data: Buffer }
  | { mode: 'value'; data: unknown }
  | { mode: 'text-bytes'; data: Buffer };

export interface FuzzCase {
  what: string;
  delivery: Delivery;
  verdict: Verdict;
}

// ---- building blocks ------------------------------------------------------

/** Strings with any code point, lone surrogates included. */
const anyString = fc.string({ unit: 'binary', maxLength: 24 });
const smallJson = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;
const dict = fc.dictionary(fc.string({ maxLength: 8 }), smallJson, { maxKeys: 4, noNullPrototype: true }) as fc.Arbitrary<Rec>;
const timestamp = fc.option(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), { nil: undefined });

function withTimestamp(e: Rec, ts: string | undefined): Rec {
  return ts === undefined ? e : { ...e, timestamp: ts };
}

/** A valid event of each client type. */
export const validEvent: fc.Arbitrary<Rec> = fc.oneof(
  fc
    .record({ role: fc.constantFrom('user', 'assistant'), content: anyString, ts: timestamp })
    .map(({ role, content, ts }) => withTimestamp({ type: 'agent.transcript.update', role, content }, ts)),
  fc
    .record(
      {
        version: fc.oneof(anyString, fc.integer()),
        initial_variables: dict,
        conversation_type: anyString,
        output_agent_settings: dict,
        audio: fc.record(
          { input_sample_rate: fc.integer({ min: 1, max: 192_000 }), output_sample_rate: fc.integer({ min: 1, max: 192_000 }) },
          { requiredKeys: [] },
        ),
        ts: timestamp,
      },
      { requiredKeys: ['version', 'initial_variables', 'conversation_type'] },
    )
    .map(({ version, initial_variables, conversation_type, ts, ...rest }) =>
      withTimestamp({ type: 'system.init', version, session_context: { initial_variables, conversation_type }, ...rest }, ts),
    ),
  fc
    .record({ type: fc.constantFrom('system.control.interrupt', 'system.user.started_speaking', 'system.user.stopped_speaking'), ts: timestamp })
    .map(({ type, ts }) => withTimestamp({ type }, ts)),
  fc
    .record(
      {
        messages: fc.array(
          fc.record(
            {
              role: fc.constantFrom('system', 'user', 'assistant', 'tool'),
              content: fc.option(anyString, { nil: null }),
              tool_calls: fc.array(smallJson, { maxLength: 2 }),
              tool_call_id: anyString,
            },
            { requiredKeys: ['role', 'content'] },
          ),
          { maxLength: 3 },
        ),
        extra_params: dict,
        ts: timestamp,
      },
      { requiredKeys: [] },
    )
    .map(({ ts, ...fields }) => withTimestamp({ type: 'system.llm.request', ...fields }, ts)),
  fc.record({ settings: dict, ts: timestamp }).map(({ settings, ts }) => withTimestamp({ type: 'system.output_agent.update_settings', settings }, ts)),
);

// ---- mutations ------------------------------------------------------------

type Kind = 'string' | 'number' | 'integer' | 'positive' | 'boolean' | 'null' | 'array' | 'object';

/** A field the schema constrains: where it is, whether it is required, what it may hold. */
interface Field {
  path: string[];
  required: boolean;
  kinds: Kind[];
  /** For enums: the strings allowed. */
  oneOf?: string[];
}

const TS: Field = { path: ['timestamp'], required: false, kinds: ['string'] };
const FIELDS: Record<string, Field[]> = {
  'agent.transcript.update': [
    { path: ['role'], required: true, kinds: [], oneOf: ['user', 'assistant'] },
    { path: ['content'], required: true, kinds: ['string'] },
    TS,
  ],
  'system.init': [
    { path: ['version'], required: true, kinds: ['string', 'number'] },
    { path: ['session_context'], required: true, kinds: ['object'] },
    { path: ['session_context', 'initial_variables'], required: true, kinds: ['object'] },
    { path: ['session_context', 'conversation_type'], required: true, kinds: ['string'] },
    { path: ['output_agent_settings'], required: false, kinds: ['object'] },
    { path: ['audio'], required: false, kinds: ['object'] },
    { path: ['audio', 'input_sample_rate'], required: false, kinds: ['positive'] },
    { path: ['audio', 'output_sample_rate'], required: false, kinds: ['positive'] },
    TS,
  ],
  'system.control.interrupt': [TS],
  'system.user.started_speaking': [TS],
  'system.user.stopped_speaking': [TS],
  'system.llm.request': [
    { path: ['messages'], required: false, kinds: ['array'] },
    { path: ['extra_params'], required: false, kinds: ['object'] },
    { path: ['messages', '0'], required: false, kinds: ['object'] },
    { path: ['messages', '0', 'role'], required: true, kinds: [], oneOf: ['system', 'user', 'assistant', 'tool'] },
    { path: ['messages', '0', 'content'], required: true, kinds: ['string', 'null'] },
    { path: ['messages', '0', 'tool_calls'], required: false, kinds: ['array'] },
    { path: ['messages', '0', 'tool_call_id'], required: false, kinds: ['string'] },
    TS,
  ],
  'system.output_agent.update_settings': [{ path: ['settings'], required: true, kinds: ['object'] }, TS],
};

/** Values of each kind that survive a JSON round trip as that kind (no NaN, no -0 surprises). */
const SAMPLES: Array<[Kind[], Json]> = [
  [['string'], 'a string'],
  [['string'], ''],
  [['number', 'integer', 'positive'], 7],
  [['number', 'integer'], 0],
  [['number', 'integer'], -3],
  [['number'], 1.5],
  [['boolean'], true],
  [['boolean'], false],
  [['null'], null],
  [['array'], []],
  [['array'], [1, 'x']],
  [['object'], {}],
  [['object'], { nested: { k: 1 } }],
];

/** Values the field does not accept: samples of other kinds, and `text` where a string is wrong. */
function wrongValues(field: Field, text: string): Json[] {
  const wrong: Json[] = SAMPLES.filter(([kinds]) => !kinds.some((k) => field.kinds.includes(k))).map(([, v]) => v);
  const stringIsWrong = field.oneOf ? !field.oneOf.includes(text) : !field.kinds.includes('string');
  return stringIsWrong ? [...wrong, text] : wrong;
}

function parentOf(root: Rec, path: string[]): Rec | undefined {
  let at: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (typeof at !== 'object' || at === null || !Object.prototype.hasOwnProperty.call(at, key)) return undefined;
    at = (at as Rec)[key];
  }
  return typeof at === 'object' && at !== null ? (at as Rec) : undefined;
}

/** Sets an own property, `__proto__` included (plain assignment would replace the prototype). */
function defineOwn(target: Rec, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Every plain object in a JSON tree (arrays do not serialize extra keys). */
function objectsIn(value: unknown, out: Rec[] = []): Rec[] {
  if (typeof value !== 'object' || value === null) return out;
  if (!Array.isArray(value)) out.push(value as Rec);
  for (const key of Object.keys(value)) objectsIn((value as Rec)[key], out);
  return out;
}

/** A mutation: changes an event (a deep copy) and says what it did, or `undefined` when it found nothing to change. */
type Mutation = (e: Rec) => string | undefined;

const fieldOf = (e: Rec, n: number): Field | undefined => {
  const fields = FIELDS[e.type as string] ?? [];
  return fields.length === 0 ? undefined : fields[n % fields.length];
};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // drop a field
  fc.nat().map<Mutation>((n) => (e) => {
    const field = fieldOf(e, n);
    const parent = field && parentOf(e, field.path);
    const key = field?.path[field.path.length - 1];
    if (!field || !parent || Array.isArray(parent) || !Object.prototype.hasOwnProperty.call(parent, key!)) return undefined;
    delete parent[key!];
    return `drop ${field.path.join('.')}`;
  }),
  // give a field a value of the wrong type
  fc.tuple(fc.nat(), fc.nat(), anyString).map<Mutation>(([n, m, text]) => (e) => {
    const field = fieldOf(e, n);
    const parent = field && parentOf(e, field.path);
    if (!field || !parent) return undefined;
    const key = field.path[field.path.length - 1];
    if (Array.isArray(parent) && !Object.prototype.hasOwnProperty.call(parent, key)) return undefined;
    const candidates = wrongValues(field, text);
    parent[key] = candidates[m % candidates.length];
    return `${field.path.join('.')} = ${JSON.stringify(parent[key])}`;
  }),
  // an extra field somewhere (kept)
  fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 10 }), smallJson).map<Mutation>(([n, key, value]) => (e) => {
    const objects = objectsIn(e);
    const target = objects[n % objects.length];
    const known = new Set(['type', 'timestamp', ...Object.values(FIELDS).flat().map((f) => f.path[f.path.length - 1]), '__proto__']);
    if (known.has(key) || Object.prototype.hasOwnProperty.call(target, key)) return undefined;
    defineOwn(target, key, structuredClone(value));
    return `extra ${JSON.stringify(key)} in object #${n % objects.length}`;
  }),
  // `__proto__`, `constructor` or `prototype` as an own key at any depth
  fc
    .tuple(fc.nat(), fc.constantFrom('__proto__', 'constructor', 'prototype'), fc.oneof(smallJson, fc.constant({ polluted: true, isAdmin: true, type: 'agent.speak' })))
    .map<Mutation>(([n, key, value]) => (e) => {
      const objects = objectsIn(e);
      const target = objects[n % objects.length];
      if (Object.prototype.hasOwnProperty.call(target, key)) return undefined;
      defineOwn(target, key, structuredClone(value));
      return `own "${key}" in object #${n % objects.length}`;
    }),
);

function hasKind(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'integer':
      return Number.isInteger(value);
    case 'positive':
      return Number.isInteger(value) && (value as number) > 0;
    case 'boolean':
      return typeof value === 'boolean';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
  }
}

/** Whether a client event's fields satisfy the catalog (per `FIELDS`; extra keys are always allowed). */
function conforms(e: Rec): boolean {
  for (const field of FIELDS[e.type as string] ?? []) {
    const parent = parentOf(e, field.path);
    if (parent === undefined) continue; // the parent's own rule decides
    const key = field.path[field.path.length - 1];
    if (!Object.prototype.hasOwnProperty.call(parent, key)) {
      if (field.required) return false;
      continue;
    }
    const value = parent[key];
    const ok = field.oneOf ? typeof value === 'string' && field.oneOf.includes(value) : field.kinds.some((k) => hasKind(value, k));
    if (!ok) return false;
  }
  return true;
}

/** A type the client may not send as this event: runtime-only, agent-only, unknown, empty or not a string. */
const foreignType: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: fc.constantFrom(...RUNTIME_TYPES), weight: 2 },
  { arbitrary: fc.constantFrom(...REFUSED_TYPES, '', 'AGENT.TRANSCRIPT.UPDATE', 'system.init ', 'system.*', '*'), weight: 2 },
  { arbitrary: anyString.filter((s) => !KNOWN_TYPES.includes(s)), weight: 1 },
  { arbitrary: fc.constantFrom<Json>(null, 0, true, [], {}, ['agent.transcript.update']), weight: 1 },
);

/** A valid event with 0–3 mutations (and sometimes a foreign type), and the verdict they add up to. */
export const mutatedEvent: fc.Arbitrary<{ event: Rec; what: string; verdict: Verdict }> = fc
  .tuple(validEvent, fc.array(mutation, { maxLength: 3 }), fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: foreignType, weight: 1 }))
  .map(([valid, mutations, retype]) => {
    const event = structuredClone(valid);
    const names: string[] = [];
    for (const mutate of mutations) {
      const did = mutate(event);
      if (did !== undefined) names.push(did);
    }
    if (retype !== null) {
      event.type = retype;
      names.push(`type ${JSON.stringify(retype)}`);
    }
    // the contract's verdict: depth and type first, then the fields, as the wire delivers them
    const wire = JSON.parse(JSON.stringify(event)) as Rec;
    const base = verdictForValue(wire);
    const verdict: Verdict = base === 'schema' ? (conforms(wire) ? 'accept' : 'bad') : base;
    return { event, what: `${valid.type as string} [${names.join(', ') || 'unchanged'}]`, verdict };
  });

// ---- frames ---------------------------------------------------------------

function viaText(what: string, text: string): FuzzCase {
  return { what, delivery: { mode: 'text', data: text }, verdict: verdictForText(text) };
}

function viaBinary(what: string, bytes: Buffer): FuzzCase {
  return { what, delivery: { mode: 'binary', data: bytes }, verdict: verdictForBinary(bytes) };
}

type Mode = 'text' | 'binary' | 'value';
const modes: Mode[] = ['text', 'binary', 'value'];

/** A JSON value delivered as a text frame, a binary frame, or already decoded. */
function deliver(what: string, value: unknown, mode: Mode, verdict?: Verdict): FuzzCase {
  const text = JSON.stringify(value) ?? 'null';
  if (mode === 'text') return { ...viaText(`${what} (text)`, text), ...(verdict && { verdict }) };
  if (mode === 'binary') {
    const c = viaBinary(`${what} (binary)`, Buffer.from(text));
    // a binary frame holding an object is JSON, with the same verdict as text; anything else is audio
    return verdict && c.verdict !== 'audio' ? { ...c, verdict } : c;
  }
  return { what: `${what} (decoded)`, delivery: { mode: 'value', data: JSON.parse(text) }, verdict: verdict ?? verdictForValue(JSON.parse(text)) };
}

/** Arbitrary JSON values, and objects with a known type and random fields. */
export const jsonValueCase: fc.Arbitrary<FuzzCase> = fc.tuple(
  fc.oneof(
    fc.jsonValue(),
    fc.tuple(fc.constantFrom(...KNOWN_TYPES), fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 })).map(([type, rest]) => ({ ...rest, type })),
  ),
  fc.constantFrom(...modes),
).map(([value, mode]) => deliver('JSON value', value, mode));

/** Valid catalog events with mutated fields, in every delivery mode. */
export const mutatedEventCase: fc.Arbitrary<FuzzCase> = fc
  .tuple(mutatedEvent, fc.constantFrom(...modes))
  .map(([{ event, what, verdict }, mode]) => deliver(what, event, mode, verdict));

/** A structure `levels` deep: arrays and objects alternating. */
function nested(levels: number, leaf: Json, arrays: boolean): Json {
  let v = leaf;
  for (let i = 0; i < levels; i++) v = arrays && i % 2 === 0 ? [v] : { k: v };
  return v;
}

/** Deeply nested values inside a valid transcript, and bracket floods. */
export const deepCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 120 }), fc.boolean(), fc.constantFrom(...modes)).map(([levels, arrays, mode]) => {
    const value = { type: 'agent.transcript.update', role: 'user', content: `nest ${levels}`, extra: nested(levels, 1, arrays) };
    return deliver(`transcript with extra nested ${levels} deep`, value, mode, depthOf(value) > 32 ? 'bad' : 'accept');
  }),
  fc.tuple(fc.integer({ min: 1, max: 200_000 }), fc.constantFrom('[', '{', '[{', '{"a":[')).map(([n, unit]) => viaText(`${n} × ${unit}`, unit.repeat(n))),
  fc.integer({ min: 30, max: 5000 }).map((n) => viaText(`balanced [] ${n} deep`, `${'['.repeat(n)}${']'.repeat(n)}`)),
);

const TOKENS = [
  '{', '}', '[', ']', ':', ',', ' ', '"', '\\', '"type"', '"agent.transcript.update"', '"system.init"', '"role"', '"user"',
  '"content"', '"x"', '"__proto__"', '"constructor"', 'null', 'true', '1', '-0', '1e999', '"\\u0000"', '"\\ud800"', '"\\u002e"',
];

/** JSON-looking token soup: near-valid events, unbalanced brackets, strange escapes. */
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((t) => t.join(''));

/** Random strings as text frames. */
export const textCase: fc.Arbitrary<FuzzCase> = fc
  .oneof(fc.string({ unit: 'binary', maxLength: 200 }), tokenSoup, tokenSoup.map((s) => `{${s}}`))
  .map((s) => viaText('random text', s));

/** Bytes weighted towards opening brackets, as PCM that happens to start with `{` and end with `}` may hold. */
const BRACE_HEAVY = [0x7b, 0x7b, 0x7b, 0x5b, 0x5b, 0x5b, 0x7d, 0x5d, 0x22, 0x5c, 0x00, 0x0a, 0x20, 0x31, 0x3a, 0x2c, 0xff, 0x80];

/** Random binary frames: noise, noise between braces (bracket-heavy too), JSON-ish text, JSON with corrupted bytes. */
export const binaryCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.uint8Array({ maxLength: 2048, size: 'max' }).map((b) => viaBinary('random bytes', Buffer.from(b))),
  fc.uint8Array({ maxLength: 512, size: 'max' }).map((b) => viaBinary('random bytes in braces', Buffer.concat([Buffer.from('{'), b, Buffer.from('}')]))),
  fc
    .array(fc.constantFrom(...BRACE_HEAVY), { maxLength: 400, size: 'max' })
    .map((b) => viaBinary('bracket-heavy bytes in braces', Buffer.from([0x7b, ...b, 0x7d]))),
  tokenSoup.map((s) => viaBinary('token soup in braces', Buffer.from(`{${s}}`))),
  fc.tuple(validEvent, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 })).map(([e, flips]) => {
    const bytes = Buffer.from(JSON.stringify(e));
    for (const [at, byte] of flips) bytes[at % bytes.length] = byte;
    return viaBinary(`${e.type as string} with ${flips.length} corrupted byte(s)`, bytes);
  }),
);

const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0x80], // overlong NUL
  [0xc1, 0xbf],
  [0xe0, 0x80, 0x80], // overlong
  [0xed, 0xa0, 0x80], // an encoded surrogate
  [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
  [0xf8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
  [0xc3], // truncated sequences
  [0xe2, 0x82],
  [0xf0, 0x9f, 0x98],
];

/** Text frames that are not valid UTF-8: valid events with bad sequences spliced in, and noise. */
export const invalidUtf8Case: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    fc.oneof(
      validEvent.map((e) => JSON.stringify(e)),
      fc.constant(JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: 'héllo wörld' })),
      fc.string({ maxLength: 40 }),
    ),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...INVALID_UTF8)), { minLength: 1, maxLength: 4 }),
  )
  .map(([text, splices]) => {
    let bytes = Buffer.from(text);
    for (const [at, seq] of splices) {
      const i = bytes.length === 0 ? 0 : at % (bytes.length + 1);
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from(seq), bytes.subarray(i)]);
    }
    return bytes;
  })
  .filter((bytes) => !isUtf8(bytes))
  .map((bytes) => ({
    what: 'invalid UTF-8 text',
    delivery: { mode: 'text-bytes', data: bytes } as Delivery,
    // in-process (no socket to refuse it), the bytes are decoded with U+FFFD replacements
    verdict: verdictForText(bytes.toString('utf8')),
  }));

/** What the frame decodes to as a session would, for comparing an echoed `content`. */
export function decodedValue(d: Delivery): unknown {
  try {
    switch (d.mode) {
      case 'text':
        return JSON.parse(d.data);
      case 'value':
        return d.data;
      default:
        return JSON.parse(d.data.toString('utf8'));
    }
  } catch {
    return undefined;
  }
}

/** A short description of a frame for failure messages. */
export function describeDelivery(d: Delivery): string {
  const raw = d.mode === 'value' ? JSON.stringify(d.data) : typeof d.data === 'string' ? JSON.stringify(d.data) : `<${d.data.toString('hex')}>`;
  const shown = raw.length > 300 ? `${raw.slice(0, 300)}… (${raw.length} chars)` : raw;
  return `${d.mode} frame ${shown}`;
}
