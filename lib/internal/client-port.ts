import { AudioFormat, DEFAULT_AUDIO_FORMAT } from '../audio/format';
import type { SessionContext } from '../context';
import { BadEventError, closeCodeOf, CrewError, crewError, ErrorCodes } from '../errors';
import type { CrewEvent } from '../events';
import type { SessionLimits } from '../session-options';
import type { CrewConnection } from '../transport';
import { decodeFrame, Inbound, isAudioFrame, validateClientEvent } from './inbound';
import { valueDepthExceeds } from './json-depth';
import type { SessionObserver } from './observer';

/** The runtime a port hands the client's events to (the session's `SessionRuntime`). */
export interface PortOwner {
  /** Where `system.init`'s `initial_variables` go. */
  readonly context: SessionContext;
  /** A client event for the graph, once the session runs (`fromClient`: false for an `inject` held before start). */
  deliver(e: CrewEvent, fromClient: boolean): void;
  /** A refused message: tell the client, go on. */
  refuse(error: CrewError): void;
  /** The client broke a limit it cannot go on breaking: report it and close with `closeCode`. */
  violate(error: CrewError, closeCode: number): void;
  /** The transport reports the connection's end. */
  transportEnded(code: number, reason: string): void;
  /** Who counts the frames (metrics). */
  readonly observer: SessionObserver;
}

/**
 * The gate between a client and its session — the `CrewConnection` a
 * transport feeds. It decodes frames, refuses JSON that nests too deep, and
 * rate-limits events and audio apart (a token bucket each: a second's worth
 * may come at once; over it messages are dropped with one warning a second,
 * and a client that keeps sending twice the limit for a second is closed with
 * 1008). It holds what arrives before `start()`, applies `system.init` (the
 * context's variables, the audio format), and remembers the frame kind of the
 * client's latest JSON message, which replies use. Audio frames take a short
 * path: no JSON, no allocation beyond the event.
 */
export class ClientPort implements CrewConnection {
  /** Whether the client's latest JSON message came in a binary frame (JSON replies then do too). */
  replyBinary = false;
  private closed = false;
  private transportEnded = false;
  private violated = false;
  /** Until `open()`: events held for the start, and whether each came from the client. */
  private held: CrewEvent[] | undefined;
  private heldFromClient: boolean[] | undefined;
  private opened = false;
  private heldFromClientCount = 0;
  private format: Readonly<AudioFormat> = DEFAULT_AUDIO_FORMAT;
  private initEvent: CrewEvent | undefined;
  private initWaiters: Array<(init: CrewEvent | undefined) => void> | undefined;
  // two token buckets in plain numbers (a server holds one port per connection)
  private eventTokens: number;
  private eventsAt: number;
  private audioTokens: number;
  private audioAt: number;
  private windowStart: number;
  private droppedEvents = 0;
  private droppedAudio = 0;
  private warnedAt = -Infinity;

  constructor(
    private readonly limits: Readonly<SessionLimits>,
    private readonly owner: PortOwner,
    private readonly now: () => number,
  ) {
    const t = now();
    this.eventTokens = limits.maxEventsPerSecond;
    this.audioTokens = limits.maxAudioFramesPerSecond;
    this.eventsAt = this.audioAt = this.windowStart = t;
  }

  /** The client's audio formats (from its `system.init`, else 16 kHz each way). */
  get audioFormat(): Readonly<AudioFormat> {
    return this.format;
  }

  /** The client's `system.init`, once received. */
  get init(): CrewEvent | undefined {
    return this.initEvent;
  }

  receive(data: string | Buffer, isBinary = typeof data !== 'string'): void {
    if (this.violated || this.closed) return;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (size > this.limits.maxFrameBytes) {
      this.owner.observer.frame('refused');
      const error = crewError(ErrorCodes.FRAME_TOO_BIG, { size, limit: this.limits.maxFrameBytes });
      return this.violate(error, closeCodeOf(ErrorCodes.FRAME_TOO_BIG));
    }
    if (isBinary && typeof data !== 'string' && isAudioFrame(data)) {
      // the hot path: 50 frames a second per caller
      if (this.take(true)) {
        this.owner.observer.frame('audio');
        this.audio(data);
      } else this.overLimit(true);
      return;
    }
    const inbound = decodeFrame(data, isBinary, this.limits.maxJsonDepth);
    // replies to this frame may be sent while it is handled: set their kind first
    if (inbound.kind !== 'audio') this.replyBinary = isBinary;
    this.handle(inbound);
  }

  receiveValue(value: unknown): void {
    if (this.violated || this.closed) return;
    this.replyBinary = false;
    if (valueDepthExceeds(value, this.limits.maxJsonDepth)) this.handle(this.tooDeep());
    else this.handle(validateClientEvent(value));
  }

  end(code: number, reason: string): void {
    if (this.transportEnded) return;
    this.transportEnded = true;
    this.close();
    this.owner.transportEnded(code, reason);
  }

  /** Holds an event injected before the session started (behind the client's, in arrival order). */
  hold(e: CrewEvent): void {
    if (this.closed) return;
    if (this.opened) this.owner.deliver(e, false);
    else this.keep(e, false);
  }

  /** The session started: delivers what was held, in order; later events go straight through. */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    const held = this.held;
    const fromClient = this.heldFromClient;
    this.held = this.heldFromClient = undefined;
    if (held !== undefined) for (let i = 0; i < held.length; i++) this.owner.deliver(held[i], fromClient![i]);
  }

  /**
   * Resolves with the client's `system.init` when it arrives (at once if it has
   * or the session is ending), or with `undefined` after `timeout` ms.
   */
  waitForInit(timeout: number): Promise<CrewEvent | undefined> {
    if (this.initEvent !== undefined || this.closed) return Promise.resolve(this.initEvent);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(undefined), timeout);
      timer.unref();
      const settle = (init: CrewEvent | undefined) => {
        clearTimeout(timer);
        this.initWaiters = this.initWaiters?.filter((w) => w !== settle);
        resolve(init);
      };
      (this.initWaiters ??= []).push(settle);
    });
  }

  /** The session is ending: later frames are ignored, what was held is dropped, waiters get `undefined`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = this.heldFromClient = undefined;
    this.settleWaiters(undefined);
  }

  private audio(data: Buffer): void {
    this.event({ type: 'user.audio', audio: data, sample_rate: this.format.inputSampleRate });
  }

  private event(e: CrewEvent): void {
    if (e.type === 'system.init') this.applyInit(e);
    if (this.opened) return this.owner.deliver(e, true);
    if (this.heldFromClientCount >= this.limits.maxPrestartEvents) {
      this.owner.observer.dropped('prestart_overflow');
      const error = crewError(ErrorCodes.BUFFER_FULL, { limit: this.limits.maxPrestartEvents });
      return this.violate(error, closeCodeOf(ErrorCodes.BUFFER_FULL));
    }
    this.heldFromClientCount++;
    this.keep(e, true);
  }

  private keep(e: CrewEvent, fromClient: boolean): void {
    (this.held ??= []).push(e);
    (this.heldFromClient ??= []).push(fromClient);
  }

  private applyInit(init: CrewEvent): void {
    this.initEvent = init;
    const sessionContext = init.session_context as { initial_variables?: Record<string, unknown> } | undefined;
    const variables = sessionContext?.initial_variables;
    if (variables) for (const [key, value] of Object.entries(variables)) this.owner.context.set(key, value);
    const audio = init.audio as { input_sample_rate?: number; output_sample_rate?: number } | undefined;
    if (audio !== undefined) {
      this.format = Object.freeze({
        inputSampleRate: audio.input_sample_rate ?? this.format.inputSampleRate,
        outputSampleRate: audio.output_sample_rate ?? this.format.outputSampleRate,
      });
    }
    this.settleWaiters(init);
  }

  private settleWaiters(init: CrewEvent | undefined): void {
    if (this.initWaiters !== undefined) for (const settle of [...this.initWaiters]) settle(init);
  }

  private violate(error: CrewError, closeCode: number): void {
    this.violated = true;
    this.owner.violate(error, closeCode);
  }

  private tooDeep(): Inbound {
    return { kind: 'bad', error: new BadEventError(`an event may nest objects and arrays at most ${this.limits.maxJsonDepth} deep`) };
  }

  private handle(inbound: Inbound): void {
    const isAudio = inbound.kind === 'audio';
    if (!this.take(isAudio)) return this.overLimit(isAudio);
    const observer = this.owner.observer;
    switch (inbound.kind) {
      case 'event':
        observer.frame('json');
        return this.event(inbound.event);
      case 'audio':
        observer.frame('audio');
        return this.audio(inbound.audio);
      case 'bad':
        observer.frame('refused');
        return this.owner.refuse(inbound.error);
      case 'drop':
        observer.frame('refused');
        return;
    }
  }

  /** Whether a frame may pass its bucket (`audio` or events), refilled for the time elapsed. */
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
    this.owner.observer.frame('refused');
    this.owner.observer.dropped('rate_limited');
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
      return this.violate(crewError(ErrorCodes.RATE_LIMITED, { limit, what, closing: true }), closeCodeOf(ErrorCodes.RATE_LIMITED));
    }
    if (t - this.warnedAt >= 1000) {
      this.warnedAt = t;
      this.owner.refuse(crewError(ErrorCodes.RATE_LIMITED, { limit, what, closing: false }));
    }
  }
}
