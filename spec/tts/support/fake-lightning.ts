import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { wavHeader } from '../../support/pcm';

/**
 * A local stand-in for Smallest AI's Lightning TTS streaming route,
 * `POST /waves/v1/tts/live` (shared/smallest-apis.md §1.4 and §4): Bearer auth
 * (401 JSON otherwise), zod-style 400 bodies for an unknown voice or a bad
 * `output_format`/`sample_rate`, then `event: audio` frames each carrying ~1 KB
 * of base64 PCM16 and the flat `{"status":"200","done":true}` terminator.
 * The audio is a 440 Hz tone, `msPerChar` per character of text.
 */
export interface FakeLightningOptions {
  apiKey?: string;
  voices?: string[];
  /** Decoded audio bytes per frame. Default 1024. */
  chunkBytes?: number;
  /** Pause before each frame (ms). Default 0. */
  chunkDelayMs?: number;
  msPerChar?: number;
  /** Answer every request with this instead. */
  fail?: { status: number; body: unknown; headers?: Record<string, string> };
  /** Pause between the terminator and the end of the response (ms), as over a slow link. Default 0. */
  endDelayMs?: number;
  /** Stream oddities: end with no terminator, or send an error frame after the first chunk. */
  stream?: 'truncated' | 'error-frame' | 'stall';
}

export interface FakeLightningRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
  /** Set when the client closed the connection before the response ended. */
  closedEarly: boolean;
  /** Resolves when the response is over, either way. */
  closed: Promise<void>;
}

const FORMATS = ['pcm', 'mp3', 'wav', 'ulaw', 'alaw'];
const RATES = [8000, 16000, 24000, 44100];

export class FakeLightning {
  readonly requests: FakeLightningRequest[] = [];
  connections = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly options: Required<Omit<FakeLightningOptions, 'fail' | 'stream'>> & FakeLightningOptions;

  constructor(options: FakeLightningOptions = {}) {
    this.options = { apiKey: 'sk_test', voices: ['magnus', 'meher'], chunkBytes: 1024, chunkDelayMs: 0, msPerChar: 40, endDelayMs: 0, ...options };
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on 127.0.0.1 at a free port; returns the base URL. */
  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The PCM the fake streams for `text` at `rate`. */
  pcmFor(text: string, rate: number): Buffer {
    const samples = Math.round((rate * text.length * this.options.msPerChar) / 1000);
    const pcm = Buffer.alloc(samples * 2);
    for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(10000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
    return pcm;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const piece of req) raw += String(piece);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      // validated below
    }
    let resolveClosed!: () => void;
    const record: FakeLightningRequest = { path: req.url ?? '', headers: req.headers, body, closedEarly: false, closed: new Promise((r) => (resolveClosed = r)) };
    this.requests.push(record);
    res.on('close', () => {
      record.closedEarly = !res.writableFinished;
      resolveClosed();
    });

    if (req.method !== 'POST' || req.url !== '/waves/v1/tts/live') return json(res, 404, { error: 'Not Found', message: `no route ${req.method} ${req.url}` });
    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) return json(res, 401, { error: 'Unauthorized', message: 'Invalid or missing API key' });
    if (this.options.fail) return json(res, this.options.fail.status, this.options.fail.body, this.options.fail.headers);
    const issues = validate(body);
    if (issues.length === 0 && !this.options.voices.includes(body.voice_id as string)) {
      issues.push({ code: 'custom', path: ['voice_id'], message: 'Invalid Voice ID' });
    }
    if (issues.length > 0) return json(res, 400, { error: issues });

    const rate = (body.sample_rate as number | undefined) ?? 44100;
    const format = (body.output_format as string | undefined) ?? 'pcm';
    if (format !== 'pcm' && format !== 'wav') return json(res, 501, { error: 'NotImplemented', message: `the fake speaks pcm and wav, not ${format}` });
    let audio = this.pcmFor(String(body.text), rate);
    if (format === 'wav') audio = Buffer.concat([wavHeader(audio.length, rate), audio]);

    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Request-Id': randomUUID(), 'X-Session-Id': randomUUID() });
    for (let offset = 0; offset < audio.length; offset += this.options.chunkBytes) {
      if (this.options.chunkDelayMs > 0) await sleep(this.options.chunkDelayMs);
      if (res.destroyed) return;
      const chunk = audio.subarray(offset, offset + this.options.chunkBytes).toString('base64');
      res.write(`event: audio\ndata: ${JSON.stringify({ audio: chunk, done: false, status: '206' })}\n\n`);
      if (this.options.stream === 'error-frame') {
        res.end(`data: ${JSON.stringify({ status: 'error', message: 'synthesis failed', done: false })}\n\n`);
        return;
      }
    }
    if (this.options.stream === 'stall') return; // never ends
    if (this.options.stream === 'truncated') return void res.end();
    res.write(`data: ${JSON.stringify({ status: '200', done: true })}\n\n`);
    if (this.options.endDelayMs > 0) await sleep(this.options.endDelayMs);
    res.end();
  }
}

/** What zod would report for the §1.2 body (the fields the fake cares about). */
function validate(body: Record<string, unknown>): object[] {
  const issues: object[] = [];
  if (typeof body.text !== 'string') issues.push({ code: 'invalid_type', expected: 'string', received: typeof body.text, path: ['text'], message: 'Required' });
  if (typeof body.voice_id !== 'string') issues.push({ code: 'invalid_type', expected: 'string', received: typeof body.voice_id, path: ['voice_id'], message: 'Required' });
  if (body.output_format !== undefined && !FORMATS.includes(body.output_format as string)) {
    issues.push({
      code: 'invalid_enum_value',
      path: ['output_format'],
      message: `Invalid enum value. Expected ${FORMATS.map((f) => `'${f}'`).join(' | ')}, received '${String(body.output_format)}'`,
      options: FORMATS,
      received: body.output_format,
    });
  }
  if (body.sample_rate !== undefined && !RATES.includes(body.sample_rate as number)) {
    issues.push({ code: 'invalid_union', path: ['sample_rate'], message: `Invalid input: expected one of ${RATES.join(', ')}` });
  }
  return issues;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'X-Request-Id': randomUUID(), ...headers });
  res.end(JSON.stringify(body));
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
