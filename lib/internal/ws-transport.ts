import WebSocket from 'ws';
import type { CrewEvent } from '../events';
import type { CrewConnection, CrewTransport } from '../transport';

/**
 * Carries one session over one `ws` socket. JSON replies use the frame kind of
 * the client's most recent JSON message (text until it sends one in binary);
 * audio events leave as binary frames.
 */
export class WsTransport implements CrewTransport {
  private binaryJson = false;

  constructor(private readonly socket: WebSocket) {}

  /** Feeds the socket's messages and close into `connection`. */
  bind(connection: CrewConnection, onError: (err: Error) => void): void {
    // Replies to a frame are sent while the session handles it, so the frame
    // kind must be known before the frame is handed over, not after.
    this.socket.on('message', (data: Buffer, isBinary: boolean) => connection.receive(data, isBinary));
    // When `ws` closes a connection for a protocol error (frame too big, bad
    // UTF-8) it sends a close code but reports 1006 locally: report what was sent.
    let protocolClose: { code: number; reason: string } | undefined;
    this.socket.on('close', (code: number, reason: Buffer) => {
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
    if (this.socket.readyState !== WebSocket.OPEN) return;
    const audio = e.audio;
    if (audio instanceof Uint8Array && (e.type === 'agent.audio' || e.type === 'user.audio')) {
      this.socket.send(audio, { binary: true });
      return;
    }
    this.socket.send(JSON.stringify(e), { binary: this.binaryJson });
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, truncateUtf8(reason, 123));
    }
  }

  /** Drops the connection without a closing handshake. */
  terminate(): void {
    this.socket.terminate();
  }
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
