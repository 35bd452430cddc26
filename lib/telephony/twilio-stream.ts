import type WebSocket from 'ws';
import { mulawDecode } from '../audio/mulaw';
import type { SetupHandler } from '../app-options';
import { runSetup } from '../internal/run-setup';
import { CrewSession } from '../session';
import type { CrewLogger, SessionLimits } from '../session-options';
import type { CrewConnection } from '../transport';
import { isTwilioMediaFormat, mediaPayload, parseTwilioMessage, TwilioInbound, TwilioStart } from './twilio-messages';
import { TWILIO_SAMPLE_RATE, TwilioTransport, TwilioTransportOptions } from './twilio-transport';

/** What the Twilio transport refused or ignored, for all calls of an app (`app.twilioStats`). */
export interface TwilioStats {
  /** Streams that sent `start` (each got a session). */
  calls: number;
  /** Text frames that are not a Twilio message (not JSON, no `event`, a field wrong). */
  malformed: number;
  /** Well-formed messages with an `event` Twilio does not send. */
  unknownEvents: number;
  /** Binary frames (Twilio sends text only). */
  binaryFrames: number;
  /** Messages out of place: before `start`, a second `start`, audio of another track. */
  ignored: number;
}

/** What every stream of an app shares. */
export interface TwilioStreamHost {
  readonly setup: SetupHandler;
  readonly logger: CrewLogger;
  readonly limits: Readonly<SessionLimits>;
  readonly transport: TwilioTransportOptions;
  /** How long a stream may wait before its `start` (ms; 0: forever). */
  readonly startTimeout: number;
  readonly stats: TwilioStats;
  /** Whether another session may start (capacity, closing). */
  admit(): boolean;
  /** A session began on a stream: keep it until it completes. */
  opened(session: CrewSession, transport: TwilioTransport): void;
}

/** How far ahead of a caller's playback the Twilio transport sends audio (ms). */
const TWILIO_LEAD_MS = 100;
/** How long `agent.end_call` waits for the marks of the audio sent before the stream closes anyway (ms). */
const TWILIO_END_CALL_TIMEOUT_MS = 5000;

/** What every stream of an app shares: the app's options, fresh counters, and the app's admission and bookkeeping. */
export function twilioStreamHost(
  options: { setup: SetupHandler; logger: CrewLogger; limits: Readonly<SessionLimits>; setupTimeout: number },
  app: Pick<TwilioStreamHost, 'admit' | 'opened'>,
): TwilioStreamHost {
  const { setup, logger, limits, setupTimeout } = options;
  return {
    setup,
    logger,
    limits,
    startTimeout: setupTimeout,
    transport: { leadMs: TWILIO_LEAD_MS, endCallTimeoutMs: TWILIO_END_CALL_TIMEOUT_MS, logger },
    stats: { calls: 0, malformed: 0, unknownEvents: 0, binaryFrames: 0, ignored: 0 },
    admit: () => app.admit(),
    opened: (session, transport) => app.opened(session, transport),
  };
}

/** Problems logged per stream; past this they are only counted. */
const LOGGED_PER_STREAM = 5;

/**
 * One Twilio Media Stream socket, from Twilio's side: `connected` is
 * ignored; `start` makes the call's session (its `customParameters` and the
 * sids as `initial_variables`, the audio format 8 kHz both ways, through a
 * `system.init` as a web client would send it) and runs the app's setup;
 * `media` becomes `user.audio` (PCM16 8 kHz), `dtmf` `system.user.dtmf`,
 * `mark` a playback confirmation; `stop` or the socket closing ends the
 * session. Anything else is logged and counted, and the call goes on.
 */
export class TwilioStream {
  /** For the app's heartbeat: set by every message and pong, cleared before each ping. */
  alive = true;
  private connection: CrewConnection | undefined;
  private transport: TwilioTransport | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private logged = 0;
  /** What this stream's records carry once it has started: its session and stream. */
  private logFields: { session_id?: string; stream_sid?: string } = {};

  constructor(
    private readonly ws: WebSocket,
    private readonly host: TwilioStreamHost,
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.alive = true;
      this.message(data, isBinary);
    });
    ws.on('pong', () => void (this.alive = true));
    ws.on('close', (code: number, reason: Buffer) => this.closed(code, reason.toString()));
    ws.on('error', (err: Error) => this.log(`socket error: ${err.message}`, err));
    if (host.startTimeout > 0) {
      this.startTimer = setTimeout(() => {
        this.problem('no start message in time; closing');
        ws.close(1008, 'no start');
      }, host.startTimeout);
      this.startTimer.unref();
    }
  }

  /** The heartbeat's ping (Twilio answers pings as any WebSocket peer must). */
  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  /** Drops a peer that stopped answering: the socket's close ends the call. */
  terminate(): void {
    this.ws.terminate();
  }

  private message(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.host.stats.binaryFrames++;
      return this.problem('binary frame ignored (Twilio sends text)');
    }
    const parsed = parseTwilioMessage(data);
    if (!parsed.ok) {
      if (parsed.reason === 'unknown-event') this.host.stats.unknownEvents++;
      else this.host.stats.malformed++;
      return this.problem(`message ignored: ${parsed.error}`);
    }
    this.handle(parsed.message);
  }

  private handle(m: TwilioInbound): void {
    const connection = this.connection;
    switch (m.event) {
      case 'connected':
        return;
      case 'start':
        return connection === undefined ? this.start(m) : this.ignore('a second start');
      case 'media':
        if (connection === undefined) return this.ignore('media before start');
        if (m.media.track !== undefined && m.media.track !== 'inbound') return this.ignore(`media of track ${m.media.track}`);
        return connection.receive(mulawDecode(mediaPayload(m)), true);
      case 'mark':
        if (this.transport === undefined) return this.ignore('mark before start');
        return this.transport.confirm(m.mark.name);
      case 'dtmf':
        if (connection === undefined) return this.ignore('dtmf before start');
        return connection.receiveValue({ type: 'system.user.dtmf', digit: m.dtmf.digit });
      case 'stop':
        if (connection !== undefined) connection.end(1000, 'call ended (stop)');
        this.ws.close(1000, 'stop');
        return;
    }
  }

  private start(m: TwilioStart): void {
    clearTimeout(this.startTimer);
    const { streamSid, callSid, accountSid, customParameters, mediaFormat } = m.start;
    if (!isTwilioMediaFormat(mediaFormat)) {
      this.problem(`unsupported media format ${JSON.stringify(mediaFormat)}; closing`);
      this.ws.close(1003, 'audio/x-mulaw 8000 Hz mono only');
      return;
    }
    if (!this.host.admit()) {
      this.problem('server full or closing; refusing the call');
      this.ws.close(1013, 'try again later');
      return;
    }
    this.host.stats.calls++;
    const { logger, limits } = this.host;
    const session = new CrewSession({ logger, limits });
    const transport = new TwilioTransport(this.ws, streamSid, session, this.host.transport);
    this.transport = transport;
    this.logFields = { session_id: session.id, stream_sid: streamSid };
    this.connection = session.attach(transport);
    this.host.opened(session, transport);
    // as a web client's system.init would: the call's variables and the phone's audio format
    this.connection.receiveValue({
      type: 'system.init',
      version: '1.0',
      session_context: {
        conversation_type: 'phone', initial_variables: { ...customParameters, call_sid: callSid, stream_sid: streamSid, account_sid: accountSid },
      },
      audio: { input_sample_rate: TWILIO_SAMPLE_RATE, output_sample_rate: TWILIO_SAMPLE_RATE },
    });
    runSetup(this.host.setup, session);
  }

  private closed(code: number, reason: string): void {
    clearTimeout(this.startTimer);
    this.transport?.stop();
    this.connection?.end(code, reason);
  }

  private ignore(what: string): void {
    this.host.stats.ignored++;
    this.problem(`${what} ignored`);
  }

  private problem(text: string): void {
    if (this.logged++ < LOGGED_PER_STREAM) this.log(text);
  }

  private log(msg: string, err?: Error): void {
    this.host.logger.warn(err === undefined ? this.logFields : { ...this.logFields, err }, `twilio stream: ${msg}`);
  }
}
