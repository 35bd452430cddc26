/** Set by the session's store record (lib/scale/session-record.ts): told of every change, to save the context. */
export const CONTEXT_CHANGED: unique symbol = Symbol('rxcrew.contextChanged');

/**
 * Session-scoped state: a `Map<string, unknown>` that serialises to a plain
 * object. One per session, so values never leak between calls. Filled from
 * `system.init`'s `session_context.initial_variables` when the init arrives.
 * With a session store (docs/scale-out.md) it is saved after each change
 * (as JSON: keep its values JSON-serialisable) and restored on resume.
 */
export class SessionContext extends Map<string, unknown> {
  /** @internal */
  declare [CONTEXT_CHANGED]: (() => void) | undefined;

  /** The value under `key`, or `fallback` when it is not set. */
  getOr<T>(key: string, fallback: T): T {
    return this.has(key) ? (this.get(key) as T) : fallback;
  }

  override set(key: string, value: unknown): this {
    super.set(key, value);
    this[CONTEXT_CHANGED]?.();
    return this;
  }

  override delete(key: string): boolean {
    const deleted = super.delete(key);
    if (deleted) this[CONTEXT_CHANGED]?.();
    return deleted;
  }

  override clear(): void {
    super.clear();
    this[CONTEXT_CHANGED]?.();
  }

  /** A plain object with every entry (own properties only, safe for any key). */
  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this);
  }
}
