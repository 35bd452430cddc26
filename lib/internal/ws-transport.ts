import WebSocket from 'ws';
import type { CrewEvent } from '../events';
import type { CrewConnection, CrewTransport } from '../transport';

/** Bounds on what may wait to be sent to one client. */
export interface SendLimits {
  /** Above this many bytes waiting, new messages queue and queued audio is dropped oldest-first. */
  softLimit: number;
  /** Above this many bytes waiting (socket buffer and queue), the client is closed with 1013. */
  hardLimit: number;
}

/** What one connection dropped or refused, for logs. */
export interface TransportStats {
  droppedAudioFrames: number;
  droppedAudioBytes: number;
}

interface Queued {
  data: Buffer | string;
  binary: boolean;
  audio: boolean;
}

/**
 * Carries one session over one `ws` socket. JSON replies use the frame kind of
 * the client's most recent JSON message (text until it sends one in binary);
 * audio events leave as binary frames.
 *
 * Backpressure: while the socket has more than `softLimit` bytes unsent, new
 * messages wait in a queue; queued audio beyond `softLimit` is dropped oldest
 * first (audio is useless late), control and text events never are. Past
 * `hardLimit` the client cannot keep up at all: it is closed with 1013 and its
 * queue freed, so a slow reader never grows the server's memory.
 */
export class WsTransport implements CrewTransport {
  readonly stats: TransportStats = { droppedAudioFrames: 0, droppedAudioBytes: 0 };
  /** Set by every pong and client message; the heartbeat terminates a peer that stayed silent. */
  alive = true;
  /** Client messages so far; the idle sweep watches it change (cheaper than a clock read per frame). */
  messages = 0;
  /** For the idle sweep: the count it saw last, and since when it has not changed. */
  seenMessages = 0;
  quietSince = Date.now();
  private binaryJson = false;
  private queue: Queued[] = [];
  private queuedBytes = 0;
  private queuedAudioBytes = 0;
  private overflowed = false;
  /** A close asked for while events were still queued: sent once they are out. */
  private closing: { code: number; reason: string } | undefined;
  private waitingForDrain = false;
  private readonly drained = () => {
    this.waitingForDrain = false;
    if (this.queue.length > 0) this.flush();
  };

  constructor(
    private readonly socket: WebSocket,
    private readonly limits: SendLimits,
    private readonly onOverflow: () => void,
  ) {
    socket.on('pong', () => (this.alive = true));
  }

  /** Feeds the socket's messages and close into `connection`. */
  bind(connection: CrewConnection, onError: (err: Error) => void): void {
    this.socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.alive = true;
      this.messages++;
      connection.receive(data, isBinary);
    });
    // When `ws` closes a connection for a protocol error (frame too big, bad
    // UTF-8) it sends a close code but reports 1006 locally: report what was sent.
    let protocolClose: { code: number; reason: string } | undefined;
    this.socket.on('close', (code: number, reason: Buffer) => {
      this.queue = [];
      if (code === 1006 && protocolClose !== undefined) connection.end(protocolClose.code, protocolClose.reason);
      else connection.end(code, reason.toString());
    });
    this.socket.on('error', (err: Error) => {
      const wsCode = (err as { code?: unknown }).code;
      if (typeof wsCode === 'string' && wsCode.startsWith('WS_ERR_')) {
        protocolClose ??= { code: PROTOCOL_ERROR_CLOSE_CODES[wsCode] ?? 1002, reason: err.message };
      }
      onError(err);
    });
  }

  frameReceived(kind: 'json' | 'audio', isBinary: boolean): void {
    // replies to a frame are sent while the session handles it: set the kind first
    if (kind === 'json') this.binaryJson = isBinary;
  }

  send(e: CrewEvent): void {
    if (this.socket.readyState !== WebSocket.OPEN || this.overflowed) return;
    const audio = e.audio;
    const isAudio = audio instanceof Uint8Array && (e.type === 'agent.audio' || e.type === 'user.audio');
    const data = isAudio ? (audio as Buffer) : JSON.stringify(e);
    const binary = isAudio || this.binaryJson;
    if (this.queue.length === 0 && this.socket.bufferedAmount < this.limits.softLimit) {
      this.socket.send(data, binary ? BINARY : TEXT);
      return;
    }
    this.enqueue({ data, binary, audio: isAudio });
  }

  close(code: number, reason: string): void {
    if (this.closing !== undefined) return;
    this.closing = { code, reason };
    if (this.queue.length > 0 && !this.overflowed) {
      // a close frame sent now would overtake the queued events; it follows them
      // instead, or goes out anyway if the client does not read them in time
      setTimeout(() => this.sendClose(), FLUSH_BEFORE_CLOSE_MS).unref();
      return;
    }
    this.sendClose();
  }

  private sendClose(): void {
    const { code, reason } = this.closing!;
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, truncateUtf8(reason, 123));
    }
  }

  /** Drops the connection without a closing handshake. */
  terminate(): void {
    this.socket.terminate();
  }

  /** Sends a ping; the heartbeat calls this after clearing `alive`. */
  ping(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  /** Bytes waiting: in the socket's buffer and in the queue. */
  get pendingBytes(): number {
    return this.socket.bufferedAmount + this.queuedBytes;
  }

  private enqueue(item: Queued): void {
    const size = byteLength(item.data);
    this.queue.push(item);
    this.queuedBytes += size;
    if (item.audio) {
      this.queuedAudioBytes += size;
      if (this.queuedAudioBytes > this.limits.softLimit) this.dropOldestAudio();
    }
    if (this.socket.bufferedAmount + this.queuedBytes > this.limits.hardLimit) {
      this.overflowed = true;
      this.queue = [];
      this.queuedBytes = 0;
      this.queuedAudioBytes = 0;
      this.onOverflow();
    }
    if (!this.overflowed) this.waitForDrain();
  }

  private dropOldestAudio(): void {
    const kept: Queued[] = [];
    for (const q of this.queue) {
      if (q.audio && this.queuedAudioBytes > this.limits.softLimit) {
        const size = byteLength(q.data);
        this.queuedAudioBytes -= size;
        this.queuedBytes -= size;
        this.stats.droppedAudioFrames++;
        this.stats.droppedAudioBytes += size;
      } else {
        kept.push(q);
      }
    }
    this.queue = kept;
  }

  /**
   * Flushes the queue once the socket has drained. No per-message send callback
   * (a write callback per frame is measurable on the hot path): the TCP socket's
   * own 'drain' event says when, which fires because a buffer over `softLimit`
   * (≥ its 16 KiB high-water mark) made a write return false. With a smaller
   * limit there may be no 'drain' coming, so it polls instead.
   */
  private waitForDrain(): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    const raw = (this.socket as unknown as { _socket?: { writableNeedDrain?: boolean; once(e: 'drain', f: () => void): void } })._socket;
    if (raw?.writableNeedDrain) raw.once('drain', this.drained);
    else setTimeout(this.drained, 5).unref();
  }

  private flush(): void {
    let sent = 0;
    while (sent < this.queue.length && this.socket.bufferedAmount < this.limits.softLimit) {
      const q = this.queue[sent++];
      const size = byteLength(q.data);
      this.queuedBytes -= size;
      if (q.audio) this.queuedAudioBytes -= size;
      this.socket.send(q.data, q.binary ? BINARY : TEXT);
    }
    if (sent > 0) this.queue = this.queue.slice(sent);
    if (this.queue.length > 0) this.waitForDrain();
    if (this.queue.length === 0 && this.closing !== undefined) this.sendClose();
  }
}

/** How long a close waits for queued events to reach a slow client before it is sent anyway (ms). */
const FLUSH_BEFORE_CLOSE_MS = 5000;

// the send options, allocated once (ws reads them, never keeps them)
const BINARY = Object.freeze({ binary: true });
const TEXT = Object.freeze({ binary: false });

function byteLength(data: Buffer | string): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}

/** The close code `ws` sends for each of its (documented) protocol error codes; any other is 1002. */
const PROTOCOL_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_TOO_MANY_BUFFERED_PARTS: 1008,
};

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8 (close reasons are capped at 123). */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let end = Math.min(text.length, maxBytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > maxBytes) end--;
  return text.slice(0, end);
}
