import { filter, map } from 'rxjs';
import { CrewSession, event, node } from 'rxcrew';
import { CrewClient, Harness, init, say, within } from './helpers';

const CLIENTS = 48;

/** Answers each transcript with the session's own `name` variable and the text. */
function nameEcho() {
  return node('name-echo', (input$, ctx) =>
    input$.pipe(
      filter((e) => e.type === 'agent.transcript.update'),
      map((e) => event('agent.speak', { text: `${String(ctx.context.get('name'))}:${String(e.content)}`, session_id: ctx.session.id })),
    ),
  );
}

describe('CrewApp with many concurrent sessions', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it(`keeps ${CLIENTS} concurrent sessions isolated and tracks them in app.sessions`, async () => {
    const sessions: CrewSession[] = [];
    const { app, connect } = await h.start({
      setup: (session) => {
        sessions.push(session);
        session.addNode(nameEcho());
      },
    });

    const clients: CrewClient[] = await Promise.all(Array.from({ length: CLIENTS }, () => connect()));
    const ids = await Promise.all(
      clients.map(async (client, i) => {
        client.send(init({ name: `client-${i}` }));
        return String((await client.next('agent.ready')).session_id);
      }),
    );
    expect(new Set(ids).size).toBe(CLIENTS);
    expect(app.sessions.size).toBe(CLIENTS);
    expect(new Set(app.sessions.keys())).toEqual(new Set(ids));

    // every client talks at once, three messages each, interleaved on the server
    await Promise.all(
      clients.map(async (client, i) => {
        for (let n = 0; n < 3; n++) client.send(say(`hello-${i}-${n}`));
        for (let n = 0; n < 3; n++) {
          const reply = await client.next('agent.speak');
          expect(reply).toMatchObject({ text: `client-${i}:hello-${i}-${n}`, session_id: ids[i] });
        }
      }),
    );

    clients.forEach((client, i) => {
      const spoken = client.events.filter((e) => e.type === 'agent.speak');
      expect(spoken).toHaveLength(3);
      expect(spoken.every((e) => e.session_id === ids[i])).toBe(true);
      expect(client.types).not.toContain('agent.error');
    });
    for (const session of sessions) expect(session.context.get('name')).toBe(`client-${ids.indexOf(session.id)}`);
    expect(app.sessions.size).toBe(CLIENTS);

    // close half: the other half stay listed and keep working
    const half = CLIENTS / 2;
    await Promise.all(clients.slice(0, half).map((c) => c.close()));
    await within(Promise.all(sessions.filter((s) => ids.indexOf(s.id) < half).map((s) => s.waitUntilComplete())), 'closed sessions to complete');
    expect(app.sessions.size).toBe(CLIENTS - half);
    const last = clients[CLIENTS - 1];
    last.send(say('still here'));
    expect((await last.next('agent.speak')).text).toBe(`client-${CLIENTS - 1}:still here`);

    await Promise.all(clients.slice(half).map((c) => c.close()));
    await within(Promise.all(sessions.map((s) => s.waitUntilComplete())), 'all sessions to complete');
    expect(app.sessions.size).toBe(0);
  });

  it('gives each connection a fresh setup call and its own context (nothing leaks into the next call)', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(nameEcho()) });

    const first = await connect();
    first.send(init({ name: 'alice' }));
    first.send(say('hi'));
    expect((await first.next('agent.speak')).text).toBe('alice:hi');
    await first.close();

    const second = await connect();
    await second.next('agent.ready');
    second.send(say('hi'));
    expect((await second.next('agent.speak')).text).toBe('undefined:hi');
  });
});
