import WebSocket from 'ws';
import { CrewApp, CrewEvent } from 'rxcrew';
import { silentLogger, within } from './helpers';

/*
 * The app's heartbeat watches Twilio streams too: a peer that stops answering
 * pings without closing its socket (a dead route, a frozen process) is dropped
 * and its call ends, instead of holding a session for ever; one that answers
 * stays.
 */

const HEARTBEAT = 50;

describe('Twilio streams and the heartbeat', () => {
  let app: CrewApp;
  let url: string;
  const left: CrewEvent[] = [];

  beforeAll(async () => {
    app = new CrewApp({
      port: 0,
      host: '127.0.0.1',
      logger: silentLogger,
      twilio: true,
      heartbeatInterval: HEARTBEAT,
      setup: async (session) => {
        session.onEvent('system.user.left', (_s, e) => void left.push(e));
        await session.start();
      },
    });
    url = `ws://127.0.0.1:${(await app.listen()).port}/twilio`;
  });

  afterAll(() => app.close());

  /** Opens a stream as Twilio does (connected, start) from a plain `ws` client; `autoPong: false` answers no ping. */
  async function openStream(autoPong: boolean, n: number): Promise<WebSocket> {
    const ws = new WebSocket(url, { autoPong });
    await within(new Promise((resolve) => ws.once('open', resolve)), 'the stream to open');
    const sid = `MZ${String(n).repeat(32)}`;
    ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    ws.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: '1',
        streamSid: sid,
        start: {
          streamSid: sid,
          accountSid: `AC${'0'.repeat(32)}`,
          callSid: `CA${String(n).repeat(32)}`,
          tracks: ['inbound'],
          customParameters: {},
          mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        },
      }),
    );
    return ws;
  }

  async function noSessions(): Promise<void> {
    await within(
      (async () => {
        while (app.sessions.size > 0) await new Promise((resolve) => setImmediate(resolve));
      })(),
      'the call to end',
    );
  }

  it('drops a stream whose peer answers no ping; its call ends (system.user.left)', async () => {
    const ws = await openStream(false, 1);
    const code = await within(new Promise<number>((resolve) => ws.once('close', resolve)), 'the server to drop the silent stream');
    expect(code).toBe(1006); // terminated: no closing handshake with a peer that does not answer
    await noSessions();
    expect(left.map((e) => e.code)).toContain(1006);
  });

  it('keeps a stream whose peer answers pings, however quiet the call', async () => {
    const ws = await openStream(true, 2);
    let pings = 0;
    // four heartbeats with no media either way: each ping answered, the stream stays
    await within(new Promise<void>((resolve) => ws.on('ping', () => void (++pings === 4 && resolve()))), 'four heartbeats');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(app.sessions.size).toBe(1);
    ws.close(1000);
    await noSessions();
  });
});
