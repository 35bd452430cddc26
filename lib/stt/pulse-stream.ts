import { Observable, Subject } from 'rxjs';
import WebSocket from 'ws';
import { CloseCodes } from '../transport';
import type { SttStream, SttTranscript } from './engine';
import { httpSttError, SttError, SttErrorCodes } from './errors';
import type { PulseSettings } from './pulse-engine';

const FINALIZE = JSON.stringify({ type: 'finalize' });
const CLOSE_STREAM = JSON.stringify({ type: 'close_stream' });
const MAX_ERROR_BODY = 4096;

/**
 * One Pulse WebSocket (see `PulseEngine`). Connects at once; what is written
 * before the socket opens waits in order (audio bounded by `maxBufferedBytes`).
 */
export class PulseStream implements SttStream {
  readonly transcripts: Observable<SttTranscript>;
  private readonly subject = new Subject<SttTranscript>();
  private readonly socket: WebSocket | undefined;
  private pending: Array<Uint8Array | string> = [];
  private pendingBytes = 0;
  private closing = false;
  private finished = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  /** A stream that failed before connecting: `transcripts` errors with `error` (after subscribers can attach). */
  static failed(error: SttError): PulseStream {
    return new PulseStream(undefined, undefined, undefined, error);
  }

  constructor(url: string | undefined, private readonly settings: PulseSettings | undefined, signal?: AbortSignal, failure?: SttError) {
    this.transcripts = this.subject.asObservable();
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    if (url === undefined || settings === undefined || signal?.aborted) {
      this.closing = true;
      // asynchronously, like a refusal from the server, so that the caller can subscribe first
      queueMicrotask(() => (failure ? this.fail(failure) : this.finish()));
      this.resolveClosed();
      return;
    }
    const socket = new WebSocket(url, {
      headers: { authorization: `Bearer ${settings.apiKey}` },
      handshakeTimeout: settings.connectTimeoutMs,
      perMessageDeflate: false,
      maxPayload: 1 << 20,
    });
    this.socket = socket;
    socket.binaryType = 'nodebuffer';
    socket.on('open', () => this.flush());
    socket.on('message', (data, isBinary) => {
      if (!isBinary) this.message(String(data));
    });
    socket.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < MAX_ERROR_BODY) body += chunk;
      });
      res.on('end', () => {
        this.fail(httpSttError(res.statusCode ?? 0, body));
        socket.terminate();
      });
      res.on('error', () => socket.terminate());
    });
    socket.on('error', (err) => {
      this.fail(new SttError(SttErrorCodes.NETWORK, `speech-to-text connection failed: ${err.message}`, { retryable: true, cause: err }));
    });
    socket.on('close', (code, reason) => this.closed(code, reason.toString()));
    signal?.addEventListener('abort', () => this.abort(), { once: true });
  }

  write(pcm: Uint8Array): void {
    if (this.closing || pcm.length === 0) return;
    const socket = this.socket!;
    if (socket.readyState === WebSocket.OPEN) {
      // a stalled network: drop rather than let the send buffer grow without bound
      if (socket.bufferedAmount + pcm.length <= this.settings!.maxBufferedBytes) socket.send(pcm, { binary: true });
      return;
    }
    if (this.pendingBytes + pcm.length > this.settings!.maxBufferedBytes) return;
    this.pending.push(pcm);
    this.pendingBytes += pcm.length;
  }

  finalize(): void {
    if (!this.closing) this.control(FINALIZE);
  }

  close(): Promise<void> {
    if (this.closing) return this.closedPromise;
    this.closing = true;
    this.control(CLOSE_STREAM);
    this.closeTimer = setTimeout(() => {
      // no is_last in time: end our side anyway
      this.finish();
      this.socket?.terminate();
    }, this.settings!.closeTimeoutMs);
    this.closeTimer.unref();
    return this.closedPromise;
  }

  private control(message: string): void {
    const socket = this.socket!;
    if (socket.readyState === WebSocket.OPEN) socket.send(message);
    else if (socket.readyState === WebSocket.CONNECTING) this.pending.push(message);
  }

  private flush(): void {
    const socket = this.socket!;
    for (const item of this.pending) socket.send(item, { binary: typeof item !== 'string' });
    this.pending = [];
    this.pendingBytes = 0;
  }

  private message(frame: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(frame) as Record<string, unknown>;
    } catch {
      return; // not ours to understand; Pulse sends JSON only
    }
    if (message === null || typeof message !== 'object' || this.finished) return;
    if (message.type === 'error' || message.status === 'error') {
      const said = typeof message.message === 'string' ? message.message : JSON.stringify(message.error ?? message);
      this.fail(new SttError(SttErrorCodes.SERVER, `speech-to-text error: ${said}`, { retryable: true }));
      this.socket!.close(CloseCodes.NORMAL);
      return;
    }
    if (message.type !== 'transcription') return; // speech_started / speech_ended and future types
    const text = message.transcript ?? message.transcription;
    const transcript: SttTranscript = { text: typeof text === 'string' ? text : '', isFinal: message.is_final === true };
    if (message.is_last === true) transcript.isLast = true;
    if (message.from_finalize === true) transcript.fromFinalize = true;
    if (typeof message.language === 'string') transcript.language = message.language;
    this.subject.next(transcript);
    if (transcript.isLast) {
      this.finish();
      this.socket!.close(CloseCodes.NORMAL);
    }
  }

  private closed(code: number, reason: string): void {
    clearTimeout(this.closeTimer);
    this.pending = [];
    this.pendingBytes = 0;
    if (code === CloseCodes.POLICY_VIOLATION) {
      const why = reason ? `: ${reason}` : '';
      this.fail(new SttError(SttErrorCodes.LIMIT, `speech-to-text closed the stream with 1008 (too many open sessions)${why}`, { closeCode: code, retryable: true }));
    } else if (this.closing) {
      this.finish();
    } else {
      const why = reason ? `, ${reason}` : '';
      this.fail(new SttError(SttErrorCodes.NETWORK, `speech-to-text closed the stream unexpectedly (${code}${why})`, { closeCode: code, retryable: true }));
    }
    this.closing = true;
    this.resolveClosed();
  }

  private abort(): void {
    this.closing = true;
    this.finish();
    this.socket?.terminate();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.subject.complete();
  }

  private fail(error: SttError): void {
    if (this.finished) return;
    this.finished = true;
    this.closing = true;
    this.subject.error(error);
  }
}
