import { CloseCodes } from './transport';

/**
 * Every error rxcrew throws or reports has a stable `code`, and every code is
 * an entry of one registry (`ErrorRegistry`), as Fastify keeps its `FST_ERR_*`:
 * the class that carries it, how the runtime reports it, the close code a fatal
 * report ends the connection with, and the message template. Wiring mistakes
 * are thrown at once (they are programming errors); bad runtime data becomes
 * an `agent.error` event instead, built by `agentError()` (lib/agent-error.ts). `docs/errors.md`
 * is generated from this registry (`npm run docs:errors`; a spec fails when it
 * is stale).
 */

/** How an `agent.error` is reported: a warning lets the session go on; fatal ends it. */
export type Severity = 'warning' | 'fatal';

/** One registry entry. */
export interface ErrorEntry {
  readonly code: `CREW_ERR_${string}`;
  /** The class whose instances carry the code; absent when the code is only reported (its cause is whatever failed). */
  readonly class?: string;
  /** How the runtime itself reports the code as `agent.error`; empty when it is only thrown. */
  readonly severity: readonly Severity[];
  /** The close code a fatal report of this code ends the connection with. */
  readonly close?: number;
  /**
   * The message, from its fields. For a code with a `class`, the error's own
   * message; for a code only reported, the report's message, from its payload
   * details and `cause`. Absent when the message is written where it is thrown.
   */
  readonly message?: (fields: never) => string;
}

const thrown: readonly Severity[] = [];
const warning: readonly Severity[] = ['warning'];
const fatal: readonly Severity[] = ['fatal'];
const warningOrFatal: readonly Severity[] = ['warning', 'fatal'];

/** The registry, in the order of docs/errors.md. Keys name the codes in `ErrorCodes`. */
export const ErrorRegistry = {
  // wiring: thrown at once by the call that made the mistake
  GRAPH_CYCLE: {
    code: 'CREW_ERR_GRAPH_CYCLE', class: 'GraphCycleError', severity: thrown,
    message: (f: { cycle: readonly string[] }) => `graph has a cycle: ${f.cycle.join(' → ')}; remove one of these edges (a graph must be acyclic)`,
  },
  UNKNOWN_NODE: {
    code: 'CREW_ERR_UNKNOWN_NODE', class: 'UnknownNodeError', severity: thrown,
    message: (f: { node: string; role: 'parent' | 'child' }) =>
      `addEdge: ${f.role} node "${f.node}" was never added to this session; call addNode() first`,
  },
  DUPLICATE_NODE: {
    code: 'CREW_ERR_DUPLICATE_NODE', class: 'DuplicateNodeError', severity: thrown,
    message: (f: { node: string; sameInstance: boolean }) =>
      f.sameInstance
        ? `addNode: node "${f.node}" was already added to this session`
        : `addNode: a node named "${f.node}" already exists in this session; give each node a unique name ({ name })`,
  },
  INVALID_EDGE: { code: 'CREW_ERR_INVALID_EDGE', class: 'InvalidEdgeError', severity: thrown },
  GRAPH_LOCKED: {
    code: 'CREW_ERR_GRAPH_LOCKED', class: 'GraphLockedError', severity: thrown,
    message: (f: { method: string }) => `${f.method}: the graph is locked once start() was called; build it before starting`,
  },
  ALREADY_STARTED: {
    code: 'CREW_ERR_ALREADY_STARTED', class: 'AlreadyStartedError', severity: thrown,
    message: () => 'start: this session was already started',
  },
  SESSION_CLOSED: {
    code: 'CREW_ERR_SESSION_CLOSED', class: 'SessionClosedError', severity: thrown,
    message: (f: { method: string }) => `${f.method}: the session is closed`,
  },
  NODE_SETUP: {
    code: 'CREW_ERR_NODE_SETUP', class: 'NodeSetupError', severity: thrown,
    message: (f: { node: string; cause: unknown }) => `node "${f.node}" threw in process(): ${describeError(f.cause)}`,
  },
  INVALID_ARGUMENT: { code: 'CREW_ERR_INVALID_ARGUMENT', class: 'InvalidArgumentError', severity: thrown },
  EVENT_DEFINED: {
    code: 'CREW_ERR_EVENT_DEFINED', class: 'EventDefinedError', severity: thrown,
    message: (f: { type: string }) => `defineEvent: event type "${f.type}" is already defined; pick another name`,
  },
  // the session's runtime: reported to the client
  BAD_EVENT: { code: 'CREW_ERR_BAD_EVENT', class: 'BadEventError', severity: warning },
  NODE_FAILED: {
    code: 'CREW_ERR_NODE_FAILED', severity: warningOrFatal, close: CloseCodes.INTERNAL_ERROR,
    message: (f: { node_name: string; detached?: boolean; cause: unknown }) =>
      `node "${f.node_name}" ${f.detached ? 'failed while subscribing and is detached' : 'failed'}: ${describeError(f.cause)}`,
  },
  HOOK_FAILED: {
    code: 'CREW_ERR_HOOK_FAILED', severity: warning,
    message: (f: { pattern: string; event_type: string; cause: unknown }) =>
      `hook "${f.pattern}" failed on "${f.event_type}": ${describeError(f.cause)}`,
  },
  SETUP_FAILED: { code: 'CREW_ERR_SETUP_FAILED', severity: fatal, close: CloseCodes.INTERNAL_ERROR },
  // the app's limits
  RATE_LIMITED: {
    code: 'CREW_ERR_RATE_LIMITED', class: 'CrewError', severity: warningOrFatal, close: CloseCodes.POLICY_VIOLATION,
    message: (f: { limit: number; what: 'events' | 'audio frames'; closing: boolean }) =>
      f.closing
        ? `more than twice the limit of ${f.limit} ${f.what} per second; closing`
        : `over the limit of ${f.limit} ${f.what} per second; dropping them`,
  },
  FRAME_TOO_BIG: {
    code: 'CREW_ERR_FRAME_TOO_BIG', class: 'CrewError', severity: fatal, close: CloseCodes.MESSAGE_TOO_BIG,
    message: (f: { size: number; limit: number }) => `a frame of ${f.size} bytes is over the limit of ${f.limit} bytes; closing`,
  },
  BUFFER_FULL: {
    code: 'CREW_ERR_BUFFER_FULL', class: 'CrewError', severity: fatal, close: CloseCodes.POLICY_VIOLATION,
    message: (f: { limit: number }) => `more than ${f.limit} events arrived before the session started`,
  },
  SERVER_FULL: {
    code: 'CREW_ERR_SERVER_FULL', class: 'CrewError', severity: fatal, close: CloseCodes.TRY_AGAIN_LATER,
    message: (f: { maxSessions: number; closing: boolean }) =>
      f.closing ? 'the server is shutting down' : `the server is full (${f.maxSessions} sessions)`,
  },
  SETUP_TIMEOUT: {
    code: 'CREW_ERR_SETUP_TIMEOUT', class: 'CrewError', severity: fatal, close: CloseCodes.INTERNAL_ERROR,
    message: (f: { ms: number }) => `setup did not start the session within ${f.ms} ms`,
  },
  IDLE_TIMEOUT: {
    code: 'CREW_ERR_IDLE_TIMEOUT', class: 'CrewError', severity: fatal, close: CloseCodes.NORMAL,
    message: (f: { ms: number }) => `no message from the client for ${f.ms} ms`,
  },
  RESUME_REFUSED: {
    code: 'CREW_ERR_RESUME_REFUSED', class: 'CrewError', severity: warning,
    message: (f: { reason: string }) => `the session could not be resumed (${f.reason}); this is a new session`,
  },
  // interruption: the reason an interrupted AbortSignal carries, never reported
  INTERRUPTED: { code: 'CREW_ERR_INTERRUPTED', class: 'InterruptedError', severity: thrown },
  // the LLM client (`LlmErrorCodes`): thrown; the agent reports a failed turn as NODE_FAILED
  LLM_HTTP: { code: 'CREW_ERR_LLM_HTTP', class: 'LlmError', severity: thrown },
  LLM_NETWORK: { code: 'CREW_ERR_LLM_NETWORK', class: 'LlmError', severity: thrown },
  LLM_TIMEOUT: { code: 'CREW_ERR_LLM_TIMEOUT', class: 'LlmError', severity: thrown },
  LLM_ABORTED: { code: 'CREW_ERR_LLM_ABORTED', class: 'LlmError', severity: thrown },
  LLM_BAD_RESPONSE: { code: 'CREW_ERR_LLM_BAD_RESPONSE', class: 'LlmError', severity: thrown },
  LLM_STREAM: { code: 'CREW_ERR_LLM_STREAM', class: 'LlmError', severity: thrown },
  // speech-to-text (`SttErrorCodes`): a stream's error, reported by SpeechToText under its own code
  STT_NO_KEY: { code: 'CREW_ERR_STT_NO_KEY', class: 'SttError', severity: thrown },
  STT_AUTH: { code: 'CREW_ERR_STT_AUTH', class: 'SttError', severity: warning },
  STT_BAD_REQUEST: { code: 'CREW_ERR_STT_BAD_REQUEST', class: 'SttError', severity: warning },
  STT_LIMIT: { code: 'CREW_ERR_STT_LIMIT', class: 'SttError', severity: warning },
  STT_HTTP: { code: 'CREW_ERR_STT_HTTP', class: 'SttError', severity: warning },
  STT_SERVER: { code: 'CREW_ERR_STT_SERVER', class: 'SttError', severity: warning },
  STT_NETWORK: { code: 'CREW_ERR_STT_NETWORK', class: 'SttError', severity: warning },
  STT_FAILED: {
    code: 'CREW_ERR_STT_FAILED', severity: warning,
    message: (f: { node_name: string; cause: unknown }) => `speech-to-text failed: ${describeError(f.cause)}`,
  },
  // text-to-speech (`LightningError`): thrown by the engine, reported by TextToSpeech under its own code
  TTS_HTTP: { code: 'CREW_ERR_TTS_HTTP', class: 'LightningError', severity: warning },
  TTS_NETWORK: { code: 'CREW_ERR_TTS_NETWORK', class: 'LightningError', severity: warning },
  TTS_TIMEOUT: { code: 'CREW_ERR_TTS_TIMEOUT', class: 'LightningError', severity: warning },
  TTS_BAD_RESPONSE: { code: 'CREW_ERR_TTS_BAD_RESPONSE', class: 'LightningError', severity: warning },
  TTS_STREAM: { code: 'CREW_ERR_TTS_STREAM', class: 'LightningError', severity: warning },
  TTS_FAILED: {
    code: 'CREW_ERR_TTS_FAILED', severity: warning,
    message: (f: { node_name: string; engine: string; cause: unknown }) =>
      `node "${f.node_name}" could not synthesize speech with ${f.engine}: ${describeError(f.cause)}`,
  },
} as const satisfies Record<string, ErrorEntry>;

type Registry = typeof ErrorRegistry;
type Entry = Registry[keyof Registry];

/** Every code, by name (`ErrorCodes.GRAPH_CYCLE` is `'CREW_ERR_GRAPH_CYCLE'`). Documented in `docs/errors.md`. */
export const ErrorCodes = Object.freeze(
  Object.fromEntries(Object.entries(ErrorRegistry).map(([name, entry]) => [name, entry.code])),
) as { readonly [K in keyof Registry]: Registry[K]['code'] };

export type ErrorCode = Entry['code'];

const byCode: ReadonlyMap<string, ErrorEntry> = new Map(Object.values(ErrorRegistry).map((e: ErrorEntry) => [e.code, e]));

/** The registry entry of `code`. */
export function errorEntry(code: ErrorCode): ErrorEntry {
  return byCode.get(code)!;
}

/** The close code a fatal report of `code` ends the connection with: the registry's, else 1011. */
export function closeCodeOf(code: ErrorCode): number {
  return errorEntry(code).close ?? CloseCodes.INTERNAL_ERROR;
}

/** The codes whose message is built from fields, and those fields. */
export type TemplatedCode = Extract<Entry, { message: unknown }>['code'];
/** The codes only reported (no class: the cause is whatever failed), whose report message is a template. */
export type ReportedCode = Extract<Entry, { message: unknown; class?: undefined }>['code'];
export type MessageFields<C extends TemplatedCode> = Extract<Entry, { code: C }> extends { message: (f: infer F) => string } ? F : never;

/** The message of `code` from its template. */
export function errorMessage<C extends TemplatedCode>(code: C, fields: MessageFields<C>): string {
  return (errorEntry(code).message as (f: MessageFields<C>) => string)(fields);
}

/** Base class of every error rxcrew throws. `code` is stable; `message` says what to do. */
export class CrewError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A `CrewError` for a code that has no class of its own, its message from the template. */
export function crewError<C extends Extract<Entry, { class: 'CrewError' }>['code']>(code: C, fields: MessageFields<C>): CrewError {
  return new CrewError(code, errorMessage(code, fields));
}

/** The code `err` carries when it is a `CrewError`, else `fallback`. */
export function errorCodeOf(err: unknown, fallback: ErrorCode): ErrorCode {
  return err instanceof CrewError ? err.code : fallback;
}

/** `start()` found a cycle; `cycle` lists the node names, first name repeated last. */
export class GraphCycleError extends CrewError {
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[]) {
    super(ErrorCodes.GRAPH_CYCLE, errorMessage(ErrorCodes.GRAPH_CYCLE, { cycle }));
    this.cycle = cycle;
  }
}

/** `addEdge` named a node that was never added with `addNode`. */
export class UnknownNodeError extends CrewError {
  readonly nodeName: string;

  constructor(nodeName: string, role: 'parent' | 'child') {
    super(ErrorCodes.UNKNOWN_NODE, errorMessage(ErrorCodes.UNKNOWN_NODE, { node: nodeName, role }));
    this.nodeName = nodeName;
  }
}

/** `addNode` got the same instance twice, or a second node with a name already used. */
export class DuplicateNodeError extends CrewError {
  readonly nodeName: string;

  constructor(nodeName: string, sameInstance: boolean) {
    super(ErrorCodes.DUPLICATE_NODE, errorMessage(ErrorCodes.DUPLICATE_NODE, { node: nodeName, sameInstance }));
    this.nodeName = nodeName;
  }
}

/** An edge that can never deliver, such as one leaving a `BackgroundCrewNode`. */
export class InvalidEdgeError extends CrewError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_EDGE, message);
  }
}

/** The graph was changed after `start()`. */
export class GraphLockedError extends CrewError {
  constructor(method: string) {
    super(ErrorCodes.GRAPH_LOCKED, errorMessage(ErrorCodes.GRAPH_LOCKED, { method }));
  }
}

/** `start()` was called a second time. */
export class AlreadyStartedError extends CrewError {
  constructor() {
    super(ErrorCodes.ALREADY_STARTED, errorMessage(ErrorCodes.ALREADY_STARTED, {}));
  }
}

/** The session has ended (or a failed `start()` closed it). */
export class SessionClosedError extends CrewError {
  constructor(method: string) {
    super(ErrorCodes.SESSION_CLOSED, errorMessage(ErrorCodes.SESSION_CLOSED, { method }));
  }
}

/** A node's `process()` threw while the graph was being wired. */
export class NodeSetupError extends CrewError {
  readonly nodeName: string;

  constructor(nodeName: string, cause: unknown) {
    super(ErrorCodes.NODE_SETUP, errorMessage(ErrorCodes.NODE_SETUP, { node: nodeName, cause }), { cause });
    this.nodeName = nodeName;
  }
}

/** A public function got an argument it cannot use. */
export class InvalidArgumentError extends CrewError {
  constructor(message: string) {
    super(ErrorCodes.INVALID_ARGUMENT, message);
  }
}

/** `defineEvent` was called twice for one type. */
export class EventDefinedError extends CrewError {
  constructor(type: string) {
    super(ErrorCodes.EVENT_DEFINED, errorMessage(ErrorCodes.EVENT_DEFINED, { type }));
  }
}

/**
 * The reason an interrupted `AbortSignal` carries: `interruptibleConcatMap`'s
 * work cut short by an interrupt (`'interrupted'`) or by unsubscribing
 * (`'unsubscribed'`), such as an `OutputCrewNode` turn. Named `'AbortError'`,
 * like an aborted `fetch`, so that code which recognises aborts by name
 * (`isAbortError`) treats it as one.
 */
export class InterruptedError extends CrewError {
  constructor(message = 'interrupted') {
    super(ErrorCodes.INTERRUPTED, message);
    this.name = 'AbortError';
  }
}

/** An event failed validation: a client's message, or fields given to `definition.create()`. */
export class BadEventError extends CrewError {
  /** Where validation failed, one entry per problem (empty when the whole value was wrong). */
  readonly issues: readonly EventIssue[];

  constructor(message: string, issues: readonly EventIssue[] = []) {
    super(ErrorCodes.BAD_EVENT, message);
    this.issues = issues;
  }
}

/** One validation problem: a dotted path into the event and what is wrong there. */
export interface EventIssue {
  path: string;
  message: string;
}

/** A short, single-line description of anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** The class name of anything thrown, for `agent.error` payloads. */
export function errorClass(err: unknown): string {
  if (err instanceof Error) return err.constructor?.name || err.name || 'Error';
  return typeof err;
}
