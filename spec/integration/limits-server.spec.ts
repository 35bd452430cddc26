import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { CrewEvent, CrewSession } from 'rxcrew';
import { echoNode, Harness, init, say, silentLogger, within } from './helpers';

/*
 * Limits on the server as a whole and on the wire (docs/security.md): sessions
 * per process, frame size, compression, and keys that try to reach prototypes.
 */

/** Opens a raw `ws` client offering permessage-deflate; resolves with the handshake response and the open socket. */
async function openOfferingDeflate(url: string): Promise<{ ws: WebSocket; response: IncomingMessage }> {
  const ws = new WebSocket(url, { perMessageDeflate: true });
  ws.on('error', () => undefined);
  const response = new Promise<IncomingMessage>((resolve) => ws.once('upgrade', resolve));
  await within(new Promise((resolve) => ws.once('open', resolve)), 'the open');
  return { ws, response: await response };
}

describe('CrewApp server limits (real ws clients)', () => {
  const h = new Harness();
  const raw: WebSocket[] = [];
  afterEach(async () => {
    for (const ws of raw.splice(0)) ws.terminate();
    await h.cleanup();
  });

  describe('sessions per process', () => {
    it('closes one connection past maxSessions with a fatal CREW_ERR_SERVER_FULL and 1013, runs no setup for it, and admits again once a slot frees', async () => {
      const sessions: CrewSession[] = [];
      const setup = jest.fn((s: CrewSession) => {
        sessions.push(s);
        s.addNode(echoNode());
      });
      const { app, connect, connectReady } = await h.start({ setup, maxSessions: 2 });
      const [a, b] = [await connectReady(), await connectReady()];

      const extra = await connect();
      const error = await extra.next('agent.error');
      expect(error).toMatchObject({ severity: 'fatal', payload: { code: 'CREW_ERR_SERVER_FULL' } });
      expect(error.message).toMatch(/full \(2 sessions\)/);
      expect((await within(extra.closed, 'the extra close')).code).toBe(1013);
      expect(setup).toHaveBeenCalledTimes(2);
      expect(app.sessions.size).toBe(2);

      a.send(say('a'));
      b.send(say('b'));
      expect((await a.next('agent.speak')).text).toBe('a');
      expect((await b.next('agent.speak')).text).toBe('b');

      await a.close();
      await within(sessions[0].waitUntilComplete(), 'the first session to end');
      const c = await connectReady();
      c.send(say('c'));
      expect((await c.next('agent.speak')).text).toBe('c');
      expect(app.sessions.size).toBe(2);
    });
  });

  describe('frame size', () => {
    it('accepts a frame of exactly 64 KiB by default and closes one byte more with 1009', async () => {
      const { connectReady } = await h.start({ setup: (s) => void s.addNode(echoNode()), logger: silentLogger });
      const client = await connectReady();
      const frame = (size: number) => {
        const empty = JSON.stringify(say(''));
        return JSON.stringify(say('x'.repeat(size - empty.length)));
      };

      client.sendRaw(frame(64 * 1024));
      expect(((await client.next('agent.speak')).text as string).length).toBeGreaterThan(65_000);
      client.sendRaw(frame(64 * 1024 + 1));
      expect((await within(client.closed, 'the close')).code).toBe(1009);
    });
  });

  describe('per-message deflate', () => {
    it('is not negotiated by default, even when the client offers it', async () => {
      const offered: Array<string | undefined> = [];
      const { port } = await h.start({
        setup: (s) => void s.addNode(echoNode()),
        authenticate: (req) => offered.push(req.headers['sec-websocket-extensions']),
      });
      const { ws, response } = await openOfferingDeflate(`ws://127.0.0.1:${port}/ws`);
      raw.push(ws);

      expect(offered[0]).toMatch(/permessage-deflate/);
      expect(response.headers['sec-websocket-extensions']).toBeUndefined();
      expect(ws.extensions).toBe('');
    });

    it('is negotiated with perMessageDeflate: true (the default is what turns it off)', async () => {
      const { port } = await h.start({ setup: (s) => void s.addNode(echoNode()), perMessageDeflate: true });
      const { ws, response } = await openOfferingDeflate(`ws://127.0.0.1:${port}/ws`);
      raw.push(ws);
      expect(response.headers['sec-websocket-extensions']).toMatch(/permessage-deflate/);
    });
  });

  describe('prototype-pollution keys', () => {
    const hostile =
      '{"type":"agent.transcript.update","role":"user","content":"p","__proto__":{"polluted":"yes"},' +
      '"constructor":{"prototype":{"polluted":"yes"}},"nested":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}';
    const hostileInit =
      '{"type":"system.init","version":"1","session_context":{"conversation_type":"chat",' +
      '"initial_variables":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"name":"ok"}}}';

    it('never reach Object.prototype, from text or binary frames, event fields or initial_variables', async () => {
      const seen: CrewEvent[] = [];
      let session: CrewSession | undefined;
      const { connectReady } = await h.start({
        setup: (s) => {
          session = s;
          s.addNode(echoNode());
          s.onEvent('agent.transcript.update', (_s, e) => void seen.push(e));
        },
      });
      const client = await connectReady();

      client.sendRaw(hostileInit);
      client.sendRaw(hostile);
      client.sendRaw(Buffer.from(hostile));
      client.send(init({ later: 1 }));
      expect((await client.next('agent.speak')).text).toBe('p');
      expect((await client.next('agent.speak')).text).toBe('p');
      await client.roundTrip();

      expect(client.types).not.toContain('agent.error');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
      expect(seen).toHaveLength(2);
      for (const e of seen) {
        expect(Object.getPrototypeOf(e)).toBe(Object.prototype);
        expect((e as { polluted?: unknown }).polluted).toBeUndefined();
        const nested = e.nested as object;
        expect(Object.getPrototypeOf(nested)).toBe(Object.prototype);
        expect((nested as { polluted?: unknown }).polluted).toBeUndefined();
      }
      const context = session!.context;
      expect(context.get('name')).toBe('ok');
      expect(context.get('later')).toBe(1);
      expect(Object.getPrototypeOf(context.toJSON())).toBe(Object.prototype);
      expect((context.toJSON() as { polluted?: unknown }).polluted).toBeUndefined();
    });
  });
});
