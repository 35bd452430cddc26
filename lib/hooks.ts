import { InvalidArgumentError } from './errors';
import { canonicalType, CrewEvent } from './events';
import type { CrewSession } from './session';

/** A hook: called with the session and each matching event, once per event. */
export type EventHandler<E extends CrewEvent = CrewEvent> = (session: CrewSession, event: E) => void | Promise<void>;

export interface Hook {
  readonly pattern: string;
  readonly handler: EventHandler;
  /**
   * How `key` is compared with a type: equal (`exact`), a prefix (`prefix`), or
   * not at all (`all`); `client` matches every event received from the client.
   */
  readonly kind: 'exact' | 'prefix' | 'all' | 'client';
  /** The canonical type, or the prefix with its dot. */
  readonly key: string;
}

const NO_HOOKS: readonly Hook[] = Object.freeze([]);
// Types seen are bounded by the catalog for client input, but nodes may emit
// any type; keep the lookup cache from growing without limit.
const MAX_CACHED_TYPES = 1024;
// Up to this many hooks, matching scans them (a few string compares) instead of
// keeping a cache per type: a session with a handful of hooks stays small.
const MAX_UNCACHED_HOOKS = 8;

/**
 * The pattern the Atoms SDK's examples hook on: every event the session
 * receives from the client (after validation; JSON events and `user.audio`),
 * and nothing else — not node emissions, runtime events (`system.user.joined`
 * included), `inject` or `send` (spec/integration/on-event-received.spec.ts).
 */
export const ON_EVENT_RECEIVED = 'on_event_received';

/**
 * The hooks of one session, matched by pattern: an exact type, an alias,
 * `prefix.*`, `*` or `on_event_received`. With more than a few hooks, matches
 * are cached per type (and origin) so that dispatching an event costs one map
 * lookup, however many are registered.
 */
export class HookRegistry {
  private hooks: readonly Hook[] = NO_HOOKS;
  private cache: Map<string, readonly Hook[]> | undefined;
  /** Matches for client events, kept apart only while an `on_event_received` hook exists. */
  private clientCache: Map<string, readonly Hook[]> | undefined;
  private clientHooks = 0;

  add(pattern: string, handler: EventHandler): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('onEvent: handler must be a function');
    const hook = compile(pattern, handler);
    this.hooks = this.hooks.concat(hook); // sized exactly: a session keeps it for its life
    this.changed(hook, 1);
    return () => {
      if (!this.hooks.includes(hook)) return;
      this.hooks = this.hooks.filter((h) => h !== hook);
      this.changed(hook, -1);
    };
  }

  /**
   * The hooks matching `type` (and, when `fromClient`, the `on_event_received`
   * hooks), in registration order (frozen; shared while the hooks do not change).
   */
  match(type: string, fromClient = false): readonly Hook[] {
    const hooks = this.hooks;
    if (hooks.length === 0) return NO_HOOKS;
    const client = fromClient && this.clientHooks > 0;
    if (hooks.length <= MAX_UNCACHED_HOOKS) {
      let n = 0;
      for (let i = 0; i < hooks.length; i++) if (matches(hooks[i], type, client)) n++;
      // none or all match (one '*' hook, say): no array is made per event
      if (n === 0) return NO_HOOKS;
      return n === hooks.length ? hooks : hooks.filter((h) => matches(h, type, client));
    }
    const cache = client ? (this.clientCache ??= new Map()) : (this.cache ??= new Map());
    let found = cache.get(type);
    if (found === undefined) {
      const list = hooks.filter((h) => matches(h, type, client));
      found = list.length === 0 ? NO_HOOKS : Object.freeze(list);
      if (cache.size >= MAX_CACHED_TYPES) cache.clear();
      cache.set(type, found);
    }
    return found;
  }

  clear(): void {
    this.hooks = NO_HOOKS;
    this.clientHooks = 0;
    this.cache = this.clientCache = undefined;
  }

  private changed(hook: Hook, delta: number): void {
    if (hook.kind === 'client') this.clientHooks += delta;
    this.cache = this.clientCache = undefined;
  }
}

function matches(hook: Hook, type: string, fromClient: boolean): boolean {
  switch (hook.kind) {
    case 'all':
      return true;
    case 'exact':
      return type === hook.key;
    case 'prefix':
      return type.startsWith(hook.key);
    case 'client':
      return fromClient;
  }
}

function compile(pattern: string, handler: EventHandler): Hook {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new InvalidArgumentError('onEvent: pattern must be a non-empty string: an event type, "prefix.*", "*" or "on_event_received"');
  }
  if (pattern === '*') return { pattern, handler, kind: 'all', key: '' };
  if (pattern === ON_EVENT_RECEIVED) return { pattern, handler, kind: 'client', key: '' };
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1); // keep the dot: "agent." matches "agent.x", not "agentx"
    if (prefix.length < 2 || prefix.includes('*')) throw badPattern(pattern);
    return { pattern, handler, kind: 'prefix', key: prefix };
  }
  if (pattern.includes('*')) throw badPattern(pattern);
  return { pattern, handler, kind: 'exact', key: canonicalType(pattern) };
}

function badPattern(pattern: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `onEvent: invalid pattern "${pattern}"; use an exact type ("agent.speak"), a prefix ending in ".*" ("agent.*"), "*" or "on_event_received"`,
  );
}
