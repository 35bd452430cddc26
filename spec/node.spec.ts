import { Observable } from 'rxjs';
import { CrewEvent, CrewNode, CrewSession, node, NodeContext, OutputCrewNode } from 'rxcrew';
import { AudioPacer, TextToSpeech } from 'rxcrew/operators';
import { createNodeTestScheduler, runNode, TestClient } from 'rxcrew/testing';
import { FakeEngine } from './tts/support/fake-engine';

const interrupt = { type: 'system.control.interrupt' };
// 100 ms of 16 kHz PCM16 mono is 3200 bytes
const audio = (n: number): CrewEvent => ({ type: 'agent.audio', audio: Buffer.alloc(3200, n), sample_rate: 16000 });

/** How many interrupts each node's `ctx.interrupt$` emitted, by node name. */
const heard = new Map<string, number>();
function listen(name: string, ctx: NodeContext): void {
  heard.set(name, 0);
  ctx.interrupt$.subscribe(() => heard.set(name, heard.get(name)! + 1));
}

class ListeningSpeech extends TextToSpeech {
  override process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    listen(this.name, ctx);
    return super.process(input$, ctx);
  }
}

class ListeningPacer extends AudioPacer {
  override process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    listen(this.name, ctx);
    return super.process(input$, ctx);
  }
}

class ListeningAgent extends OutputCrewNode {
  async *generateResponse(): AsyncGenerator<string> {}

  override process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    listen(this.name, ctx);
    return super.process(input$, ctx);
  }
}

const listening = (name: string, interruptible?: boolean): CrewNode =>
  node(
    name,
    (input$, ctx) => {
      listen(name, ctx);
      return input$;
    },
    interruptible === undefined ? {} : { interruptible },
  );

describe('CrewNode option interruptible', () => {
  it('is true by default, for every node class', () => {
    const engine = new FakeEngine();
    const nodes = [listening('n'), new ListeningSpeech({ engine }), new ListeningPacer(), new ListeningAgent()];
    expect(nodes.map((n) => n.interruptible)).toEqual([true, true, true, true]);
  });

  it('false: the runtime gives the node an interrupt$ that never emits, whatever its class', async () => {
    heard.clear();
    const engine = new FakeEngine();
    const session = new CrewSession();
    for (const interruptible of [true, false]) {
      const suffix = interruptible ? 'on' : 'off';
      session
        .addNode(listening(`plain-${suffix}`, interruptible))
        .addNode(new ListeningSpeech({ name: `speech-${suffix}`, engine, interruptible }))
        .addNode(new ListeningPacer({ name: `pacer-${suffix}`, interruptible }))
        .addNode(new ListeningAgent({ name: `agent-${suffix}`, interruptible }));
    }
    const client = new TestClient(session);
    await session.start();
    client.send(interrupt);
    session.inject(interrupt);
    expect(Object.fromEntries(heard)).toEqual({
      'plain-on': 2,
      'speech-on': 2,
      'pacer-on': 2,
      'agent-on': 2,
      'plain-off': 0,
      'speech-off': 0,
      'pacer-off': 0,
      'agent-off': 0,
    });
    await session.stop();
  });

  it('false: an AudioPacer in a session paces out all it holds and sends no clear on an interrupt', () => {
    /** What the client gets from a pacer holding 400 ms of audio when an interrupt comes at 50 ms: "time type [level]". */
    const paced = (interruptible: boolean): string[] => {
      const seen: string[] = [];
      const ts = createNodeTestScheduler((actual, expected) => expect(actual).toEqual(expected));
      ts.run(({ flush }) => {
        const session = new CrewSession();
        session.addNode(new AudioPacer({ interruptible, scheduler: ts }));
        const client = new TestClient(session, { serialize: false });
        client.received$.subscribe((e) => {
          if (e.type.endsWith('audio') || e.type.endsWith('interrupt')) seen.push(`${ts.now()} ${e.type}${e.audio ? ` ${(e.audio as Buffer)[0]}` : ''}`);
        });
        void session.start();
        for (const n of [1, 2, 3, 4]) session.inject(audio(n));
        ts.schedule(() => session.inject(interrupt), 50);
        flush();
      });
      return seen;
    };
    // (leadMs 200) 1, 2, 3 go at once; 4 when 1 has played (100 ms)
    expect(paced(true)).toEqual(['0 agent.audio 1', '0 agent.audio 2', '0 agent.audio 3', '50 agent.control.interrupt', '50 system.control.interrupt']);
    expect(paced(false)).toEqual(['0 agent.audio 1', '0 agent.audio 2', '0 agent.audio 3', '50 system.control.interrupt', '100 agent.audio 4']);
  });

  it('false: runNode gives the node an interrupt$ that never emits too', () => {
    const ts = createNodeTestScheduler((actual, expected) => expect(actual).toEqual(expected));
    ts.run(({ hot, expectObservable }) => {
      const input = hot('(abcd) 44ms i', { a: audio(1), b: audio(2), c: audio(3), d: audio(4), i: interrupt });
      const values = { a: audio(1), b: audio(2), c: audio(3), d: audio(4), i: interrupt };
      expectObservable(runNode(new AudioPacer({ interruptible: false, scheduler: ts }), input)).toBe('(abc) 45ms i 49ms d', values);
    });
  });
});
