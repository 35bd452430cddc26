import { BadEventError, CrewError, ErrorCodes } from '../errors';
import type { CrewEvent } from '../events';
import type { CrewConnection } from '../transport';
import { decodeFrame, Inbound, isAudioFrame, validateClientEvent } from './inbound';
import { valueDepthExceeds } from './json-depth';

/** Limits on what one client may send. Documented in docs/api.md and docs/security.md. */
export interface ClientLimits {
  /** Largest frame, in bytes; a bigger one is reported and closes the connection (1009). */
  maxFrameBytes: number;
  /** Deepest nesting of objects and arrays in a JSON event. */
  maxJsonDepth: number;
  /** JSON events per second (a second's worth may come at once). */
  maxEventsPerSecond: number;
  /** Audio frames per second, counted apart from events. */
  maxAudioFramesPerSecond: number;
}

export const DEFAULT_CLIENT_LIMITS: Readonly<ClientLimits> = Object.freeze({
  maxFrameBytes: 1024 * 1024,
  maxJsonDepth: 32,
  maxEventsPerSecond: 100,
  maxAudioFramesPerSecond: 200,
});

/** What the port hands on to the session. */
export interface ClientPortSink {
  clientEvent(e: CrewEvent): void;
  clientAudio(audio: Buffer): void;
  /** A refused message: tell the client, go on. */
  refuse(error: CrewError): void;
  /** The client broke a limit it cannot go on breaking: end the connection. */
  violate(error: CrewError, closeCode: number): void;
  frameReceived?(kind: 'json' | 'audio', isBinary: boolean): void;
  /** The transport reports the connection's end. */
  transportEnded?(code: number, reason: string): void;
}

/**
 * The gate between a client and its session — the `CrewConnection` a
 * transport feeds: decodes frames, refuses JSON that nests too deep, and
 * rate-limits events and audio separately (a token bucket each: a second's
 * worth may come at once). Over the limit, messages are dropped with one
 * warning per second; a client that keeps sending more than twice the limit
 * for a second is closed with 1008. Audio frames take a short path: no JSON,
 * no allocation.
 */
export class ClientPort implements CrewConnection {
  /** Set when the session ends: later frames are ignored. */
  closed = false;
  private eventTokens: number;
  private eventsAt: number;
  private audioTokens: number;
  private audioAt: number;
  private windowStart: number;
  private droppedEvents = 0;
  private droppedAudio = 0;
  private warnedAt = -Infinity;
  private violated = false;

  constructor(
    private readonly limits: ClientLimits,
    private readonly sink: ClientPortSink,
    private readonly now: () => number,
  ) {
    const t = now();
    this.eventTokens = limits.maxEventsPerSecond;
    this.audioTokens = limits.maxAudioFramesPerSecond;
    this.eventsAt = this.audioAt = this.windowStart = t;
  }

  receive(data: string | Buffer, isBinary = typeof data !== 'string'): void {
    if (this.violated || this.closed) return;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (size > this.limits.maxFrameBytes) {
      this.violated = true;
      const limit = this.limits.maxFrameBytes;
      this.sink.violate(new CrewError(ErrorCodes.FRAME_TOO_BIG, `a frame of ${size} bytes is over the limit of ${limit} bytes; closing`), 1009);
      return;
    }
    if (isBinary && typeof data !== 'string' && isAudioFrame(data)) {
      // the hot path: 50 frames a second per caller
      this.sink.frameReceived?.('audio', true);
      if (this.take(true)) this.sink.clientAudio(data);
      else this.overLimit(true);
      return;
    }
    const inbound = decodeFrame(data, isBinary, this.limits.maxJsonDepth);
    this.sink.frameReceived?.(inbound.kind === 'audio' ? 'audio' : 'json', isBinary);
    this.handle(inbound);
  }

  receiveValue(value: unknown): void {
    if (this.violated || this.closed) return;
    this.sink.frameReceived?.('json', false);
    if (valueDepthExceeds(value, this.limits.maxJsonDepth)) this.handle(this.tooDeep());
    else this.handle(validateClientEvent(value));
  }

  end(code: number, reason: string): void {
    this.closed = true;
    this.sink.transportEnded?.(code, reason);
  }

  private tooDeep(): Inbound {
    return {
      kind: 'bad',
      error: new BadEventError(`an event may nest objects and arrays at most ${this.limits.maxJsonDepth} deep`),
    };
  }

  private handle(inbound: Inbound): void {
    const isAudio = inbound.kind === 'audio';
    if (!this.take(isAudio)) {
      this.overLimit(isAudio);
      return;
    }
    switch (inbound.kind) {
      case 'event':
        return this.sink.clientEvent(inbound.event);
      case 'audio':
        return this.sink.clientAudio(inbound.audio);
      case 'bad':
        return this.sink.refuse(inbound.error);
      case 'drop':
        return;
    }
  }

  /**
   * Whether a frame may pass its bucket (`audio` or events), refilled for the
   * time elapsed. Two buckets in four numbers on the port, not two objects.
   */
  private take(audio: boolean): boolean {
    const rate = audio ? this.limits.maxAudioFramesPerSecond : this.limits.maxEventsPerSecond;
    const t = this.now();
    const at = audio ? this.audioAt : this.eventsAt;
    let tokens = audio ? this.audioTokens : this.eventTokens;
    if (t > at) tokens = Math.min(rate, tokens + ((t - at) * rate) / 1000);
    const pass = tokens >= 1;
    if (pass) tokens -= 1;
    if (audio) {
      this.audioTokens = tokens;
      this.audioAt = Math.max(at, t);
    } else {
      this.eventTokens = tokens;
      this.eventsAt = Math.max(at, t);
    }
    return pass;
  }

  private overLimit(isAudio: boolean): void {
    const t = this.now();
    if (t - this.windowStart >= 1000) {
      this.windowStart = t;
      this.droppedEvents = 0;
      this.droppedAudio = 0;
    }
    const dropped = isAudio ? ++this.droppedAudio : ++this.droppedEvents;
    const limit = isAudio ? this.limits.maxAudioFramesPerSecond : this.limits.maxEventsPerSecond;
    const what = isAudio ? 'audio frames' : 'events';
    if (dropped > limit) {
      // more than twice the limit within a second: a flood, not a burst
      this.violated = true;
      this.sink.violate(
        new CrewError(ErrorCodes.RATE_LIMITED, `more than twice the limit of ${limit} ${what} per second; closing`),
        1008,
      );
      return;
    }
    if (t - this.warnedAt >= 1000) {
      this.warnedAt = t;
      this.sink.refuse(new CrewError(ErrorCodes.RATE_LIMITED, `over the limit of ${limit} ${what} per second; dropping them`));
    }
  }
}
