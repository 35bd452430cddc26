import { filter, map, Observable, takeUntil, tap } from 'rxjs';
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

describe('testNode with an interrupt marble', () => {
  it('gives ctx.interrupt$ the interrupt marble, apart from the input', () => {
    testNode(new UntilInterrupt(), {
      input: '-a-a-a-a',
      values: { a: speak('x') },
      interrupt: '----i',
      expected: '-a-a|',
      subscriptions: '^---!',
      interruptSubscriptions: '^---!',
    });
  });

  it("uses the letter's event from values when it has one", () => {
    const urgent = { type: 'system.control.interrupt', reason: 'barge-in' };
    let seen: CrewEvent[] = [];
    class Recorder extends CrewNode {
      process(input$: Observable<CrewEvent>, ctx: NodeContext) {
        seen = [];
        return input$.pipe(takeUntil(ctx.interrupt$.pipe(tap((e) => seen.push(e)))));
      }
    }
    testNode(new Recorder(), { input: '-a---', values: { a: speak('x'), u: urgent }, interrupt: '--u', expected: '-a|' });
    expect(seen).toEqual([urgent]);
    testNode(new Recorder(), { input: '-a---', values: { a: speak('x') }, interrupt: '--z', expected: '-a|' });
    expect(seen).toEqual([{ type: 'system.control.interrupt' }]);
  });

  it('ignores interrupts in the input when the interrupt marble is given', () => {
    testNode(new UntilInterrupt(), {
      input: '-a-i-a-',
      values: { a: speak('x'), i: { type: 'system.control.interrupt' } },
      interrupt: '-------',
      expected: '-a---a-',
    });
  });

  it('fails when the interrupt does not stop the node where expected', () => {
    expect(() =>
      testNode(new UntilInterrupt(), { input: '-a-a-a', values: { a: speak('x') }, interrupt: '----i', expected: '-a-a-a' }),
    ).toThrow();
  });

  it('refuses interruptSubscriptions without an interrupt marble', () => {
    expect(() =>
      testNode(new UntilInterrupt(), { input: '-a', values: { a: speak('x') }, expected: '-a', interruptSubscriptions: '^' }),
    ).toThrow(/interruptSubscriptions needs an interrupt marble/);
  });
});
