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

/** Who a transport reports to: shared by every transport of one server. */
export interface TransportOwner {
  /** Queued audio was dropped for a slow reader (once per frame). */
  droppedAudio(): void;
  /** The client cannot keep up (over `hardLimit` waiting): close it. */
  overflow(transport: WsTransport): void;
  /** The socket reported an error (the close follows). */
  socketError(transport: WsTransport, err: Error): void;
  /** The session started (setup is over). */
  started(transport: WsTransport): void;
}

const NO_DROPS: Readonly<TransportStats> = Object.freeze({ droppedAudioFrames: 0, droppedAudioBytes: 0 });
// the socket's listeners are shared by every connection; each finds its transport here
const TRANSPORT = Symbol('rxcrew.transport');
type Socket = WebSocket & { [TRANSPORT]?: WsTransport };

/**
 * Carries one session over one `ws` socket. JSON events leave in the frame
 * kind the session asks for (that of the client's latest JSON message), audio
 * events as binary frames.
 *
 * Backpressure: while the socket has more than `softLimit` bytes unsent, new
 * messages wait in a queue; queued audio beyond `softLimit` is dropped oldest
 * first (audio is useless late), control and text events never are. Past
 * `hardLimit` the client cannot keep up at all: it is closed with 1013 and its
 * queue freed, so a slow reader never grows the server's memory.
 *
 * A server holds one per connection, most of them idle: what is not needed
 * until a client falls behind (the queue, its drain listener, the drop counts)
 * is created then, and the socket's listeners are shared functions.
 */
export class WsTransport implements CrewTransport {
  /** Set by every pong and client message; the heartbeat terminates a peer that stayed silent. */
  alive = true;
  /** Client messages so far; the idle sweep watches it change (cheaper than a clock read per frame). */
  messages = 0;
  /** For the idle sweep: the count it saw last, and since when it has not changed. */
  seenMessages = 0;
  quietSince = Date.now();
  private connection: CrewConnection | undefined;
  private dropped: TransportStats | undefined;
  private queue: Queued[] | undefined;
  private queuedBytes = 0;
  private queuedAudioBytes = 0;
  private overflowed = false;
  /** A close asked for while events were still queued: sent once they are out. */
  private closing: { code: number; reason: string } | undefined;
  /** The close code `ws` sent for a protocol error (it reports 1006 locally). */
  private protocolClose: { code: number; reason: string } | undefined;
  private drained: (() => void) | undefined;

  constructor(
    private readonly socket: WebSocket,
    /** The session this connection carries (for the owner's logs). */
    readonly sessionId: string,
    private readonly limits: SendLimits,
    private readonly owner: TransportOwner,
  ) {
    (socket as Socket)[TRANSPORT] = this;
    socket.on('pong', onPong);
  }

  /** What this connection dropped for a slow reader. */
  get stats(): Readonly<TransportStats> {
    return this.dropped ?? NO_DROPS;
  }

  /** Feeds the socket's messages and close into `connection`. */
  bind(connection: CrewConnection): void {
    this.connection = connection;
    this.socket.on('message', onMessage);
    this.socket.on('close', onClose);
    this.socket.on('error', onError);
  }

  /** @internal The socket closed: report the end (the protocol error's code, if `ws` closed for one). */
  socketClosed(code: number, reason: Buffer): void {
    this.queue = undefined;
    const end = code === 1006 ? this.protocolClose : undefined;
    if (end !== undefined) this.connection!.end(end.code, end.reason);
    else this.connection!.end(code, reason.toString());
  }

  /** @internal */
  socketErrored(err: Error): void {
    const wsCode = (err as { code?: unknown }).code;
    if (typeof wsCode === 'string' && wsCode.startsWith('WS_ERR_')) {
      this.protocolClose ??= { code: PROTOCOL_ERROR_CLOSE_CODES[wsCode] ?? 1002, reason: err.message };
    }
    this.owner.socketError(this, err);
  }

  /** @internal */
  messageReceived(data: Buffer, isBinary: boolean): void {
    this.alive = true;
    this.messages++;
    this.connection!.receive(data, isBinary);
  }

  started(): void {
    this.owner.started(this);
  }

  send(e: CrewEvent, binaryJson: boolean): void {
    if (this.socket.readyState !== WebSocket.OPEN || this.overflowed) return;
    const audio = e.audio;
    const isAudio = audio instanceof Uint8Array && (e.type === 'agent.audio' || e.type === 'user.audio');
    const data = isAudio ? (audio as Buffer) : JSON.stringify(e);
    const binary = isAudio || binaryJson;
    if (this.queue === undefined && this.socket.bufferedAmount < this.limits.softLimit) {
      this.socket.send(data, binary ? BINARY : TEXT);
      return;
    }
    this.enqueue({ data, binary, audio: isAudio });
  }

  close(code: number, reason: string): void {
    if (this.closing !== undefined) return;
    this.closing = { code, reason };
    if (this.queue !== undefined && !this.overflowed) {
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
    (this.queue ??= []).push(item);
    this.queuedBytes += size;
    if (item.audio) {
      this.queuedAudioBytes += size;
      if (this.queuedAudioBytes > this.limits.softLimit) this.dropOldestAudio();
    }
    if (this.socket.bufferedAmount + this.queuedBytes > this.limits.hardLimit) {
      this.overflowed = true;
      this.queue = undefined;
      this.queuedBytes = 0;
      this.queuedAudioBytes = 0;
      this.owner.overflow(this);
    }
    if (!this.overflowed) this.waitForDrain();
  }

  private dropOldestAudio(): void {
    const kept: Queued[] = [];
    const dropped = (this.dropped ??= { droppedAudioFrames: 0, droppedAudioBytes: 0 });
    for (const q of this.queue!) {
      if (q.audio && this.queuedAudioBytes > this.limits.softLimit) {
        const size = byteLength(q.data);
        this.queuedAudioBytes -= size;
        this.queuedBytes -= size;
        dropped.droppedAudioFrames++;
        this.owner.droppedAudio();
        dropped.droppedAudioBytes += size;
      } else {
        kept.push(q);
      }
    }
    this.queue = kept.length > 0 ? kept : undefined;
  }

  /**
   * Flushes the queue once the socket has drained. No per-message send callback
   * (a write callback per frame is measurable on the hot path): the TCP socket's
   * own 'drain' event says when, which fires because a buffer over `softLimit`
   * (≥ its 16 KiB high-water mark) made a write return false. With a smaller
   * limit there may be no 'drain' coming, so it polls instead.
   */
  private waitForDrain(): void {
    if (this.drained !== undefined) return;
    const drained = () => {
      this.drained = undefined;
      if (this.queue !== undefined) this.flush();
    };
    this.drained = drained;
    const raw = (this.socket as unknown as { _socket?: { writableNeedDrain?: boolean; once(e: 'drain', f: () => void): void } })._socket;
    if (raw?.writableNeedDrain) raw.once('drain', drained);
    else setTimeout(drained, 5).unref();
  }

  private flush(): void {
    const queue = this.queue!;
    let sent = 0;
    while (sent < queue.length && this.socket.bufferedAmount < this.limits.softLimit) {
      const q = queue[sent++];
      const size = byteLength(q.data);
      this.queuedBytes -= size;
      if (q.audio) this.queuedAudioBytes -= size;
      this.socket.send(q.data, q.binary ? BINARY : TEXT);
    }
    this.queue = sent === queue.length ? undefined : queue.slice(sent);
    if (this.queue !== undefined) this.waitForDrain();
    else if (this.closing !== undefined) this.sendClose();
  }
}

// The socket's listeners: `ws` calls them with the socket as `this`.
function onMessage(this: Socket, data: Buffer, isBinary: boolean): void {
  this[TRANSPORT]!.messageReceived(data, isBinary);
}

function onPong(this: Socket): void {
  this[TRANSPORT]!.alive = true;
}

function onClose(this: Socket, code: number, reason: Buffer): void {
  this[TRANSPORT]!.socketClosed(code, reason);
}

function onError(this: Socket, err: Error): void {
  this[TRANSPORT]!.socketErrored(err);
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
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let end = Math.min(text.length, maxBytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > maxBytes) end--;
  return text.slice(0, end);
}
