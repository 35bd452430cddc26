import { filter, map, Observable, takeUntil } from 'rxjs';
import { CrewEvent, CrewNode, CrewSession, NodeContext } from 'rxcrew';
import { createNodeTestScheduler, runNode, testNode } from 'rxcrew/testing';

class Shout extends CrewNode {
  process(input$: Observable<CrewEvent>) {
    return input$.pipe(map((e) => (e.type === 'agent.speak' ? { ...e, text: String(e.text).toUpperCase() } : e)));
  }
}

class UntilInterrupt extends CrewNode {
  process(input$: Observable<CrewEvent>, ctx: NodeContext) {
    return input$.pipe(filter((e) => e.type === 'agent.speak'), takeUntil(ctx.interrupt$));
  }
}

const speak = (text: string) => ({ type: 'agent.speak', text });

describe('testNode', () => {
  it('asserts a node output in virtual time', () => {
    testNode(new Shout(), {
      input: '-a-b-|',
      values: { a: speak('hi'), b: { type: 'agent.log', name: 'x', payload: 1 } },
      expected: '-c-b-|',
      expectedValues: { c: speak('HI'), b: { type: 'agent.log', name: 'x', payload: 1 } },
      subscriptions: '^----!',
    });
  });

  it('fails when the output differs', () => {
    expect(() => testNode(new Shout(), { input: '-a-|', values: { a: speak('hi') }, expected: '-a-|' })).toThrow();
  });

  it('feeds interrupts from the input to ctx.interrupt$', () => {
    testNode(new UntilInterrupt(), {
      input: '-a-i-a',
      values: { a: speak('x'), i: { type: 'system.control.interrupt' } },
      expected: '-a-|',
      // the node's input, and ctx.interrupt$ derived from it
      subscriptions: ['^--!', '^--!'],
    });
  });
});

describe('runNode', () => {
  it('gives the node a context with the session it is given', () => {
    const session = new CrewSession({ id: 'mine' });
    let seen: NodeContext | undefined;
    class Peek extends CrewNode {
      process(input$: Observable<CrewEvent>, ctx: NodeContext) {
        seen = ctx;
        return input$;
      }
    }
    createNodeTestScheduler().run(({ cold, expectObservable }) => {
      expectObservable(runNode(new Peek(), cold('a|', { a: speak('x') }), { session })).toBe('a|', { a: speak('x') });
    });
    expect(seen?.session).toBe(session);
    expect(seen?.context).toBe(session.context);
  });
});
