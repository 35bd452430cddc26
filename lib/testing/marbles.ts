import { deepStrictEqual } from 'node:assert';
import { filter, NEVER, Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { InvalidArgumentError } from '../errors';
import type { CrewEvent } from '../events';
import type { CrewNode, NodeContext } from '../node';
import { CrewSession } from '../session';
import { interruptFor, marbleSteps } from './marble-steps';

/**
 * A `TestScheduler` for node and session marbles. By default its assertions use
 * `node:assert` deep equality (works under any test runner); pass your runner's
 * assertion, e.g. `(a, e) => expect(a).toEqual(e)`, to use its matchers.
 */
export function createNodeTestScheduler(
  assertDeepEqual: (actual: unknown, expected: unknown) => void = (actual, expected) => deepStrictEqual(actual, expected),
): TestScheduler {
  return new TestScheduler(assertDeepEqual);
}

export interface RunNodeOptions {
  /** The session the node sees in its context. Default: a new standalone session with id `test`. */
  session?: CrewSession;
  /**
   * The interrupts the node sees. Default: the `system.control.interrupt` events of `input$`.
   * A node with `interruptible: false` sees none, as in a session.
   */
  interrupt$?: Observable<CrewEvent>;
}

/** Calls `node.process` on `input$` with a test context, outside any graph. */
export function runNode(node: CrewNode, input$: Observable<CrewEvent>, options: RunNodeOptions = {}): Observable<CrewEvent> {
  const session = options.session ?? new CrewSession({ id: 'test' });
  const interrupt$ = options.interrupt$ ?? input$.pipe(filter((e) => e.type === 'system.control.interrupt'));
  // as the runtime does (lib/internal/delivery.ts): a node that is not interruptible hears no interrupt
  const ctx: NodeContext = { session, context: session.context, interrupt$: node.interruptible ? interrupt$ : NEVER };
  return node.process(input$, ctx);
}

export interface NodeMarbles {
  /** Hot input marble, e.g. `'-a-b-|'`. */
  input: string;
  /** Events for the input marble's letters. */
  values: Record<string, CrewEvent>;
  /** Expected output marble. */
  expected: string;
  /** Events for the expected marble's letters. Default: `values`. */
  expectedValues?: Record<string, CrewEvent>;
  /** Expected subscription marble(s) on the input, e.g. `'^---!'` (one per subscription). */
  subscriptions?: string | string[];
  /**
   * Hot marble for `ctx.interrupt$`: each letter is a `system.control.interrupt`
   * (its event in `values`, if it has one). Default: the interrupts of `input`.
   */
  interrupt?: string;
  /** Expected subscription marble(s) on `interrupt` (with `interrupt` only). */
  interruptSubscriptions?: string | string[];
  /** The error expected at `#` in the output. */
  error?: unknown;
}

/**
 * Marble-tests a node in virtual time: feeds `input` to the node and asserts
 * its output equals `expected` (and, when given, the input's subscriptions).
 * `ctx.interrupt$` is the `interrupt` marble when given, else the interrupts of `input`.
 *
 * @example
 * testNode(new Uppercase(), { input: '-a-|', values: { a: speak('hi') }, expected: '-b-|', expectedValues: { b: speak('HI') } });
 */
export function testNode(node: CrewNode, marbles: NodeMarbles, options: Omit<RunNodeOptions, 'interrupt$'> = {}): void {
  createNodeTestScheduler().run(({ hot, expectObservable, expectSubscriptions }) => {
    const input$ = hot(marbles.input, marbles.values);
    const interrupt$ = marbles.interrupt === undefined ? undefined : hot(marbles.interrupt, interruptValues(marbles.interrupt, marbles.values));
    const output$ = runNode(node, input$, interrupt$ ? { ...options, interrupt$ } : options);
    expectObservable(output$).toBe(marbles.expected, marbles.expectedValues ?? marbles.values, marbles.error);
    if (marbles.subscriptions !== undefined) expectSubscriptions(input$.subscriptions).toBe(marbles.subscriptions);
    if (marbles.interruptSubscriptions !== undefined) {
      if (interrupt$ === undefined) throw new InvalidArgumentError('testNode: interruptSubscriptions needs an interrupt marble');
      expectSubscriptions(interrupt$.subscriptions).toBe(marbles.interruptSubscriptions);
    }
  });
}

/** The events for the letters of an interrupt marble. */
function interruptValues(marble: string, values: Record<string, CrewEvent>): Record<string, CrewEvent> {
  const letters: Record<string, CrewEvent> = {};
  for (const { mark } of marbleSteps(marble, 'interrupt')) if (mark !== '|' && mark !== '#') letters[mark] = interruptFor(mark, values);
  return letters;
}
