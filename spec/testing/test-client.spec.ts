import { map } from 'rxjs';
import { CrewSession, node } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';

describe('TestClient', () => {
  async function echoSession() {
    const session = new CrewSession();
    session.addNode(node('echo', map((e) => (e.type === 'agent.transcript.update' ? { type: 'agent.speak', text: e.content } : e))));
    const client = new TestClient(session, { timeout: 200 });
    await session.start();
    return { session, client };
  }

  it('sends events and awaits the next one, skipping to a matching type', async () => {
    const { client } = await echoSession();
    expect((await client.next()).type).toBe('agent.ready');
    client.send({ type: 'agent.transcript.update', role: 'user', content: 'one' });
    expect(await client.next('agent.speak')).toMatchObject({ text: 'one' });
  });

  it('waits for an event that arrives later', async () => {
    const { client } = await echoSession();
    const pending = client.next((e) => e.type === 'agent.speak' && e.text === 'later');
    client.send({ type: 'agent.transcript.update', role: 'user', content: 'later' });
    await expect(pending).resolves.toMatchObject({ text: 'later' });
  });

  it('rejects after the timeout, listing what arrived', async () => {
    const { client } = await echoSession();
    await expect(client.next('agent.end_call', { timeout: 10 })).rejects.toThrow(
      'TestClient.next("agent.end_call"): nothing matched within 10 ms; received: agent.ready, system.user.joined',
    );
  });

  it('passes events through JSON like a socket (unless told not to)', async () => {
    const session = new CrewSession();
    const client = new TestClient(session);
    const raw = new TestClient(new CrewSession(), { serialize: false });
    session.send({ type: 'test.x', when: new Date(0), gone: undefined });
    expect(client.received[0]).toEqual({ type: 'test.x', when: '1970-01-01T00:00:00.000Z' });
    const obj = { type: 'test.y' };
    raw.session.send(obj);
    expect(raw.received[0]).toBe(obj);
  });

  it('sends raw text and binary frames', async () => {
    const { client } = await echoSession();
    client.send('not json');
    expect((await client.next('agent.error')).payload).toMatchObject({ code: 'CREW_ERR_BAD_EVENT' });
    client.send(Buffer.from(JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: 'bin' })));
    expect(await client.next('agent.speak')).toMatchObject({ text: 'bin' });
  });

  it('reports the close and hangs up', async () => {
    const { session, client } = await echoSession();
    client.close(4000, 'gone');
    await session.waitUntilComplete();
    expect(client.closeInfo).toEqual({ code: 4000, reason: 'gone' });
    await expect(client.closed).resolves.toEqual({ code: 4000, reason: 'gone' });
    expect(client.all('system.user.left')).toHaveLength(0);
  });
});
