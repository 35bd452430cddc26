/**
 * Every error rxcrew throws or reports has a stable `code`. Wiring mistakes are
 * thrown at once (they are programming errors); bad runtime data becomes an
 * `agent.error` event instead (see `docs/errors.md`).
 */

/** The stable error codes, one per failure kind. Documented in `docs/errors.md`. */
export const ErrorCodes = {
  GRAPH_CYCLE: 'CREW_ERR_GRAPH_CYCLE',
  UNKNOWN_NODE: 'CREW_ERR_UNKNOWN_NODE',
  DUPLICATE_NODE: 'CREW_ERR_DUPLICATE_NODE',
  INVALID_EDGE: 'CREW_ERR_INVALID_EDGE',
  GRAPH_LOCKED: 'CREW_ERR_GRAPH_LOCKED',
  ALREADY_STARTED: 'CREW_ERR_ALREADY_STARTED',
  SESSION_CLOSED: 'CREW_ERR_SESSION_CLOSED',
  NODE_SETUP: 'CREW_ERR_NODE_SETUP',
  INVALID_ARGUMENT: 'CREW_ERR_INVALID_ARGUMENT',
  EVENT_DEFINED: 'CREW_ERR_EVENT_DEFINED',
  BAD_EVENT: 'CREW_ERR_BAD_EVENT',
  NODE_FAILED: 'CREW_ERR_NODE_FAILED',
  HOOK_FAILED: 'CREW_ERR_HOOK_FAILED',
  SETUP_FAILED: 'CREW_ERR_SETUP_FAILED',
  RATE_LIMITED: 'CREW_ERR_RATE_LIMITED',
  FRAME_TOO_BIG: 'CREW_ERR_FRAME_TOO_BIG',
  BUFFER_FULL: 'CREW_ERR_BUFFER_FULL',
  SERVER_FULL: 'CREW_ERR_SERVER_FULL',
  SETUP_TIMEOUT: 'CREW_ERR_SETUP_TIMEOUT',
  IDLE_TIMEOUT: 'CREW_ERR_IDLE_TIMEOUT',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** Base class of every error rxcrew throws. `code` is stable; `message` says what to do. */
export class CrewError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** `start()` found a cycle; `cycle` lists the node names, first name repeated last. */
export class GraphCycleError extends CrewError {
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[]) {
    super(
      ErrorCodes.GRAPH_CYCLE,
      `graph has a cycle: ${cycle.join(' → ')}; remove one of these edges (a graph must be acyclic)`,
    );
    this.cycle = cycle;
  }
}

/** `addEdge` named a node that was never added with `addNode`. */
export class UnknownNodeError extends CrewError {
  readonly nodeName: string;

  constructor(nodeName: string, role: 'parent' | 'child') {
    super(
      ErrorCodes.UNKNOWN_NODE,
      `addEdge: ${role} node "${nodeName}" was never added to this session; call addNode() first`,
    );
    this.nodeName = nodeName;
  }
}

/** `addNode` got the same instance twice, or a second node with a name already used. */
export class DuplicateNodeError extends CrewError {
  readonly nodeName: string;

  constructor(nodeName: string, sameInstance: boolean) {
    super(
      ErrorCodes.DUPLICATE_NODE,
      sameInstance
        ? `addNode: node "${nodeName}" was already added to this session`
        : `addNode: a node named "${nodeName}" already exists in this session; give each node a unique name ({ name })`,
    );
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
    super(ErrorCodes.GRAPH_LOCKED, `${method}: the graph is locked once start() was called; build it before starting`);
  }
}

/** `start()` was called a second time. */
export class AlreadyStartedError extends CrewError {
  constructor() {
    super(ErrorCodes.ALREADY_STARTED, 'start: this session was already started');
  }
}

/** The session has ended (or a failed `start()` closed it). */
export class SessionClosedError extends CrewError {
  constructor(method: string) {
    super(ErrorCodes.SESSION_CLOSED, `${method}: the session is closed`);
  }
}

/** A node's `process()` threw while the graph was being wired. */
export class NodeSetupError extends CrewError {
  readonly nodeName: string;

  constructor(nodeName: string, cause: unknown) {
    super(ErrorCodes.NODE_SETUP, `node "${nodeName}" threw in process(): ${describeError(cause)}`, { cause });
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
    super(ErrorCodes.EVENT_DEFINED, `defineEvent: event type "${type}" is already defined; pick another name`);
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
