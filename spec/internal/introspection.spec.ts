import { filter, ignoreElements, map, Observable } from 'rxjs';
import { BackgroundCrewNode, CrewEvent, CrewSession, event, node } from 'rxcrew';
import type { TapDirection } from '../../lib/internal/introspection';
import { introspect } from '../../lib/internal/introspection';

/** Counts what it receives and emits one `seen` per event (dropped: it is a background node). */
class Watcher extends BackgroundCrewNode {
  constructor() {
    super({ name: 'watcher' });
  }
  process(input$: Observable<CrewEvent>): Observable<CrewEvent> {
    return input$.pipe(map(() => event('seen')));
  }
}

describe('a session runtime’s counters and tap (what the inspector reads)', () => {
  function session() {
    const s = new CrewSession();
    const upper = node('upper', (input$) => input$.pipe(filter((e) => e.type === 'say'), map((e) => event('said', { text: String(e.text).toUpperCase() }))));
    const quiet = node('quiet', (input$) => input$.pipe(ignoreElements()));
    s.addNode(upper).addNode(quiet).addNode(new Watcher()).addEdge(upper, quiet);
    return s;
  }

  it('has no node counts before start, and zero at the edges', () => {
    expect(introspect(session())!.counts()).toEqual({ nodes: [], fromClient: 0, toClient: 0 });
  });

  it('counts per node what it received and emitted, and what reached the client', async () => {
    const s = session();
    await s.start();
    s.inject(event('say', { text: 'a' }));
    s.inject(event('other'));
    const counts = introspect(s)!.counts();
    const byName = Object.fromEntries(counts.nodes.map((n) => [n.name, [n.received, n.emitted]]));
    // the root also delivered system.user.joined to the parentless nodes
    expect(byName).toEqual({ upper: [3, 1], quiet: [1, 0], watcher: [3, 3] });
    expect(counts.fromClient).toBe(1); // system.user.joined (injected events enter at the root)
    expect(counts.toClient).toBe(1); // agent.ready: upper's output goes to quiet, not the sink
    await s.stop();
  });

  it('shows every event entering or leaving to the tap while one is set, and nothing after', async () => {
    const s = session();
    const seen: string[] = [];
    introspect(s)!.setTap({ seen: (e: CrewEvent, dir: TapDirection) => void seen.push(`${dir} ${e.type}`) });
    await s.start();
    s.inject(event('say', { text: 'a' }));
    s.send(event('agent.speak', { text: 'x' }));
    introspect(s)!.setTap(undefined);
    s.inject(event('say', { text: 'b' }));
    expect(seen).toEqual(['out agent.ready', 'in system.user.joined', 'inject say', 'out agent.speak']);
    await s.stop();
  });
});
