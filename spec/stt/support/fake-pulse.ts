import { createServer, IncomingHttpHeaders } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { rms } from '../../support/pcm';

/**
 * A local stand-in for Pulse streaming speech-to-text (smallest-apis.md §2.2 and
 * §4): `GET /waves/v1/stt/live` on 127.0.0.1, a random port.
 *
 * - Refuses before the upgrade: 401 without `Authorization: Bearer <apiKey>`,
 *   400 when `model` is not `pulse`, `encoding` not `linear16` or `sample_rate` unsupported.
 * - Takes binary frames of PCM16; a frame is "speech" when its RMS is over 100
 *   (about -50 dBFS), so tests script what it hears with tones and silence.
 * - Sends a partial (`is_final:false`) per audio frame: as many words of the current
 *   utterance as speech frames so far. Sends a final with the whole utterance (or ''
 *   for a segment without speech) on `{"type":"finalize"}` (`from_finalize:true`), after
 *   `finalAfterSpeechBytes` of speech (endpointing), and on `{"type":"close_stream"}`
 *   — that one with `is_last:true`, after which it closes (1000).
 */
export interface FakePulseOptions {
  apiKey?: string;
  /** What the fake hears, one utterance per final. Default `['hello there', 'how are you']`, repeating. */
  utterances?: string[];
  /** Speech bytes after which it finalizes by itself. Default: never (only when asked). */
  finalAfterSpeechBytes?: number;
  /** Which field carries the text. Default `'both'` (`transcript` and `transcription`). */
  textField?: 'transcript' | 'transcription' | 'both';
  /** Open streams allowed; the next is accepted and then closed with 1008. Default: no limit. */
  maxSessions?: number;
  /** After this many audio frames, send `{type:'error'}` and close (1011). */
  errorAfterFrames?: number;
  /** Wait before answering `close_stream` (ms); `Infinity`: never answer. Default 0. */
  lastDelayMs?: number;
}

/** One accepted stream, as the fake saw it. */
export interface FakePulseConnection {
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** Binary frames received, in order. */
  readonly audio: Buffer[];
  /** Text frames received, in order. */
  readonly controls: string[];
  /** Messages sent to the client, in order. */
  readonly sent: Array<Record<string, unknown>>;
  /** Resolves when the socket closes, with the code the fake saw. */
  readonly closed: Promise<number>;
  /** Sends any message (to script what the real server might say). */
  send(message: Record<string, unknown>): void;
}

export interface FakePulse {
  /** `ws://127.0.0.1:<port>`, to use as `baseURL`. */
  readonly url: string;
  /** Every upgrade request with the status it got (101 accepted). */
  readonly requests: Array<{ path: string; query: URLSearchParams; headers: IncomingHttpHeaders; status: number }>;
  readonly connections: FakePulseConnection[];
  /** Resolves with the `n`th accepted connection (0-based), waiting for it if need be. */
  connection(n?: number): Promise<FakePulseConnection>;
  close(): Promise<void>;
}

const RATES = ['8000', '16000', '22050', '24000', '44100', '48000'];
const STATUS_TEXT: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found' };

export async function startFakePulse(options: FakePulseOptions = {}): Promise<FakePulse> {
  const apiKey = options.apiKey ?? 'sk_test';
  const utterances = options.utterances ?? ['hello there', 'how are you'];
  const server = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ noServer: true });
  const requests: FakePulse['requests'] = [];
  const connections: FakePulseConnection[] = [];
  const waiters: Array<() => void> = [];
  let utteranceIndex = 0;
  let open = 0;

  server.on('upgrade', (req, socket: Socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: number, body: object): void => {
      requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers, status });
      const text = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
    };
    if (url.pathname !== '/waves/v1/stt/live') return refuse(404, { error: 'not found' });
    if (req.headers.authorization !== `Bearer ${apiKey}`) return refuse(401, { message: 'Unauthorized: invalid API key' });
    const q = url.searchParams;
    if (q.get('model') !== 'pulse') return refuse(400, { error: `model must be pulse, got ${q.get('model')}` });
    if (q.get('encoding') !== 'linear16') return refuse(400, { error: 'this fake only takes linear16' });
    if (!RATES.includes(q.get('sample_rate') ?? '')) return refuse(400, { error: 'unsupported sample_rate' });
    requests.push({ path: url.pathname, query: q, headers: req.headers, status: 101 });
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, q, req.headers));
  });

  function accept(ws: WebSocket, query: URLSearchParams, headers: IncomingHttpHeaders): void {
    const sessionId = `sess_${connections.length}`;
    const connection: FakePulseConnection = {
      query,
      headers,
      audio: [],
      controls: [],
      sent: [],
      closed: new Promise((resolve) => ws.on('close', (code) => resolve(code))),
      send(message) {
        connection.sent.push(message);
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
      },
    };
    connections.push(connection);
    for (const wake of waiters.splice(0)) wake();
    open++;
    void connection.closed.then(() => open--);
    if (options.maxSessions !== undefined && open > options.maxSessions) {
      ws.close(1008, 'too many open sessions');
      return;
    }

    let speechBytes = 0;
    let speechFrames = 0;
    const utterance = (): string => utterances[utteranceIndex % utterances.length];
    const transcription = (text: string, fields: Record<string, unknown>): void => {
      const textFields = { transcript: text, transcription: text, both: { transcript: text, transcription: text } };
      const field = options.textField ?? 'both';
      const carried = field === 'both' ? textFields.both : { [field]: text };
      connection.send({ type: 'transcription', status: 'success', session_id: sessionId, ...carried, is_final: false, is_last: false, ...fields });
    };
    const final = (fields: Record<string, unknown>): void => {
      const text = speechFrames > 0 ? utterance() : '';
      if (speechFrames > 0) utteranceIndex++;
      speechBytes = 0;
      speechFrames = 0;
      transcription(text, { is_final: true, language: 'en', ...fields });
    };

    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) {
        const text = data.toString();
        connection.controls.push(text);
        const type = (JSON.parse(text) as { type?: string }).type;
        if (type === 'finalize') final({ from_finalize: true });
        if (type === 'close_stream') {
          const last = () => {
            final({ from_finalize: true, is_last: true });
            ws.close(1000);
          };
          if (options.lastDelayMs === undefined || options.lastDelayMs === 0) last();
          else if (Number.isFinite(options.lastDelayMs)) setTimeout(last, options.lastDelayMs);
        }
        return;
      }
      connection.audio.push(data);
      if (options.errorAfterFrames !== undefined && connection.audio.length >= options.errorAfterFrames) {
        connection.send({ type: 'error', status: 'error', message: 'internal transcription failure' });
        ws.close(1011);
        return;
      }
      if (rms(data) * 32768 > 100) {
        speechBytes += data.length;
        speechFrames++;
      }
      transcription(utterance().split(' ').slice(0, speechFrames).join(' '), {});
      if (options.finalAfterSpeechBytes !== undefined && speechBytes >= options.finalAfterSpeechBytes) final({ from_finalize: false });
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    requests,
    connections,
    connection(n = 0) {
      return new Promise((resolve) => {
        const check = () => (connections[n] ? resolve(connections[n]) : waiters.push(check));
        check();
      });
    },
    async close() {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
