import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { mulawDecode, mulawEncode } from '../../lib/audio/mulaw';
import { pcm16Wav } from '../../lib/tts/wav';
import { main } from '../../lib/cli/main';
import { Inbox } from '../../lib/testing/inbox';
import { type TwilioInbound, parseTwilioMessage, twilioClearFrame, twilioMarkFrame, twilioMediaFrame } from '../../lib/telephony/twilio-messages';
import { pcm16MonoOfWav } from '../../lib/tts/wav';
import { within } from '../integration/helpers';
import { Capture, closedPort, runTs } from './helpers';

/*
 * `rxcrew call --twilio` run in process (main()) against a fake Twilio-side
 * server over a real socket on 127.0.0.1: the server answers one stream, reads
 * every message with the Twilio parser, and sends media, marks and clears.
 */

class TwilioSide {
  readonly wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  readonly got = new Inbox<TwilioInbound>('TwilioSide', (m) => m.event);
  readonly bad: string[] = [];
  readonly socket = new Promise<WebSocket>((resolve) =>
    this.wss.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => {
        const parsed = parseTwilioMessage(data as Buffer);
        if (isBinary || !parsed.ok) this.bad.push(isBinary ? 'binary' : parsed.ok ? '' : parsed.error);
        else this.got.push(parsed.message);
      });
      ws.on('close', () => this.got.end('the caller hung up'));
      resolve(ws);
    }),
  );

  static async listen(): Promise<TwilioSide> {
    const side = new TwilioSide();
    await new Promise((resolve) => side.wss.once('listening', resolve));
    return side;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/twilio`;
  }

  next<E extends TwilioInbound['event']>(event: E): Promise<Extract<TwilioInbound, { event: E }>> {
    return this.got.next((m) => m.event === event, 5000, event);
  }

  /** Sends `chunks` 20 ms media messages of `pcm`, each followed by a mark. */
  async speak(streamSid: string, pcm: Buffer, tag: string): Promise<void> {
    const ws = await this.socket;
    for (let i = 0; i * 320 < pcm.length; i++) {
      ws.send(twilioMediaFrame(streamSid, mulawEncode(pcm.subarray(i * 320, (i + 1) * 320))));
      ws.send(twilioMarkFrame(streamSid, `${tag}-${i}`));
    }
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise((resolve) => this.wss.close(resolve));
  }
}

/** 8 kHz PCM16 of `ms` ms of a ramp (every chunk differs). */
function ramp(ms: number, step = 97): Buffer {
  const out = Buffer.alloc(ms * 16);
  for (let i = 0; i < out.length / 2; i++) out.writeInt16LE(((i * step) % 16000) - 8000, i * 2);
  return out;
}

function rxcrew(...argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  let interrupt: (() => void) | undefined;
  const exit = main(argv, {
    stdin: new PassThrough(),
    stdout,
    stderr,
    env: {},
    onInterrupt(handler) {
      interrupt = handler;
      return () => (interrupt = undefined);
    },
  });
  return { stdout, stderr, exit: () => within(exit, `rxcrew to exit; stdout ${JSON.stringify(stdout.text)}`), ctrlC: () => interrupt?.() };
}

describe('rxcrew call --twilio', () => {
  let side: TwilioSide;
  let dir: string;

  beforeEach(async () => {
    side = await TwilioSide.listen();
    dir = mkdtempSync(join(tmpdir(), 'rxcrew-call-'));
  });
  afterEach(async () => {
    await side.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('speaks the WAV as μ-law media, echoes marks, reports a clear, and writes what it heard with --out', async () => {
    const speech = ramp(200);
    const wavFile = join(dir, 'hi.wav');
    writeFileSync(wavFile, pcm16Wav(speech, 8000));
    const outFile = join(dir, 'heard.wav');
    const run = rxcrew('call', '--twilio', side.url, '--wav', wavFile, '--param', 'from=+15551234567', '--out', outFile, '--quiet', '60');

    const start = await side.next('start');
    expect(start.start.customParameters).toEqual({ from: '+15551234567' });
    const sid = start.start.streamSid;
    await run.stdout.printed(`stream started: streamSid ${sid}, callSid ${start.start.callSid}\n`);
    const media = [];
    for (let i = 0; i < 10; i++) media.push(await side.next('media'));
    expect(media.every((m) => m.media.track === 'inbound' && m.streamSid === sid)).toBe(true);
    expect(Buffer.concat(media.map((m) => mulawDecode(Buffer.from(m.media.payload, 'base64'))))).toEqual(mulawDecode(mulawEncode(speech)));
    await run.stdout.printed('speaking hi.wav\nspoke 0.20 s in 10 chunks\n');

    // a reply of 100 ms: its five marks come back once it has played
    const reply = ramp(100, 31);
    await side.speak(sid, reply, 'a');
    for (let i = 0; i < 5; i++) expect((await side.next('mark')).mark.name).toBe(`a-${i}`);
    await run.stdout.printed('agent audio: 0.10 s in 5 chunks; 5 marks echoed\n');

    // a second reply cut by a clear: its marks are echoed at once
    await side.speak(sid, ramp(100, 7), 'b');
    (await side.socket).send(twilioClearFrame(sid));
    for (let i = 0; i < 5; i++) expect((await side.next('mark')).mark.name).toBe(`b-${i}`);
    await run.stdout.printed('agent audio: 0.10 s in 5 chunks, cut by a clear; 5 marks echoed\n');
    expect(run.stdout.text).toMatch(/\nclear received: 0\.\d\d s of agent audio not yet played dropped\n/);

    (await side.socket).close(1000, 'call over');
    expect(await run.exit()).toBe(0);
    expect(run.stdout.text).toContain('closed by the server: 1000 call over (10 marks echoed, 1 clear)\n');
    expect(run.stderr.text).toBe('');
    expect(side.bad).toEqual([]);

    const heard = pcm16MonoOfWav(readFileSync(outFile));
    expect(heard.sampleRate).toBe(8000);
    expect(heard.pcm.length).toBeGreaterThanOrEqual(reply.length);
    expect(heard.pcm.length).toBeLessThan(2 * reply.length);
    expect(heard.pcm.subarray(0, reply.length)).toEqual(mulawDecode(mulawEncode(reply)));
    expect(run.stdout.text).toMatch(new RegExp(`\\nwrote ${outFile.replace(/[.\\/]/g, '\\$&')}: 0\\.\\d\\d s heard\\n$`));
  });

  it('presses the --dtmf keys after the audio, then hangs up once the agent is quiet', async () => {
    const run = rxcrew('call', '--twilio', side.url, '--dtmf', '4#', '--quiet', '0');
    const start = await side.next('start');
    expect((await side.next('dtmf')).dtmf.digit).toBe('4');
    expect((await side.next('dtmf')).dtmf.digit).toBe('#');
    expect((await side.next('stop')).stop.callSid).toBe(start.start.callSid);
    expect(await run.exit()).toBe(0);
    expect(run.stdout.text).toContain('pressed 4#\nhanging up (the agent was quiet for 0 s)\nclosed: 1000 stop (0 marks echoed, 0 clears)\n');
  });

  it('hangs up on Ctrl-C with stop and exits 0', async () => {
    const run = rxcrew('call', '--twilio', side.url);
    await side.next('start');
    await run.stdout.printed('stream started');
    run.ctrlC();
    await side.next('stop');
    expect(await run.exit()).toBe(0);
    expect(run.stdout.text).toContain('hanging up (Ctrl-C)\nclosed: 1000 stop');
  });

  it('exits 1 when the server closes the stream with another code than 1000', async () => {
    const run = rxcrew('call', '--twilio', side.url);
    await side.next('start');
    (await side.socket).close(1011, 'boom');
    expect(await run.exit()).toBe(1);
    expect(run.stdout.text).toContain('closed by the server: 1011 boom');
    expect(run.stderr.text).toBe('rxcrew: the server closed the stream (1011 boom)\n');
  });

  it('exits 1 when nothing listens', async () => {
    const url = `ws://127.0.0.1:${await closedPort()}/twilio`;
    const run = rxcrew('call', '--twilio', url);
    expect(await run.exit()).toBe(1);
    expect(run.stderr.text).toBe(`rxcrew: cannot connect to ${url}: ECONNREFUSED\n`);
  });

  it.each([
    ['missing.wav', undefined, 'cannot read MISSING: ENOENT'],
    ['text.wav', Buffer.from('hello'), 'FILE is not a WAV the caller can speak: not a WAV file (no RIFF/WAVE header)'],
    ['empty.wav', pcm16Wav(Buffer.alloc(0), 8000), 'FILE is not a WAV the caller can speak: it holds no audio'],
  ])('exits 2 without calling for --wav %s', async (name, bytes, message) => {
    const file = join(dir, name);
    if (bytes) writeFileSync(file, bytes);
    let connected = false;
    side.wss.on('connection', () => (connected = true));
    const run = rxcrew('call', '--twilio', side.url, '--wav', file);
    expect(await run.exit()).toBe(2);
    expect(run.stderr.text).toBe(`rxcrew: ${message.replace('MISSING', file).replace('FILE', file)}\n`);
    expect(connected).toBe(false);
  });

  it('exits 2 when --out cannot be written', async () => {
    const run = rxcrew('call', '--twilio', side.url, '--out', join(dir, 'no', 'such', 'dir.wav'));
    expect(await run.exit()).toBe(2);
    expect(run.stderr.text).toMatch(/^rxcrew: cannot write .*dir\.wav: ENOENT\n$/);
  });

  it('exits 2 with the call usage for a bad command line', async () => {
    const run = rxcrew('call', '--twilio', 'http://x.test/twilio');
    expect(await run.exit()).toBe(2);
    expect(run.stderr.text).toMatch(/^rxcrew: --twilio needs a ws:\/\/ or wss:\/\/ URL .*\n\nUsage: rxcrew call --twilio URL/);
  });

  it('runs as the real command: SIGINT hangs up with stop, exit 0', async () => {
    const run = runTs(join('bin', 'rxcrew.ts'), ['call', '--twilio', side.url, '--param', 'to=+15550000000'], { guardMs: 20_000 });
    const start = await side.next('start');
    expect(start.start.customParameters).toEqual({ to: '+15550000000' });
    await run.printed(`stream started: streamSid ${start.start.streamSid}`);
    run.child.kill('SIGINT');
    await side.next('stop');
    const { code, stdout, stderr } = await run.exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^stream started: .*\nhanging up \(Ctrl-C\)\nclosed: 1000 stop \(0 marks echoed, 0 clears\)\n$/);
  });
});
