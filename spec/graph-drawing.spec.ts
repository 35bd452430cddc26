import { ignoreElements, Observable, tap } from 'rxjs';
import { BackgroundCrewNode, CrewEvent, CrewSession, node } from 'rxcrew';

class Logger extends BackgroundCrewNode {
  process(input$: Observable<CrewEvent>): Observable<CrewEvent> {
    return input$.pipe(ignoreElements());
  }
}

const pass = (name: string) => node(name, tap(() => undefined));

/** root → vad → agent → (tts, captions); tts → pacer; vad → logger (background) */
function voiceLike(session: CrewSession): CrewSession {
  const vad = pass('vad');
  const agent = pass('agent');
  const tts = pass('tts');
  const pacer = pass('pacer');
  const captions = pass('captions');
  const logger = new Logger({ name: 'logger' });
  session.addNode(vad).addNode(agent).addNode(tts).addNode(pacer).addNode(captions).addNode(logger);
  session.addEdge(vad, agent).addEdge(agent, tts).addEdge(tts, pacer).addEdge(agent, captions).addEdge(vad, logger);
  return session;
}

const DRAWN = `flowchart LR
  root(("root"))
  n1["vad"]
  n2["agent"]
  n3["tts"]
  n4["pacer"]
  n5["captions"]
  n6["logger"]
  sink(("sink"))
  root --> n1
  n1 --> n2
  n1 --> n6
  n2 --> n3
  n2 --> n5
  n3 --> n4
  n4 --> sink
  n5 --> sink
  classDef background stroke-dasharray: 5 5
  class n6 background
`;

describe('session.toMermaid()', () => {
  it('draws root, every node in the order added, every edge, the sink, background nodes dashed', () => {
    expect(voiceLike(new CrewSession()).toMermaid()).toBe(DRAWN);
  });

  it('draws the same graph after start(), from the wiring (the build-time graph is gone by then)', async () => {
    const session = voiceLike(new CrewSession());
    await session.start();
    expect(session.toMermaid()).toBe(DRAWN);
    await session.stop();
    expect(session.toMermaid()).toBe(DRAWN);
  });

  it('draws parallel roots and a join', () => {
    const session = new CrewSession();
    const [a, b, j] = [pass('a'), pass('b'), pass('join')];
    session.addNode(a).addNode(b).addNode(j).addEdge(a, j).addEdge(b, j);
    expect(session.toMermaid()).toBe(
      'flowchart LR\n  root(("root"))\n  n1["a"]\n  n2["b"]\n  n3["join"]\n  sink(("sink"))\n' +
        '  root --> n1\n  root --> n2\n  n1 --> n3\n  n2 --> n3\n  n3 --> sink\n',
    );
  });

  it('draws an empty graph as root and sink', () => {
    expect(new CrewSession().toMermaid()).toBe('flowchart LR\n  root(("root"))\n  sink(("sink"))\n');
  });

  it('escapes what would end or break a label', () => {
    const session = new CrewSession();
    session.addNode(pass('say "hi" <b> & #1'));
    expect(session.toMermaid()).toContain('n1["say #34;hi#34; #60;b#62; #38; #35;1"]');
  });
});
