/**
 * Session-scoped state: a `Map<string, unknown>` that serialises to a plain
 * object. One per session, so values never leak between calls. Filled from
 * `system.init`'s `session_context.initial_variables` when the init arrives.
 */
export class SessionContext extends Map<string, unknown> {
  /** The value under `key`, or `fallback` when it is not set. */
  getOr<T>(key: string, fallback: T): T {
    return this.has(key) ? (this.get(key) as T) : fallback;
  }

  /** A plain object with every entry (own properties only, safe for any key). */
  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this);
  }
}
