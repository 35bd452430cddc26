import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { mulawDecode, mulawEncode } from '../../lib/audio/mulaw';
import { Inbox } from '../../lib/testing/inbox';
import { TwilioCaller } from '../../lib/testing/twilio-caller';
import { wav } from '../support/pcm';
import { type TwilioInbound, parseTwilioMessage, twilioClearFrame, twilioMarkFrame, twilioMediaFrame } from '../../lib/telephony/twilio-messages';

/**
 * The server side of a Twilio stream, as small as a spec needs: it accepts
 * one call on 127.0.0.1, parses each message with the Twilio parser (any
 * malformed one fails the spec) and lets the spec send media, marks, clears.
 */
class FakeServer {
  readonly wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  readonly messages = new Inbox<{ at: number; message: TwilioInbound }>('FakeServer', (m) => m.message.event);
  readonly bad: string[] = [];
  socket: WebSocket | undefined;
  readonly connected = new Promise<WebSocket>((resolve) =>
    this.wss.on('connection', (ws, req) => {
      this.socket = ws;
      this.headers = req.headers;
      ws.on('message', (data, isBinary) => {
        const parsed = parseTwilioMessage(data as Buffer);
        if (isBinary || !parsed.ok) this.bad.push(isBinary ? 'binary' : parsed.ok ? '' : parsed.error);
        else this.messages.push({ at: performance.now(), message: parsed.message });
      });
      ws.on('close', () => this.messages.end('the caller hung up'));
      resolve(ws);
    }),
  );
  headers: Record<string, unknown> = {};

  static async listen(): Promise<FakeServer> {
    const server = new FakeServer();
    await new Promise((resolve) => server.wss.once('listening', resolve));
    return server;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/twilio`;
  }

  next<E extends TwilioInbound['event']>(event: E) {
    return this.messages.next<{ at: number; message: Extract<TwilioInbound, { event: E }> }>((m) => m.message.event === event, 2000, event);
  }

  all<E extends TwilioInbound['event']>(event: E): Array<Extract<TwilioInbound, { event: E }>> {
    return this.messages.items.map((m) => m.message).filter((m): m is Extract<TwilioInbound, { event: E }> => m.event === event);
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

/** 8 kHz PCM16 of `ms` ms of a ramp (so every chunk differs). */
function ramp(ms: number): Buffer {
  const out = Buffer.alloc(ms * 16);
  for (let i = 0; i < out.length / 2; i++) out.writeInt16LE(((i * 97) % 16000) - 8000, i * 2);
  return out;
}

function sine(hz: number, rate: number, ms: number, amplitude = 12000): Buffer {
  const n = Math.round((rate * ms) / 1000);
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)), i * 2);
  return out;
}

/** The μ-law round trip of PCM: what arrives after encoding. */
const throughMulaw = (pcm: Buffer) => mulawDecode(mulawEncode(pcm));

let server: FakeServer;
let callers: TwilioCaller[];
beforeEach(async () => {
  server = await FakeServer.listen();
  callers = [];
});
afterEach(async () => {
  for (const c of callers) c.close();
  await server.close();
});

async function call(options: Parameters<typeof TwilioCaller.connect>[1] = {}): Promise<{ caller: TwilioCaller; ws: WebSocket }> {
  const caller = await TwilioCaller.connect(server.url, options);
  callers.push(caller);
  return { caller, ws: await server.connected };
}

describe('TwilioCaller: what it sends', () => {
  it('opens with connected, then start with its sids, custom parameters and μ-law 8 kHz mono', async () => {
    const { caller } = await call({ customParameters: { from: '+15551234567', lang: 'de' }, headers: { 'x-twilio-signature': 'sig' } });
    const start = (await server.next('start')).message;
    expect(server.messages.items.map((m) => m.message)[0]).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    expect(start).toEqual({
      event: 'start',
      sequenceNumber: '1',
      streamSid: caller.streamSid,
      start: {
        accountSid: caller.accountSid,
        streamSid: caller.streamSid,
        callSid: caller.callSid,
        tracks: ['inbound'],
        customParameters: { from: '+15551234567', lang: 'de' },
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
      },
    });
    expect(caller.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(caller.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(caller.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(server.headers['x-twilio-signature']).toBe('sig');
  });

  it('sends audio as 20 ms media chunks: 160 μ-law bytes, chunk, timestamp and sequenceNumber counting up', async () => {
    const { caller } = await call({ streamSid: 'MZtest' });
    const pcm = ramp(90); // 4.5 chunks: the last is padded with silence
    await expect(caller.sendPcm(pcm, { pace: 'burst' })).resolves.toEqual({ sent: 5, unsent: 0 });
    for (let i = 0; i < 5; i++) await server.next('media');
    const media = server.all('media');
    expect(media.map((m) => m.media.chunk)).toEqual(['1', '2', '3', '4', '5']);
    expect(media.map((m) => m.sequenceNumber)).toEqual(['2', '3', '4', '5', '6']);
    expect(media.every((m) => m.streamSid === 'MZtest' && m.media.track === 'inbound')).toBe(true);
    const stamps = media.map((m) => Number(m.media.timestamp));
    for (let i = 1; i < 5; i++) expect(stamps[i] - stamps[i - 1]).toBeGreaterThanOrEqual(20);
    const bytes = media.map((m) => Buffer.from(m.media.payload, 'base64'));
    expect(bytes.map((b) => b.length)).toEqual([160, 160, 160, 160, 160]);
    const padded = Buffer.concat([pcm, Buffer.alloc(160)]);
    expect(mulawDecode(Buffer.concat(bytes))).toEqual(throughMulaw(padded));
  });

  it('paces audio at real time: each chunk 20 ms after the one before', async () => {
    const { caller } = await call();
    await caller.sendSilence(200);
    const sent = caller.sent.filter((s) => s.message.event === 'media').map((s) => s.at);
    expect(sent).toHaveLength(10);
    // chunk k goes out no earlier than 20·k ms after chunk 0 was due (chunk 0 itself left a few µs after that)
    for (let k = 1; k < 10; k++) expect(sent[k] - sent[0]).toBeGreaterThanOrEqual(20 * k - 1);
    for (let i = 0; i < 10; i++) await server.next('media');
  });

  it('sends one utterance after another, in order, numbering on', async () => {
    const { caller } = await call();
    const first = caller.sendTone(440, 40, { pace: 'burst' });
    const second = caller.sendTone(880, 40, { pace: 'burst' });
    await Promise.all([first, second]);
    for (let i = 0; i < 4; i++) await server.next('media');
    expect(server.all('media').map((m) => m.media.chunk)).toEqual(['1', '2', '3', '4']);
    const tone = (hz: number) => sine(hz, 8000, 40, 0.5 * 32767); // sendTone's default amplitude: half of full scale
    expect(mulawDecode(Buffer.concat(server.all('media').map((m) => Buffer.from(m.media.payload, 'base64'))))).toEqual(
      throughMulaw(Buffer.concat([tone(440), tone(880)])),
    );
  });

  it('sends a WAV file, resampled to 8 kHz when it is at another rate', async () => {
    const { caller } = await call();
    const tone = sine(1000, 8000, 100);
    await caller.sendWav(wav(tone, 8000), { pace: 'burst' });
    for (let i = 0; i < 5; i++) await server.next('media');
    const got = mulawDecode(Buffer.concat(server.all('media').map((m) => Buffer.from(m.media.payload, 'base64'))));
    expect(got).toEqual(throughMulaw(tone)); // 8 kHz: as it is

    await caller.sendWav(wav(sine(1000, 16000, 100), 16000), { pace: 'burst' });
    for (let i = 0; i < 5; i++) await server.next('media'); // 100 ms at 8 kHz: five chunks
    expect(server.all('media')).toHaveLength(10);
    await expect(caller.sendWav(Buffer.from('not a wav'))).rejects.toThrow(/not a WAV file/);
  });

  it('sends dtmf as Twilio does', async () => {
    const { caller } = await call();
    caller.dtmf('5');
    caller.dtmf('#');
    expect((await server.next('dtmf')).message).toEqual({ event: 'dtmf', sequenceNumber: '2', streamSid: caller.streamSid, dtmf: { track: 'inbound_track', digit: '5' } });
    expect((await server.next('dtmf')).message.dtmf.digit).toBe('#');
  });

  it('stop: drops the audio not yet sent, sends stop last and closes 1000', async () => {
    const { caller } = await call();
    const speaking = caller.sendSilence(10_000); // real time: 500 chunks
    await server.next('media');
    const closed = caller.stop();
    const result = await speaking;
    expect(result.unsent).toBeGreaterThan(0);
    expect(result.sent + result.unsent).toBe(500);
    expect((await server.next('stop')).message).toEqual({
      event: 'stop',
      sequenceNumber: expect.any(String),
      streamSid: caller.streamSid,
      stop: { accountSid: caller.accountSid, callSid: caller.callSid },
    });
    await expect(closed).resolves.toEqual({ code: 1000, reason: 'stop' });
    const events = server.messages.items.map((m) => m.message.event);
    expect(events[events.length - 1]).toBe('stop');
    expect(server.bad).toEqual([]);
  });

  it('start: false sends nothing until sendStart(); sendRaw sends a frame as it is', async () => {
    const { caller } = await call({ start: false });
    caller.sendRaw('{"event":"nonsense"}');
    caller.sendStart();
    await server.next('start');
    expect(server.bad).toEqual(['unknown Twilio Media Streams event "nonsense"']);
    expect(server.messages.items.map((m) => m.message.event)).toEqual(['connected', 'start']);
  });
});

describe('TwilioCaller: what it receives', () => {
  it('records media decoded to PCM, marks and clears, with their stream and receive times', async () => {
    const { caller, ws } = await call();
    const pcm = ramp(20);
    const before = performance.now();
    ws.send(twilioMediaFrame(caller.streamSid, mulawEncode(pcm)));
    ws.send(twilioMarkFrame(caller.streamSid, 'm1'));
    ws.send(twilioClearFrame(caller.streamSid));
    const media = await caller.next('media');
    expect(media).toMatchObject({ kind: 'media', streamSid: caller.streamSid, pcm: throughMulaw(pcm), mulaw: mulawEncode(pcm) });
    expect(media.at).toBeGreaterThanOrEqual(before);
    expect(await caller.next('mark')).toMatchObject({ kind: 'mark', name: 'm1', streamSid: caller.streamSid });
    expect(await caller.next()).toMatchObject({ kind: 'clear', streamSid: caller.streamSid });
    expect(caller.audio()).toEqual(throughMulaw(pcm));
    expect(caller.problems).toEqual([]);
  });

  it('echoes a mark when the audio before it has played, at real time', async () => {
    const { caller, ws } = await call();
    for (let i = 0; i < 5; i++) ws.send(twilioMediaFrame(caller.streamSid, mulawEncode(ramp(20)))); // 100 ms
    ws.send(twilioMarkFrame(caller.streamSid, 'after-100ms'));
    const echo = (await server.next('mark')).message;
    expect(echo).toEqual({ event: 'mark', sequenceNumber: '2', streamSid: caller.streamSid, mark: { name: 'after-100ms' } });
    const firstPlay = caller.all('media')[0].playAt;
    expect(caller.echoed).toHaveLength(1);
    expect(caller.echoed[0].at).toBeGreaterThanOrEqual(firstPlay + 100);
    expect(caller.heard()).toEqual(caller.audio()); // all of it played by then
  });

  it('echoes marks in order, each when its audio has played; one with nothing queued at once', async () => {
    const { caller, ws } = await call();
    ws.send(twilioMarkFrame(caller.streamSid, 'first'));
    ws.send(twilioMediaFrame(caller.streamSid, mulawEncode(ramp(40))));
    ws.send(twilioMarkFrame(caller.streamSid, 'a'));
    ws.send(twilioMediaFrame(caller.streamSid, mulawEncode(ramp(40))));
    ws.send(twilioMarkFrame(caller.streamSid, 'b'));
    ws.send(twilioMarkFrame(caller.streamSid, 'c'));
    for (const name of ['first', 'a', 'b', 'c']) expect((await server.next('mark')).message.mark.name).toBe(name);
    const [first, a, b] = caller.echoed;
    const media = caller.all('media');
    expect(first.at).toBeLessThanOrEqual(a.at);
    expect(a.at).toBeGreaterThanOrEqual(media[0].playAt + 40);
    expect(b.at).toBeGreaterThanOrEqual(media[1].playAt + 40);
  });

  it('on clear: echoes the marks still waiting at once, drops the unplayed audio', async () => {
    const { caller, ws } = await call();
    ws.send(twilioMediaFrame(caller.streamSid, mulawEncode(ramp(10_000)))); // ten seconds in one message
    ws.send(twilioMarkFrame(caller.streamSid, 'end-of-reply'));
    await caller.next('mark');
    const wouldEnd = caller.playingUntil;
    ws.send(twilioClearFrame(caller.streamSid));
    expect((await server.next('mark')).message.mark.name).toBe('end-of-reply');
    const clear = await caller.next('clear');
    expect(caller.echoed[0].at).toBeLessThan(wouldEnd); // before the audio could have played
    expect(caller.playingUntil).toBeLessThanOrEqual(clear.at);
    const heard = caller.heard();
    expect(heard.length).toBeLessThan(caller.audio().length);
    expect(heard.length).toBeLessThanOrEqual(Math.ceil((clear.at - caller.all('media')[0].playAt) * 16) + 2);
    expect(heard).toEqual(caller.audio().subarray(0, heard.length));
  });

  it("marks: 'immediate' echoes without waiting for playback; 'manual' only on echoMark()", async () => {
    const immediate = await call({ marks: 'immediate' });
    immediate.ws.send(twilioMediaFrame(immediate.caller.streamSid, mulawEncode(ramp(60_000))));
    immediate.ws.send(twilioMarkFrame(immediate.caller.streamSid, 'now'));
    expect((await server.next('mark')).message.mark.name).toBe('now');
    expect(immediate.caller.echoed[0].at).toBeLessThan(immediate.caller.playingUntil);

    const second = await FakeServer.listen();
    try {
      const manual = await TwilioCaller.connect(second.url, { marks: 'manual' });
      callers.push(manual);
      const ws = await second.connected;
      ws.send(twilioMarkFrame(manual.streamSid, 'later'));
      await manual.next('mark');
      ws.send(twilioClearFrame(manual.streamSid)); // nothing waits: nothing echoed
      await manual.next('clear');
      expect(manual.echoed).toEqual([]);
      manual.echoMark('later');
      expect((await second.next('mark')).message.mark.name).toBe('later');
    } finally {
      await second.close();
    }
  });

  it('lists what Twilio would not take: binary frames, malformed messages, another stream', async () => {
    const { caller, ws } = await call({ streamSid: 'MZmine' });
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.send('{"event":"media","streamSid":"MZmine","media":{}}');
    ws.send(twilioMarkFrame('MZother', 'x'));
    await caller.next('mark');
    expect(caller.problems).toEqual([
      'binary frame of 3 bytes (Twilio takes text frames only)',
      expect.stringMatching(/media\.payload/),
      'mark for stream MZother, not MZmine',
    ]);
  });
});

describe('TwilioCaller: waiting and closing', () => {
  it('next() rejects after its timeout, listing what arrived, and at once when the stream closed', async () => {
    const { caller, ws } = await call({ marks: 'manual' });
    ws.send(twilioMarkFrame(caller.streamSid, 'm'));
    await caller.next('mark');
    await expect(caller.next('media', { timeout: 10 })).rejects.toThrow('TwilioCaller.next("media"): nothing matched within 10 ms; received: mark m');
    const pending = caller.next('clear', { timeout: 60_000 });
    ws.close(1011, 'server error');
    await expect(pending).rejects.toThrow('TwilioCaller.next("clear"): nothing matched before the stream closed; received: mark m');
    await expect(caller.closed).resolves.toEqual({ code: 1011, reason: 'server error' });
  });

  it('stops sending when the server closes, and says how much was left', async () => {
    const { caller, ws } = await call();
    const speaking = caller.sendSilence(10_000);
    await server.next('media');
    ws.close(1000, 'end_call');
    const result = await speaking;
    expect(result.unsent).toBeGreaterThan(0);
    await expect(caller.closed).resolves.toEqual({ code: 1000, reason: 'end_call' });
    caller.dtmf('1'); // after the close: nothing is sent, nothing throws
    expect(caller.sent.filter((s) => s.message.event === 'dtmf')).toEqual([]);
  });

  it('rejects connect() when nothing listens', async () => {
    const url = server.url;
    await server.close();
    await expect(TwilioCaller.connect(url)).rejects.toThrow(/ECONNREFUSED/);
    server = await FakeServer.listen(); // for afterEach
  });
});
