import { filter, OperatorFunction } from 'rxjs';
import { canonicalType, CrewEvent, EventDefinition } from '../lib/events';

/**
 * Keeps the events whose type is one of `types` (type names, aliases, or
 * definitions from `defineEvent`). The result is typed when definitions are given.
 *
 * ```
 * input:   -a-b-c-|        (a, c: agent.speak)
 * ofType('agent.speak')
 * output:  -a---c-|
 * ```
 *
 * @example
 * input$.pipe(ofType(AgentSpeak), map((e) => e.text))
 */
export function ofType<E extends CrewEvent>(...types: EventDefinition<E>[]): OperatorFunction<CrewEvent, E>;
export function ofType(...types: string[]): OperatorFunction<CrewEvent, CrewEvent>;
export function ofType(...types: Array<string | EventDefinition>): OperatorFunction<CrewEvent, CrewEvent> {
  const wanted = types.map((t) => canonicalType(typeof t === 'string' ? t : t.type));
  if (wanted.length === 1) {
    const only = wanted[0];
    return filter((e) => e.type === only);
  }
  const set = new Set(wanted);
  return filter((e) => set.has(e.type));
}
