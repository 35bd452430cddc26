import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { mulawDecode, mulawEncode } from '../audio/mulaw';
import { resamplePcm16 } from '../audio/resample';
import { TWILIO_MEDIA_FORMAT, mediaPayload, parseTwilioOutbound } from '../telephony/twilio-messages';
import { pcm16MonoOfWav } from '../tts/wav';
import { Inbox } from './inbox';
import { TwilioPlayback } from './twilio-playback';

export interface TwilioCallerOptions {
  /** Sent in `start.customParameters` (as `<Parameter>`s would). Default `{}`. */
  customParameters?: Record<string, string>;
  /** Default: generated, `MZ`/`CA`/`AC` and 32 hex digits, as Twilio's. */
  streamSid?: string;
  callSid?: string;
  accountSid?: string;
  /** How marks are answered: when playback reaches them (`'playback'`, as Twilio does; the default), at once, or only by `echoMark()`. */
  marks?: 'playback' | 'immediate' | 'manual';
  /** Send `connected` and `start` once the socket opens (default `true`; `false`: call `sendStart()`). */
  start?: boolean;
  /** Headers on the WebSocket upgrade (Twilio's own: `X-Twilio-Signature`, …). */
  headers?: Record<string, string>;
  /** How long `next()` waits before it rejects (ms). Default 2000. */
  timeout?: number;
  /** Aborting it drops the socket (`terminate()`): `connect()` rejects if it has not opened yet. */
  signal?: AbortSignal;
}

/** What the server sent, as the caller received it (`at`: `performance.now()` ms). */
export type TwilioCallerEvent =
  | { kind: 'media'; at: number; streamSid: string; mulaw: Buffer; pcm: Buffer; /** When it starts playing. */ playAt: number }
  | { kind: 'mark'; at: number; streamSid: string; name: string }
  | { kind: 'clear'; at: number; streamSid: string };

export type TwilioCallerKind = TwilioCallerEvent['kind'];

/** How audio is sent: 20 ms chunks at real time (as Twilio), or all at once. */
export interface SendAudioOptions {
  pace?: 'realtime' | 'burst';
}

/** How much of the audio went out; the rest was cut by `stop()`, `close()` or the server closing. */
export interface SendAudioResult {
  sent: number;
  unsent: number;
}

const CHUNK_BYTES = 320; // 20 ms of 8 kHz PCM16 = 160 μ-law bytes, as Twilio sends

/**
 * A scripted phone caller speaking the Twilio Media Streams protocol to a
 * server: it connects like Twilio, sends `connected`, `start` and the
 * caller's audio as 20 ms `media` messages, `dtmf` and `stop`; plays what the
 * server sends at real time and echoes each `mark` when playback reaches it
 * (at once on `clear`), as Twilio does; records all it receives.
 *
 * @example
 * const caller = await TwilioCaller.connect('ws://127.0.0.1:3000/twilio', { customParameters: { from: '+15551234567' } });
 * const greeting = await caller.next('media');
 * await caller.sendTone(440, 500);
 * caller.dtmf('5');
 * await caller.stop();
 */
export class TwilioCaller {
  readonly streamSid: string;
  readonly callSid: string;
  readonly accountSid: string;
  /** Everything the server sent, in order. */
  readonly received: TwilioCallerEvent[];
  /** Every message the caller sent, parsed, with when (`performance.now()` ms). */
  readonly sent: Array<{ at: number; message: Record<string, unknown> }> = [];
  /** The marks echoed, with when. */
  readonly echoed: Array<{ name: string; at: number }> = [];
  /** What Twilio would not take from the server: malformed or binary frames, another stream's `streamSid`. */
  readonly problems: string[] = [];
  /** Resolves when the socket closes, by either side. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private readonly inbox = new Inbox<TwilioCallerEvent>('TwilioCaller', (e) => (e.kind === 'mark' ? `mark ${e.name}` : e.kind));
  private readonly playback = new TwilioPlayback(() => performance.now());
  private readonly options: TwilioCallerOptions;
  private sequence = 0;
  private chunk = 0;
  private startedAt = 0;
  private nextTimestamp = 0;
  private echoTimer: NodeJS.Timeout | undefined;
  private sending: Promise<unknown> = Promise.resolve();
  private cancelled = 0; // bumped by stop()/close(): audio queued before it is not sent

  private constructor(
    private readonly ws: WebSocket,
    options: TwilioCallerOptions,
  ) {
    this.options = options;
    this.streamSid = options.streamSid ?? sid('MZ');
    this.callSid = options.callSid ?? sid('CA');
    this.accountSid = options.accountSid ?? sid('AC');
    this.received = this.inbox.items;
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.cancelled++;
        clearTimeout(this.echoTimer);
        this.inbox.end('the stream closed');
        resolve({ code, reason: reason.toString() });
      }),
    );
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
  }

  /** Opens the stream at `url` (`ws://…/twilio`); resolves once `connected` and `start` are sent. */
  static connect(url: string, options: TwilioCallerOptions = {}): Promise<TwilioCaller> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: options.headers });
      const caller = new TwilioCaller(ws, options);
      if (options.signal?.aborted) caller.terminate();
      options.signal?.addEventListener('abort', () => caller.terminate(), { once: true });
      ws.once('error', reject);
      ws.once('open', () => {
        ws.off('error', reject);
        ws.on('error', (err) => caller.problems.push(`socket error: ${err.message}`));
        if (options.start !== false) caller.sendStart();
        resolve(caller);
      });
    });
  }

  /** Sends `connected`, then `start` with the stream's sids, tracks `['inbound']`, custom parameters and μ-law 8 kHz mono. */
  sendStart(): void {
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' }, false);
    this.startedAt = performance.now();
    this.send({
      event: 'start',
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters: { ...this.options.customParameters },
        mediaFormat: { ...TWILIO_MEDIA_FORMAT },
      },
    });
  }

  /** Sends 8 kHz PCM16 LE as `media` (20 ms chunks, the last padded with silence), after audio sent before. */
  sendPcm(pcm: Uint8Array, options: SendAudioOptions = {}): Promise<SendAudioResult> {
    const whole = pcm.length - (pcm.length % 2); // a trailing half sample is dropped
    const chunks: Buffer[] = [];
    for (let i = 0; i < whole; i += CHUNK_BYTES) {
      const chunk = Buffer.alloc(CHUNK_BYTES); // zeros: silence pads the last one
      Buffer.from(pcm.buffer, pcm.byteOffset + i, Math.min(CHUNK_BYTES, whole - i)).copy(chunk);
      chunks.push(chunk);
    }
    const epoch = this.cancelled;
    const run = this.sending.then(() => this.sendChunks(chunks, options.pace ?? 'realtime', epoch));
    this.sending = run;
    return run;
  }

  /** Sends a sine tone (8 kHz; `amplitude` 0–1 of full scale, default 0.5). */
  sendTone(hz: number, ms: number, options: SendAudioOptions & { amplitude?: number } = {}): Promise<SendAudioResult> {
    const n = Math.round(ms * 8);
    const pcm = Buffer.alloc(n * 2);
    const amplitude = (options.amplitude ?? 0.5) * 32767;
    for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / 8000)), i * 2);
    return this.sendPcm(pcm, options);
  }

  /** Sends `ms` of silence. */
  sendSilence(ms: number, options: SendAudioOptions = {}): Promise<SendAudioResult> {
    return this.sendPcm(Buffer.alloc(Math.round(ms * 8) * 2), options);
  }

  /** Sends a 16-bit mono WAV file's audio, resampled to 8 kHz when it is at another rate. */
  async sendWav(wav: Uint8Array, options: SendAudioOptions = {}): Promise<SendAudioResult> {
    const { sampleRate, pcm } = pcm16MonoOfWav(wav);
    return this.sendPcm(sampleRate === 8000 ? pcm : await resamplePcm16(pcm, sampleRate, 8000), options);
  }

  /** The caller presses a key (`0`–`9`, `*`, `#`). */
  dtmf(digit: string): void {
    this.send({ event: 'dtmf', dtmf: { track: 'inbound_track', digit } });
  }

  /** Hangs up as Twilio does: audio not yet sent is dropped, `stop` is sent, the socket closes (1000). */
  stop(): Promise<{ code: number; reason: string }> {
    this.cancelled++;
    this.send({ event: 'stop', stop: { accountSid: this.accountSid, callSid: this.callSid } });
    this.close(1000, 'stop');
    return this.closed;
  }

  /** Closes the socket without `stop` (a dropped line). */
  close(code = 1000, reason = ''): void {
    this.cancelled++;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason);
  }

  /** Drops the socket at once, without `stop` or a close handshake (`closed` resolves with 1006). */
  terminate(): void {
    this.cancelled++;
    this.ws.terminate();
  }

  /** Sends a frame as it is (text, or a Buffer as binary): for malformed input. */
  sendRaw(frame: string | Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame, { binary: Buffer.isBuffer(frame) });
  }

  /** Echoes a mark now (with `marks: 'manual'`, or out of turn). */
  echoMark(name: string): void {
    if (this.send({ event: 'mark', mark: { name } })) this.echoed.push({ name, at: performance.now() });
  }

  /** The next received event not yet read (optionally: the next of `kind`, or matching). Rejects after the timeout, or once the stream closed. */
  next<E extends TwilioCallerEvent = TwilioCallerEvent>(
    match?: TwilioCallerKind | ((e: TwilioCallerEvent) => boolean),
    options: { timeout?: number } = {},
  ): Promise<E> {
    const test = match === undefined ? () => true : typeof match === 'string' ? (e: TwilioCallerEvent) => e.kind === match : match;
    return this.inbox.next<E>(test, options.timeout ?? this.options.timeout ?? 2000, match === undefined ? '' : typeof match === 'string' ? `"${match}"` : 'predicate');
  }

  /** Every received event of `kind`. */
  all<K extends TwilioCallerKind>(kind: K): Array<Extract<TwilioCallerEvent, { kind: K }>> {
    return this.received.filter((e): e is Extract<TwilioCallerEvent, { kind: K }> => e.kind === kind);
  }

  /** All the PCM the server sent (8 kHz PCM16), played or not. */
  audio(): Buffer {
    return Buffer.concat(this.all('media').map((e) => e.pcm));
  }

  /** The PCM the caller has heard so far: what played, cut where a `clear` came. */
  heard(): Buffer {
    return this.playback.heard();
  }

  /** When the audio received so far will have played (`performance.now()` ms). */
  get playingUntil(): number {
    return this.playback.playingUntil;
  }

  private async sendChunks(chunks: Buffer[], pace: 'realtime' | 'burst', epoch: number): Promise<SendAudioResult> {
    let due = performance.now();
    for (let i = 0; i < chunks.length; i++) {
      if (pace === 'realtime' && i > 0) {
        due += 20;
        // a timer may fire a fraction of a millisecond early on performance.now()'s clock: wait again then
        for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) {
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
      }
      if (epoch !== this.cancelled || this.ws.readyState !== WebSocket.OPEN) return { sent: i, unsent: chunks.length - i };
      const timestamp = Math.max(this.nextTimestamp, Math.round(performance.now() - this.startedAt));
      this.nextTimestamp = timestamp + 20;
      const payload = mulawEncode(chunks[i]).toString('base64');
      this.send({ event: 'media', media: { track: 'inbound', chunk: String(++this.chunk), timestamp: String(timestamp), payload } });
    }
    return { sent: chunks.length, unsent: 0 };
  }

  /** Sends a message from Twilio's side: `sequenceNumber` and `streamSid` added (not on `connected`). */
  private send(message: Record<string, unknown>, numbered = true): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const full = numbered ? { event: message.event, sequenceNumber: String(++this.sequence), ...message, streamSid: this.streamSid } : message;
    this.sent.push({ at: performance.now(), message: full });
    this.ws.send(JSON.stringify(full));
    return true;
  }

  private receive(data: Buffer, isBinary: boolean): void {
    const at = performance.now();
    if (isBinary) {
      this.problems.push(`binary frame of ${data.length} bytes (Twilio takes text frames only)`);
      return;
    }
    const parsed = parseTwilioOutbound(data);
    if (!parsed.ok) {
      this.problems.push(parsed.error);
      return;
    }
    const message = parsed.message;
    if (message.streamSid !== this.streamSid) this.problems.push(`${message.event} for stream ${message.streamSid}, not ${this.streamSid}`);
    if (message.event === 'media') {
      const mulaw = mediaPayload(message);
      const pcm = mulawDecode(mulaw);
      this.inbox.push({ kind: 'media', at, streamSid: message.streamSid, mulaw, pcm, playAt: this.playback.play(pcm, at).start });
    } else if (message.event === 'mark') {
      this.inbox.push({ kind: 'mark', at, streamSid: message.streamSid, name: message.mark.name });
      if (this.options.marks === 'immediate') this.echoMark(message.mark.name);
      else if (this.options.marks !== 'manual') {
        this.playback.mark(message.mark.name, at);
        this.armEcho();
      }
    } else {
      this.inbox.push({ kind: 'clear', at, streamSid: message.streamSid });
      for (const name of this.playback.clear(at)) this.echoMark(name);
      this.armEcho();
    }
  }

  /** One timer for the first mark waiting; when it fires, every mark then due is echoed, in order. */
  private armEcho(): void {
    clearTimeout(this.echoTimer);
    const due = this.playback.nextDue;
    if (due === undefined) return;
    this.echoTimer = setTimeout(() => {
      for (const name of this.playback.takeDue()) this.echoMark(name);
      this.armEcho();
    }, Math.max(0, due - performance.now()));
  }
}

function sid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}
