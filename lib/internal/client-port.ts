import { BadEventError, CrewError, ErrorCodes } from '../errors';
import type { CrewEvent } from '../events';
import { decodeFrame, Inbound, validateClientEvent } from './inbound';
import { valueDepthExceeds } from './json-depth';
import { TokenBucket } from './token-bucket';

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
  event(e: CrewEvent): void;
  audio(audio: Buffer): void;
  /** A refused message: tell the client, go on. */
  refuse(error: CrewError): void;
  /** The client broke a limit it cannot go on breaking: end the connection. */
  violate(error: CrewError, closeCode: number): void;
  frameReceived?(kind: 'json' | 'audio', isBinary: boolean): void;
}

/**
 * The gate between a client and its session: decodes frames, refuses JSON that
 * nests too deep, and rate-limits events and audio separately. Over the limit,
 * messages are dropped with one warning per second; a client that keeps sending
 * more than twice the limit for a second is closed with 1008.
 */
export class ClientPort {
  private readonly events: TokenBucket;
  private readonly audio: TokenBucket;
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
    this.events = new TokenBucket(limits.maxEventsPerSecond, now);
    this.audio = new TokenBucket(limits.maxAudioFramesPerSecond, now);
    this.windowStart = now();
  }

  receive(data: string | Buffer, isBinary: boolean): void {
    if (this.violated) return;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (size > this.limits.maxFrameBytes) {
      this.violated = true;
      const limit = this.limits.maxFrameBytes;
      this.sink.violate(new CrewError(ErrorCodes.FRAME_TOO_BIG, `a frame of ${size} bytes is over the limit of ${limit} bytes; closing`), 1009);
      return;
    }
    const inbound = decodeFrame(data, isBinary, this.limits.maxJsonDepth);
    this.sink.frameReceived?.(inbound.kind === 'audio' ? 'audio' : 'json', isBinary);
    this.handle(inbound);
  }

  receiveValue(value: unknown): void {
    if (this.violated) return;
    this.sink.frameReceived?.('json', false);
    if (valueDepthExceeds(value, this.limits.maxJsonDepth)) this.handle(this.tooDeep());
    else this.handle(validateClientEvent(value));
  }

  private tooDeep(): Inbound {
    return {
      kind: 'bad',
      error: new BadEventError(`an event may nest objects and arrays at most ${this.limits.maxJsonDepth} deep`),
    };
  }

  private handle(inbound: Inbound): void {
    const isAudio = inbound.kind === 'audio';
    if (!(isAudio ? this.audio : this.events).take()) {
      this.overLimit(isAudio);
      return;
    }
    switch (inbound.kind) {
      case 'event':
        return this.sink.event(inbound.event);
      case 'audio':
        return this.sink.audio(inbound.audio);
      case 'bad':
        return this.sink.refuse(inbound.error);
      case 'drop':
        return;
    }
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
