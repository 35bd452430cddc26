import { CrewEvent, Events } from 'rxcrew';
import { ofType } from 'rxcrew/operators';
import { createNodeTestScheduler } from 'rxcrew/testing';

const speak = { type: 'agent.speak', text: 'hi' };
const log = { type: 'agent.log', name: 'n', payload: null };
const joined = { type: 'system.user.joined', session_id: 's' };

describe('ofType', () => {
  const run = (fn: Parameters<ReturnType<typeof createNodeTestScheduler>['run']>[0]) => createNodeTestScheduler().run(fn);

  it('keeps only the given type', () => {
    run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('-a-b-a-|', { a: speak, b: log });
      expectObservable(source.pipe(ofType('agent.speak'))).toBe('-a---a-|', { a: speak });
      expectSubscriptions(source.subscriptions).toBe('^------!');
    });
  });

  it('takes several types, aliases and definitions', () => {
    run(({ cold, expectObservable }) => {
      const source = cold('abc|', { a: speak, b: log, c: joined });
      expectObservable(source.pipe(ofType('system.user_joined', Events.AgentLog.type))).toBe('-bc|', { b: log, c: joined });
      expectObservable(source.pipe(ofType(Events.AgentSpeak))).toBe('a--|', { a: speak });
    });
  });

  it('passes errors, empty, never and early unsubscribe through', () => {
    run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(cold('-a-#', { a: speak }).pipe(ofType('agent.speak'))).toBe('-a-#', { a: speak });
      expectObservable(cold<CrewEvent>('|').pipe(ofType('agent.speak'))).toBe('|');
      expectObservable(cold<CrewEvent>('-').pipe(ofType('agent.speak'))).toBe('-');
      const source = cold('-a-a-a', { a: speak });
      expectObservable(source.pipe(ofType('agent.speak')), '^--!').toBe('-a-', { a: speak });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });
});
