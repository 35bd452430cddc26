import { InvalidArgumentError } from './errors';
import { canonicalType, CrewEvent } from './events';
import type { CrewSession } from './session';

/** A hook: called with the session and each matching event, once per event. */
export type EventHandler<E extends CrewEvent = CrewEvent> = (session: CrewSession, event: E) => void | Promise<void>;

export interface Hook {
  readonly pattern: string;
  readonly handler: EventHandler;
  matches(type: string): boolean;
}

const NO_HOOKS: readonly Hook[] = Object.freeze([]);
// Types seen are bounded by the catalog for client input, but nodes may emit
// any type; keep the lookup cache from growing without limit.
const MAX_CACHED_TYPES = 1024;

/**
 * The hooks of one session, matched by pattern: an exact type, an alias,
 * `prefix.*` or `*`. Matches are cached per type so that dispatching an event
 * costs one map lookup, however many hooks are registered.
 */
export class HookRegistry {
  private hooks: Hook[] = [];
  private cache = new Map<string, readonly Hook[]>();

  add(pattern: string, handler: EventHandler): () => void {
    if (typeof handler !== 'function') throw new InvalidArgumentError('onEvent: handler must be a function');
    const hook = compile(pattern, handler);
    this.hooks = [...this.hooks, hook];
    this.cache.clear();
    return () => {
      if (!this.hooks.includes(hook)) return;
      this.hooks = this.hooks.filter((h) => h !== hook);
      this.cache.clear();
    };
  }

  /** The hooks matching `type`, in registration order (a shared, frozen array). */
  match(type: string): readonly Hook[] {
    if (this.hooks.length === 0) return NO_HOOKS;
    let found = this.cache.get(type);
    if (found === undefined) {
      const list = this.hooks.filter((h) => h.matches(type));
      found = list.length === 0 ? NO_HOOKS : Object.freeze(list);
      if (this.cache.size >= MAX_CACHED_TYPES) this.cache.clear();
      this.cache.set(type, found);
    }
    return found;
  }

  clear(): void {
    this.hooks = [];
    this.cache.clear();
  }
}

function compile(pattern: string, handler: EventHandler): Hook {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new InvalidArgumentError('onEvent: pattern must be a non-empty string: an event type, "prefix.*" or "*"');
  }
  if (pattern === '*') return { pattern, handler, matches: () => true };
  if (pattern.endsWith('.*')) {
    const prefix = pattern.slice(0, -1); // keep the dot: "agent." matches "agent.x", not "agentx"
    if (prefix.length < 2 || prefix.includes('*')) throw badPattern(pattern);
    return { pattern, handler, matches: (type) => type.startsWith(prefix) };
  }
  if (pattern.includes('*')) throw badPattern(pattern);
  const type = canonicalType(pattern);
  return { pattern, handler, matches: (t) => t === type };
}

function badPattern(pattern: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `onEvent: invalid pattern "${pattern}"; use an exact type ("agent.speak"), a prefix ending in ".*" ("agent.*") or "*"`,
  );
}
