import { z } from 'zod';
import { BadEventError, EventDefinedError, EventIssue, InvalidArgumentError } from './errors';

/**
 * An event: a plain JSON-able object with a `type`. Field names are snake_case,
 * exactly as on the wire. Audio events carry their samples in an `audio` buffer
 * and travel as binary frames.
 */
export interface CrewEvent {
  type: string;
  timestamp?: string;
  [field: string]: unknown;
}

/**
 * Who may originate an event type:
 * - `client`: the client sends it to the agent;
 * - `agent`: the agent sends it to the client (a client's copy is refused);
 * - `runtime`: only the runtime emits it (a client's copy is dropped silently);
 * - `any`: both sides (the default for user-defined types).
 */
export type EventDirection = 'client' | 'agent' | 'runtime' | 'any';

/** The field shape given to `defineEvent`: zod schemas by field name. */
export type EventShape = Record<string, z.ZodType>;

/** The TypeScript type of an event with type `T` and fields `S`. */
export type EventOf<T extends string, S extends EventShape> = { type: T; timestamp?: string } & Omit<
  z.infer<z.ZodObject<S>>,
  'type' | 'timestamp'
> & { [field: string]: unknown };

/** The fields `create()` takes: everything but `type`; `timestamp` is stamped when missing. */
export type EventFields<E> = Omit<E, 'type' | 'timestamp'> & { timestamp?: string };

/** A registered event type: its wire name, schema and helpers. */
export interface EventDefinition<E extends CrewEvent = CrewEvent> {
  readonly type: E['type'];
  readonly direction: EventDirection;
  /** Validates a whole event (type included); extra fields are kept. */
  readonly schema: z.ZodType<E>;
  /** Validates `fields` and returns a new, timestamped event. Throws `BadEventError`. */
  create(...fields: {} extends EventFields<E> ? [fields?: EventFields<E>] : [fields: EventFields<E>]): E;
  /** True when `event` has this type (aliases resolved). */
  is(event: { type: string } | null | undefined): event is E;
}

/** Spellings accepted wherever a type or hook pattern is given (the product page's names). */
export const EVENT_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  'system.user_joined': 'system.user.joined',
  'system.user_left': 'system.user.left',
});

const registry = new Map<string, EventDefinition>();
// a Map: a client's type is a fresh string each time, which a Map hashes faster than an object looks it up
const aliases = new Map(Object.entries(EVENT_ALIASES));

/** The canonical wire name for `type` (resolves aliases). */
export function canonicalType(type: string): string {
  return aliases.get(type) ?? type;
}

/** The definition registered for `type` (or one of its aliases), if any. */
export function getEventDefinition(type: string): EventDefinition | undefined {
  return registry.get(canonicalType(type));
}

/** Every registered event type, in registration order. */
export function registeredEventTypes(): string[] {
  return [...registry.keys()];
}

/**
 * Registers an event type with a zod schema for its fields and returns its definition.
 * Registered types are the ones a client may send (see `direction`).
 *
 * @example
 * const OrderPlaced = defineEvent('shop.order_placed', { order_id: z.string(), total: z.number() });
 * session.inject(OrderPlaced.create({ order_id: 'A1', total: 12 }));
 */
export function defineEvent<const T extends string, S extends EventShape = {}>(
  type: T,
  shape?: S,
  options: { direction?: EventDirection } = {},
): EventDefinition<EventOf<T, S>> {
  if (typeof type !== 'string' || type.length === 0) {
    throw new InvalidArgumentError('defineEvent: type must be a non-empty string');
  }
  if (EVENT_ALIASES[type] !== undefined || registry.has(type)) throw new EventDefinedError(type);
  const schema = z.looseObject({
    ...(shape ?? {}),
    type: z.literal(type),
    timestamp: z.string().optional(),
  }) as unknown as z.ZodType<EventOf<T, S>>;
  const definition: EventDefinition<EventOf<T, S>> = {
    type: type as EventOf<T, S>['type'],
    direction: options.direction ?? 'any',
    schema,
    create(fields?: object) {
      const result = schema.safeParse({ ...fields, type });
      if (!result.success) throw badEventFromZod(type, result.error);
      const created = result.data;
      if (created.timestamp === undefined) created.timestamp = new Date().toISOString();
      return created;
    },
    is(e): e is EventOf<T, S> {
      return e != null && (e.type === type || EVENT_ALIASES[e.type] === type);
    },
  };
  registry.set(type, definition as unknown as EventDefinition);
  return definition;
}

/**
 * Creates a timestamped event without validation (the fast path for nodes).
 * Aliases are resolved to the canonical type.
 *
 * @example
 * return event('agent.speak', { text: 'Hello!' });
 */
export function event<E extends CrewEvent = CrewEvent>(type: string, fields?: Record<string, unknown>): E {
  if (typeof type !== 'string' || type.length === 0) {
    throw new InvalidArgumentError('event: type must be a non-empty string');
  }
  const created: CrewEvent = { type, ...fields };
  created.type = canonicalType(type);
  if (created.timestamp === undefined) created.timestamp = new Date().toISOString();
  return created as E;
}

/** Turns a zod failure into a `BadEventError` whose message names each problem. */
export function badEventFromZod(type: string, error: z.ZodError): BadEventError {
  const issues: EventIssue[] = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const listed = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return new BadEventError(`invalid "${type}" event: ${listed}`, issues);
}
