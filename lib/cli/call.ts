import { TwilioCaller, type TwilioCallerEvent } from '../testing/twilio-caller';
import { ExitCodes } from './chat';
import { describeError } from './connection';

/*
 * `rxcrew call --twilio URL`: one phone call played as Twilio plays it, with
 * the scripted `TwilioCaller` (rxcrew/testing). The caller speaks (silence for
 * `delay`, the WAV, the DTMF keys), then listens until the agent has been quiet
 * for `quiet` seconds and hangs up. Every wait is bounded: connecting, the
 * whole call (`hangupAfter`) and the close handshake. Never throws: `done`
 * resolves with the exit code and the audio heard.
 */

export interface CallOptions {
  /** The server's Twilio Media Streams WebSocket (`ws://…/twilio`). */
  url: string;
  customParameters?: Record<string, string>;
  /** A 16-bit PCM mono WAV file's bytes (checked by the caller of `call`), spoken after the start. */
  wav?: Uint8Array;
  /** How the WAV is named in the output. Default `the WAV`. */
  wavName?: string;
  /** Seconds of silence sent before the WAV. Default 0. */
  delay?: number;
  /** Keys pressed after the audio. Default none. */
  dtmf?: string;
  /** Once the caller is done, hang up after the agent has been quiet this many seconds. Default 3. */
  quiet?: number;
  /** Hang up this many seconds after the stream started, whatever is happening. Default 300. */
  hangupAfter?: number;
  output: NodeJS.WritableStream;
  errors: NodeJS.WritableStream;
  /** How long connecting may take (ms). Default 10000. */
  connectTimeout?: number;
  /** How long the server has to answer the close after `stop` before the socket is dropped (ms). Default 2000. */
  closeTimeout?: number;
  /** Media arriving within this long after the audio before it has played belongs to the same burst (ms). Default 250. */
  burstGap?: number;
}

export interface CallResult {
  code: number;
  /** What the caller heard (8 kHz PCM16 mono), cut where `clear`s came. */
  heard: Buffer;
}

export interface CallHandle {
  /** Resolves once the stream has closed. Never rejects. */
  readonly done: Promise<CallResult>;
  /** Ctrl-C: the caller hangs up (`stop`, close 1000); a second time drops the socket. */
  hangUp(): void;
}

/** One burst of agent audio: media arriving back to back. */
interface Burst {
  chunks: number;
  bytes: number;
  /** When its first media arrived: echoes from then on count for it. */
  since: number;
}

const BYTES_PER_SECOND = 16_000; // 8 kHz PCM16
const NEVER = 1_000_000_000; // ms: how long `next()` may wait; the stream closing ends it

/** Starts the call. */
export function call(options: CallOptions): CallHandle {
  const quietMs = (options.quiet ?? 3) * 1000;
  const closeTimeout = options.closeTimeout ?? 2000;
  const burstGap = options.burstGap ?? 250;
  const print = (line: string) => void options.output.write(`${line}\n`);
  const abort = new AbortController();
  const timers = new Set<NodeJS.Timeout>();
  const later = (fn: () => void, ms: number): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    timers.add(timer);
    return timer;
  };
  const cancel = (timer: NodeJS.Timeout | undefined) => {
    if (timer === undefined) return;
    clearTimeout(timer);
    timers.delete(timer);
  };

  let caller: TwilioCaller | undefined;
  let hungUp = false; // by us: Ctrl-C, the quiet period, --hangup-after
  let connectProblem: string | undefined;
  let resolveDone!: (result: CallResult) => void;
  const done = new Promise<CallResult>((resolve) => (resolveDone = resolve));

  const hangUp = (why: string) => {
    if (hungUp) {
      caller?.terminate(); // asked twice: do not wait for the server
      return;
    }
    hungUp = true;
    print(`hanging up (${why})`);
    if (caller === undefined) return abort.abort();
    void caller.stop();
    const current = caller;
    later(() => current.terminate(), closeTimeout);
  };

  const connectTimer = later(() => {
    connectProblem = `no answer within ${(options.connectTimeout ?? 10_000) / 1000} s`;
    abort.abort();
  }, options.connectTimeout ?? 10_000);

  TwilioCaller.connect(options.url, { customParameters: options.customParameters, signal: abort.signal, timeout: NEVER }).then(
    (connected) => {
      cancel(connectTimer);
      caller = connected;
      run(connected);
    },
    (err: unknown) => {
      timers.forEach(clearTimeout);
      if (hungUp && connectProblem === undefined) return resolveDone({ code: ExitCodes.OK, heard: Buffer.alloc(0) });
      options.errors.write(`rxcrew: cannot connect to ${options.url}: ${connectProblem ?? describeError(err)}\n`);
      resolveDone({ code: ExitCodes.CONNECTION, heard: Buffer.alloc(0) });
    },
  );

  function run(c: TwilioCaller): void {
    print(`stream started: streamSid ${c.streamSid}, callSid ${c.callSid}`);
    if (hungUp) {
      // Ctrl-C while connecting: the stream opened anyway
      hungUp = false;
      hangUp('Ctrl-C');
    }
    const hangupAfter = options.hangupAfter ?? 300;
    later(() => hangUp(`${hangupAfter} s since the start`), hangupAfter * 1000);

    let burst: Burst | undefined;
    let burstTimer: NodeJS.Timeout | undefined;
    let quietTimer: NodeJS.Timeout | undefined;
    let playingUntil = -Infinity; // when the agent audio received so far will have played
    let callerDoneAt: number | undefined;
    let clears = 0;

    const endBurst = (note = '') => {
      cancel(burstTimer);
      if (!burst) return;
      const seconds = (burst.bytes / BYTES_PER_SECOND).toFixed(2);
      const echoed = c.echoed.filter((e) => e.at >= burst!.since).length;
      print(`agent audio: ${seconds} s in ${burst.chunks} chunks${note}; ${echoed} mark${echoed === 1 ? '' : 's'} echoed`);
      burst = undefined;
    };
    const armQuiet = () => {
      cancel(quietTimer);
      if (callerDoneAt === undefined || hungUp) return;
      const due = Math.max(playingUntil, callerDoneAt) + quietMs;
      quietTimer = later(() => {
        if (performance.now() >= Math.max(playingUntil, callerDoneAt!) + quietMs) {
          endBurst();
          hangUp(`the agent was quiet for ${quietMs / 1000} s`);
        } else armQuiet();
      }, due - performance.now());
    };
    const onEvent = (e: TwilioCallerEvent) => {
      if (e.kind === 'media') {
        burst ??= { chunks: 0, bytes: 0, since: e.at };
        burst.chunks++;
        burst.bytes += e.pcm.length;
        playingUntil = Math.max(playingUntil, e.playAt + (e.pcm.length / BYTES_PER_SECOND) * 1000);
        cancel(burstTimer);
        // the marks of the burst are echoed by the time it has played: report just after
        burstTimer = later(() => endBurst(), playingUntil + burstGap - performance.now());
        armQuiet();
      } else if (e.kind === 'clear') {
        clears++;
        const dropped = Math.max(0, playingUntil - e.at) / 1000;
        playingUntil = Math.min(playingUntil, e.at);
        endBurst(', cut by a clear');
        print(`clear received: ${dropped.toFixed(2)} s of agent audio not yet played dropped`);
        armQuiet();
      }
    };

    void (async () => {
      for (;;) {
        let e: TwilioCallerEvent;
        try {
          e = await c.next(undefined, { timeout: NEVER });
        } catch {
          return; // the stream closed
        }
        onEvent(e);
      }
    })();

    void (async () => {
      if ((options.delay ?? 0) > 0) await c.sendSilence((options.delay ?? 0) * 1000);
      if (options.wav !== undefined && !hungUp) {
        print(`speaking ${options.wavName ?? 'the WAV'}`);
        const { sent, unsent } = await c.sendWav(options.wav);
        if (unsent === 0) print(`spoke ${(sent * 0.02).toFixed(2)} s in ${sent} chunks`);
        else print(`spoke ${(sent * 0.02).toFixed(2)} s in ${sent} chunks; ${unsent} not sent (the call ended)`);
      }
      if (options.dtmf && !hungUp) {
        for (const digit of options.dtmf) c.dtmf(digit);
        print(`pressed ${options.dtmf}`);
      }
      callerDoneAt = performance.now();
      armQuiet();
    })().catch((err: unknown) => {
      options.errors.write(`rxcrew: cannot send the audio: ${describeError(err)}\n`);
      hangUp('the audio could not be sent');
    });

    void c.closed.then(({ code, reason }) => {
      timers.forEach(clearTimeout);
      timers.clear();
      endBurst();
      const how = `${code}${reason ? ` ${reason}` : ''}`;
      const tally = `${c.echoed.length} marks echoed, ${clears} clear${clears === 1 ? '' : 's'}`;
      for (const problem of c.problems.slice(0, 5)) options.errors.write(`rxcrew: Twilio would refuse this: ${problem}\n`);
      if (hungUp) {
        print(`closed: ${how} (${tally})`);
        return resolveDone({ code: ExitCodes.OK, heard: c.heard() });
      }
      print(`closed by the server: ${how} (${tally})`);
      if (code !== 1000) options.errors.write(`rxcrew: the server closed the stream (${how})\n`);
      resolveDone({ code: code === 1000 ? ExitCodes.OK : ExitCodes.CONNECTION, heard: c.heard() });
    });
  }

  return { done, hangUp: () => hangUp('Ctrl-C') };
}
