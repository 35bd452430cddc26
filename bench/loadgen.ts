import { createHistogram, performance, RecordableHistogram } from 'node:perf_hooks';
import { serve } from './ipc';
import { encodeFrame, RawClient } from './raw-client';

/*
 * The load generator, a process of its own. Each connection sends a 640-byte
 * binary audio frame every 20 ms and a JSON event every 100 ms (`mixed`), audio
 * only (`audio`), or one JSON event every 20 ms and no audio (`json`); every frame
 * carries its send time (audio: a float64 at byte 8; JSON: a `bench_t` field),
 * so the round trip is measured when the echo comes back. Sending is paced in
 * 5 ms slices (a quarter of the connections each) so that a 20 ms period is
 * not one burst; when the process falls behind, it skips ahead rather than
 * bursting, and the achieved rate is reported. Connections are `RawClient`s
 * (bench/raw-client.ts): the load generator shares the machine with the
 * server under test, so it spends as little CPU per frame as it can.
 */

const FRAME_BYTES = 640;
const SLICES = 4;
const SLICE_MS = 5; // SLICES × SLICE_MS = 20 ms: 50 audio frames/s per connection
const JSON_EVERY = 5; // every 5th audio period: a JSON event every 100 ms
const MAX_BEHIND = 8; // slices (40 ms) the pacer catches up at most
const READY_TIMEOUT_MS = 15_000;

const conns: RawClient[] = [];
/** Each Twilio connection's streamSid (the `start` it sent), for its media and mark echoes. */
const streamSids = new Map<RawClient, string>();
/** 20 ms of μ-law (160 bytes, a quiet tone's codes), base64: the same payload in every media message. */
const MULAW_B64 = Buffer.from(Array.from({ length: 160 }, (_, i) => 0xf0 + (i % 8))).toString('base64');
let errors = 0;
let streams = 0;
let unexpectedCloses = 0;

const payload = Buffer.alloc(FRAME_BYTES);
for (let i = 0; i < FRAME_BYTES; i++) payload[i] = (i * 31 + 7) & 0xff;
payload[0] = 0x01; // not `{`: a binary frame that is not JSON is audio
/** The whole client frame (8 header bytes, then the payload): per send, a copy with the stamps written in. */
const template = encodeFrame(0x2, payload);
const AT = template.length - FRAME_BYTES; // where the payload starts

interface Window {
  start: number;
  end: number;
  cpu: NodeJS.CpuUsage;
  cpuUs: number;
  sent: { audio: number; json: number };
  delivered: { audio: number; json: number };
  rtt: { all: RecordableHistogram; audio: RecordableHistogram; json: RecordableHistogram };
}

const histogram = () => createHistogram({ lowest: 1, highest: 120e6, figures: 3 });
const newWindow = (start: number): Window => ({
  start,
  end: Infinity,
  cpu: process.cpuUsage(),
  cpuUs: 0,
  sent: { audio: 0, json: 0 },
  delivered: { audio: 0, json: 0 },
  rtt: { all: histogram(), audio: histogram(), json: histogram() },
});
let win = newWindow(Infinity);

/**
 * A Twilio stream's message from the server: `media` counts as delivered while the window is
 * open (its payload carries no stamp: no round trip); a `mark` is echoed at once, as Twilio
 * does when playback reaches it (the load generator plays nothing).
 */
function onTwilioMessage(data: Buffer, client: RawClient): void {
  const text = data.toString('latin1');
  if (text.startsWith('{"event":"media"')) {
    const now = performance.now();
    if (now >= win.start && now < win.end) win.delivered.audio++;
    return;
  }
  if (!text.startsWith('{"event":"mark"')) return;
  const at = text.indexOf('"name":"');
  if (at === -1) return;
  const name = text.slice(at + 8, text.indexOf('"', at + 8));
  client.sendText(`{"event":"mark","sequenceNumber":"0","streamSid":"${streamSids.get(client)}","mark":{"name":"${name}"}}`);
}

function onMessage(data: Buffer, isBinary: boolean): void {
  const now = performance.now();
  let sentAt: number;
  if (isBinary) {
    if (data.length !== FRAME_BYTES) return;
    sentAt = data.readDoubleLE(8);
  } else {
    const text = data.toString('latin1');
    const at = text.lastIndexOf('"bench_t":');
    if (at === -1) return; // agent.ready, system.user.joined, the demo's greeting
    sentAt = parseFloat(text.slice(at + 10));
  }
  if (!(sentAt >= win.start && sentAt < win.end)) return;
  const us = Math.max(1, Math.round((now - sentAt) * 1000));
  win.rtt.all.record(us);
  if (isBinary) {
    win.delivered.audio++;
    win.rtt.audio.record(us);
  } else {
    win.delivered.json++;
    win.rtt.json.record(us);
  }
}

/**
 * Opens one connection; resolves with the ms until the server's first frame (agent.ready),
 * or, for a Twilio stream (which the server answers with nothing until there is audio), until
 * it is open and has sent `connected` and `start`.
 */
function openOne(port: number, path: string, twilio: boolean): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    let ready = false;
    let opened: RawClient | undefined;
    // a server that never answers must not hang the run
    const guard = setTimeout(() => {
      opened?.close();
      reject(new Error(`no first frame within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    const onFrame = (data: Buffer, isBinary: boolean, client: RawClient) => {
      if (twilio) return onTwilioMessage(data, client);
      if (!ready) {
        ready = true;
        clearTimeout(guard);
        conns.push(client);
        resolve(performance.now() - t0);
      }
      onMessage(data, isBinary);
    };
    RawClient.open(port, path, onFrame).then((c) => {
      opened = c;
      if (twilio) {
        const sid = `MZ${(++streams).toString(16).padStart(32, '0')}`;
        streamSids.set(c, sid);
        c.sendText('{"event":"connected","protocol":"Call","version":"1.0.0"}');
        c.sendText(
          `{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC${'0'.repeat(32)}","streamSid":"${sid}","callSid":"CA${sid.slice(2)}",` +
            `"tracks":["inbound"],"customParameters":{},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"${sid}"}`,
        );
        ready = true;
        clearTimeout(guard);
        conns.push(c);
        resolve(performance.now() - t0);
      }
      c.socket.on('error', () => (ready ? errors++ : undefined));
      c.socket.on('close', () => {
        if (ready) unexpectedCloses++;
        else reject(new Error('closed before ready'));
      });
    }, reject);
  });
}

export interface ConnectArgs {
  port: number;
  path: string;
  /** Speak Twilio Media Streams (to the app's `/twilio`) instead of the Atoms protocol. */
  twilio?: boolean;
  count: number;
  /** New connections per second at most. */
  rate: number;
  maxInFlight: number;
}

/** Opens `count` more connections, at most `rate`/s and `maxInFlight` at a time. */
async function connect(args: ConnectArgs) {
  const start = performance.now();
  const latency = histogram();
  let launched = 0;
  let settled = 0;
  let failed = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  await new Promise<void>((resolve) => {
    if (args.count === 0) resolve();
    const pump = (): void => {
      while (launched < args.count && inFlight < args.maxInFlight) {
        const due = start + (launched / args.rate) * 1000;
        if (performance.now() < due) {
          setTimeout(pump, Math.max(1, due - performance.now()));
          return;
        }
        launched++;
        inFlight++;
        openOne(args.port, args.path, args.twilio === true)
          .then(
            (ms) => latency.record(Math.max(1, Math.round(ms * 1000))),
            (err: Error) => {
              failed++;
              firstError ??= err.message;
            },
          )
          .finally(() => {
            inFlight--;
            if (++settled === args.count) resolve();
            else pump();
          });
      }
    };
    pump();
  });
  const ms = performance.now() - start;
  return { opened: args.count - failed, failed, firstError, ms, perSec: ((args.count - failed) / ms) * 1000, readyP50Ms: latency.percentile(50) / 1000, readyP99Ms: latency.percentile(99) / 1000, total: conns.length };
}

function sendSlice(slice: number, period: number): void {
  for (let i = slice; i < conns.length; i += SLICES) {
    const client = conns[i];
    if (!client.open) continue;
    const now = performance.now();
    const inWindow = now >= win.start && now < win.end;
    if (mix === 'twilio') {
      const n = period + 2; // connected and start were 0 and 1
      client.sendText(
        `{"event":"media","sequenceNumber":"${n}","media":{"track":"inbound","chunk":"${period + 1}","timestamp":"${period * 20}","payload":"${MULAW_B64}"},"streamSid":"${streamSids.get(client)}"}`,
      );
      if (inWindow) win.sent.audio++;
      continue;
    }
    if (mix !== 'json') {
      const frame = Buffer.allocUnsafe(template.length); // fresh: the socket may still hold the previous one
      template.copy(frame);
      frame.writeUInt32LE(period, AT + 4);
      frame.writeDoubleLE(now, AT + 8);
      client.sendBinary(frame);
      if (inWindow) win.sent.audio++;
    }
    if (mix === 'json' || (mix === 'mixed' && (period + i) % JSON_EVERY === 0)) {
      client.sendText(`{"type":"agent.transcript.update","role":"user","content":"bench ${period}","bench_t":${now}}`);
      if (inWindow) win.sent.json++;
    }
  }
}

/**
 * What each connection sends: audio every 20 ms and JSON every 100 ms, audio only, JSON every
 * 20 ms only, or (a Twilio stream) one `media` message of 20 ms of μ-law every 20 ms.
 */
export type Mix = 'mixed' | 'audio' | 'json' | 'twilio';
let mix: Mix = 'mixed';
let pacer: { timer: NodeJS.Timeout | undefined; startAt: number; done: number; skipped: number } | undefined;

function pace(): void {
  const p = pacer!;
  let todo = Math.floor((performance.now() - p.startAt) / SLICE_MS) + 1 - p.done;
  if (todo > MAX_BEHIND) {
    p.skipped += todo - MAX_BEHIND;
    p.done += todo - MAX_BEHIND;
    todo = MAX_BEHIND;
  }
  for (; todo > 0; todo--, p.done++) sendSlice(p.done % SLICES, Math.floor(p.done / SLICES));
  p.timer = setTimeout(pace, Math.max(0, p.startAt + p.done * SLICE_MS - performance.now()));
}

const q = (h: RecordableHistogram, p: number) => (h.count === 0 ? NaN : h.percentile(p) / 1000);
const summary = (h: RecordableHistogram) => ({ count: h.count, p50Ms: q(h, 50), p99Ms: q(h, 99), p999Ms: q(h, 99.9), maxMs: h.count === 0 ? NaN : h.max / 1000, meanMs: h.mean / 1000 });

serve({
  connect,
  /** Starts the paced sending of `mix`. */
  startSending: (args: { mix: Mix }) => {
    mix = args.mix;
    pacer = { timer: undefined, startAt: performance.now(), done: 0, skipped: 0 };
    pace();
  },
  stopSending: () => {
    clearTimeout(pacer?.timer);
    const skipped = pacer?.skipped ?? 0;
    pacer = undefined;
    return { skippedSlices: skipped };
  },
  /** Opens the measurement window: only frames sent from now on count. */
  mark: () => void (win = newWindow(performance.now())),
  /** Closes the window: frames sent from now on are not counted (their echoes are ignored). */
  endWindow: () => {
    win.end = performance.now();
    win.cpuUs = ((u) => u.user + u.system)(process.cpuUsage(win.cpu));
  },
  /** After the drain: what was sent and what came back, and the round trips. */
  report: () => ({
    windowMs: win.end - win.start,
    sessions: conns.length,
    sent: win.sent,
    delivered: win.delivered,
    rtt: summary(win.rtt.all),
    rttAudio: summary(win.rtt.audio),
    rttJson: summary(win.rtt.json),
    cpuPct: (win.cpuUs / 1000 / (win.end - win.start)) * 100,
    cpuUs: win.cpuUs,
    errors,
    unexpectedCloses,
  }),
  closeAll: () => {
    streamSids.clear();
    for (const client of conns.splice(0)) {
      client.socket.removeAllListeners('close'); // an expected close
      client.close();
    }
  },
});
