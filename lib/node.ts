import { Observable } from 'rxjs';
import { SessionContext } from './context';
import { InvalidArgumentError } from './errors';
import type { CrewEvent } from './events';
import type { CrewSession } from './session';

/** What a node may do when its pipeline errors: report and go on, or end the session (1011). */
export type NodeErrorPolicy = 'continue' | 'stop-session';

/** Options every node takes. */
export interface CrewNodeOptions {
  /** Unique within a session. Default: the class name (`node()` requires one). */
  name?: string;
  /** Whether `system.control.interrupt` may cut the node's work short. Default `true`. */
  interruptible?: boolean;
  /** What happens when the node's pipeline errors. Default `'continue'`. */
  onError?: NodeErrorPolicy;
}

/** What `process` receives besides its input: the session it serves. */
export interface NodeContext {
  readonly session: CrewSession;
  readonly context: SessionContext;
  /** Every `system.control.interrupt` of the session, as it enters (wherever the node sits). */
  readonly interrupt$: Observable<CrewEvent>;
}

/**
 * A unit of the graph: an RxJS operator over the events its parents emit.
 * `process` is called once per session when the graph is wired, so per-session
 * state lives inside it. An event goes on only if the node emits it.
 *
 * @example
 * class Uppercase extends CrewNode {
 *   process(input$: Observable<CrewEvent>) {
 *     return input$.pipe(map((e) => (e.type === 'agent.speak' ? { ...e, text: String(e.text).toUpperCase() } : e)));
 *   }
 * }
 */
export abstract class CrewNode {
  readonly name: string;
  readonly interruptible: boolean;
  readonly onError: NodeErrorPolicy;

  constructor(options: CrewNodeOptions = {}) {
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
      throw new InvalidArgumentError('CrewNode: name must be a non-empty string');
    }
    if (options.onError !== undefined && options.onError !== 'continue' && options.onError !== 'stop-session') {
      throw new InvalidArgumentError(`CrewNode: onError must be 'continue' or 'stop-session', got ${String(options.onError)}`);
    }
    this.name = options.name ?? this.constructor.name;
    this.interruptible = options.interruptible ?? true;
    this.onError = options.onError ?? 'continue';
  }

  /** Turns the node's input into its output. Called once per session. */
  abstract process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent>;
}

/**
 * A node that observes and emits nothing downstream (logging, analytics, side
 * effects). Whatever its `process` emits is discarded; it may not have children.
 */
export abstract class BackgroundCrewNode extends CrewNode {}

/**
 * The function `node()` wraps: an operator (`OperatorFunction<CrewEvent, CrewEvent>`
 * fits), optionally using the node context.
 */
export type NodeOperator = (input$: Observable<CrewEvent>, ctx: NodeContext) => Observable<CrewEvent>;

class OperatorNode extends CrewNode {
  constructor(
    name: string,
    private readonly operator: NodeOperator,
    options: Omit<CrewNodeOptions, 'name'>,
  ) {
    super({ ...options, name });
  }

  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    return this.operator(input$, ctx);
  }
}

/**
 * Makes a node from an RxJS operator. Use a factory (a function returning
 * `node(...)`) so that each session gets its own instance.
 *
 * @example
 * const logger = node('logger', tap((e) => console.log(e.type)));
 */
export function node(name: string, operator: NodeOperator, options: Omit<CrewNodeOptions, 'name'> = {}): CrewNode {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('node: name must be a non-empty string');
  if (typeof operator !== 'function') throw new InvalidArgumentError(`node("${name}"): operator must be a function`);
  return new OperatorNode(name, operator, options);
}
