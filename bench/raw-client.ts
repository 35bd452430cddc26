import { randomBytes } from 'node:crypto';
import { connect, Socket } from 'node:net';

/*
 * A minimal WebSocket client for the load generator: the RFC 6455 handshake,
 * then whole frames written with one `socket.write` each (masked with a zero
 * key, which is valid and spares the XOR; servers unmask regardless) and a
 * frame parser that hands over payloads without copying. It costs the load
 * generator about half of what the `ws` client does, so that on a shared
 * 2-core box the server under test gets the CPU. Not a general client: no
 * fragmentation, no extensions.
 */

const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export type FrameHandler = (payload: Buffer, isBinary: boolean, client: RawClient) => void;

/** A client frame: FIN + opcode, the mask bit with the length, a zero mask key, the payload as is. */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const header = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const frame = Buffer.allocUnsafe(header + len);
  frame[0] = 0x80 | opcode;
  if (len < 126) frame[1] = 0x80 | len;
  else if (len < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(len, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(len), 2);
  }
  frame.writeUInt32BE(0, header - 4); // the mask key
  payload.copy(frame, header);
  return frame;
}

export class RawClient {
  private pending: Buffer | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly onFrame: FrameHandler,
  ) {}

  /** Connects and upgrades; resolves once the server has answered 101. */
  static open(port: number, path: string, onFrame: FrameHandler): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true });
      let head = Buffer.alloc(0);
      const fail = (err: Error) => {
        socket.destroy();
        reject(err);
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        const key = randomBytes(16).toString('base64');
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      const onHead = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        socket.off('data', onHead);
        socket.off('error', fail);
        const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
        if (!status.startsWith('HTTP/1.1 101')) return fail(new Error(`upgrade refused: ${status}`));
        const client = new RawClient(socket, onFrame);
        socket.on('data', (data: Buffer) => client.receive(data));
        resolve(client);
        if (head.length > end + 4) client.receive(head.subarray(end + 4));
      };
      socket.on('data', onHead);
    });
  }

  sendBinary(frame: Buffer): void {
    this.socket.write(frame);
  }

  sendText(text: string): void {
    this.socket.write(encodeFrame(OP_TEXT, Buffer.from(text)));
  }

  get open(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    const buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    while (buf.length - at >= 2) {
      const opcode = buf[at] & 0x0f;
      let len = buf[at + 1] & 0x7f;
      let header = 2;
      if (len === 126) {
        if (buf.length - at < 4) break;
        len = buf.readUInt16BE(at + 2);
        header = 4;
      } else if (len === 127) {
        if (buf.length - at < 10) break;
        len = Number(buf.readBigUInt64BE(at + 2));
        header = 10;
      }
      if (buf.length - at < header + len) break;
      const payload = buf.subarray(at + header, at + header + len);
      at += header + len;
      if (opcode === OP_TEXT || opcode === OP_BINARY) this.onFrame(payload, opcode === OP_BINARY, this);
      else if (opcode === OP_PING) this.socket.write(encodeFrame(OP_PONG, payload));
      else if (opcode === OP_CLOSE) this.socket.end();
    }
    this.pending = at < buf.length ? buf.subarray(at) : undefined;
  }
}
