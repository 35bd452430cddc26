import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import type { CrewLogger } from '../session-options';
import type { Fleet } from './fleet';
import type { RedisStore, StoredSession } from './redis-store';
import { verifyResumeToken } from './token';

/** A frame that arrived while the session was being looked up, fed to it once made. */
export interface HeldFrame {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

/** What a connection to an app with a store comes to: the session to resume, or why not, and the frames held meanwhile. */
export interface Admission {
  readonly restored: StoredSession | undefined;
  /** Why the client's `resume_token` was refused (it gets a fresh session); `undefined` without a token or when resumed. */
  readonly refusal: string | undefined;
  readonly frames: readonly HeldFrame[];
}

export interface ResumeHost {
  readonly store: RedisStore;
  readonly secret: string;
  readonly fleet: Fleet;
  readonly logger: CrewLogger;
}

/** How long a connection without `?resume=` waits for a first frame that may be a `system.init` with `resume_token` (ms). */
export const FIRST_FRAME_WAIT_MS = 150;
/** How long the store may take to give a session back before the resume is refused (ms). */
const LOAD_TIMEOUT_MS = 3000;

/**
 * Finds out whether a new connection resumes a session: its token comes from
 * `?resume=` on the URL, else from a first frame that is a `system.init` with
 * `resume_token` (waited for at most `FIRST_FRAME_WAIT_MS`). A signed token's
 * session is loaded from the store, after whoever still holds it has let it go.
 * Frames that arrive meanwhile are held. Resolves with `undefined` when the
 * socket closed in the meantime.
 */
export async function admission(ws: WebSocket, req: IncomingMessage, host: ResumeHost): Promise<Admission | undefined> {
  const frames: HeldFrame[] = [];
  let first: (() => void) | undefined;
  const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
    frames.push({ data: toBuffer(data), isBinary });
    first?.();
  };
  ws.on('message', onMessage);
  try {
    let token = resumeParam(req);
    if (token === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => first!(), FIRST_FRAME_WAIT_MS);
        first = () => {
          clearTimeout(timer);
          ws.off('close', first!);
          first = undefined;
          resolve();
        };
        ws.on('close', first);
      });
      token = frames.length > 0 ? initToken(frames[0]) : undefined;
    }
    if (token === undefined) return open(ws, { restored: undefined, refusal: undefined, frames });
    const id = verifyResumeToken(host.secret, token);
    if (id === undefined) return open(ws, { restored: undefined, refusal: 'the token is not valid', frames });
    let restored: StoredSession | undefined;
    try {
      restored = await host.store.load(id, LOAD_TIMEOUT_MS);
      // a copy still live elsewhere is let go first; what it wrote until then is read again
      if (restored !== undefined && (await host.fleet.release(id, restored.worker))) restored = await host.store.load(id, LOAD_TIMEOUT_MS);
    } catch (err) {
      host.logger.warn({ err, session_id: id }, 'could not load a session to resume');
      return open(ws, { restored: undefined, refusal: 'the session store did not answer', frames });
    }
    if (restored === undefined) return open(ws, { restored: undefined, refusal: 'the session has ended or expired', frames });
    return open(ws, { restored, refusal: undefined, frames });
  } finally {
    ws.off('message', onMessage);
  }
}

function open(ws: WebSocket, admission: Admission): Admission | undefined {
  return ws.readyState === WebSocket.OPEN ? admission : undefined;
}

/** The `resume` query parameter of the upgrade request. */
export function resumeParam(req: IncomingMessage): string | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  const value = new URLSearchParams(url.slice(q + 1)).get('resume');
  return value === null || value === '' ? undefined : value;
}

/** `resume_token` of a first frame that is a `system.init`. */
function initToken(frame: HeldFrame): string | undefined {
  if (frame.data.length > 64 * 1024 || frame.data[0] !== 0x7b /* { */) return undefined;
  try {
    const value = JSON.parse(frame.data.toString('utf8')) as { type?: unknown; resume_token?: unknown };
    return value.type === 'system.init' && typeof value.resume_token === 'string' ? value.resume_token : undefined;
  } catch {
    return undefined;
  }
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
