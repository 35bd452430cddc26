import { ChildProcess, fork } from 'node:child_process';
import { extname, join } from 'node:path';
import { createHistogram, performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import type { SoakSample } from './soak-server';

/*
 * `npm run soak [-- --sessions 200 --minutes 5 --sample 10]`: N sessions, each
 * sending 50 audio frames/s (640 bytes, 20 ms of 16 kHz PCM16) and a JSON event
 * every 100 ms through a pass-through graph, for M minutes. The server runs in
 * a child process (bench/soak-server.ts, --expose-gc) and is sampled every S
 * seconds: RSS, heap, heap after a full GC, event-loop delay, CPU. This process
 * is the load generator. Prints the samples, the heap trend (slope of heap after
 * GC per minute, warm-up excluded), delivered/sent, round trips, and a verdict;
 * exits 1 when the verdict fails. Not part of CI.
 */

interface Options {
  sessions: number;
  minutes: number;
  sampleSeconds: number;
}

const FRAME_BYTES = 640;
const SLICES = 4;
const SLICE_MS = 5; // SLICES × SLICE_MS = 20 ms: 50 audio frames/s per session
const JSON_EVERY = 5; // every 5th audio period: a JSON event every 100 ms
const MAX_BEHIND = 8; // slices the pacer catches up at most; beyond, it skips
/** The verdict's limits. */
const MAX_SLOPE_MB_PER_MIN = 1;
const MIN_DELIVERED = 0.999;

function parseArgs(argv: string[]): Options {
  const options: Options = { sessions: 200, minutes: 5, sampleSeconds: 10 };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    const take = (name: string, min: number) => {
      if (!Number.isFinite(value) || value < min) throw new Error(`${argv[i]} needs a number ≥ ${min}, got ${argv[i + 1]}`);
      i++;
      return value;
    };
    if (argv[i] === '--sessions') options.sessions = Math.round(take('sessions', 1));
    else if (argv[i] === '--minutes') options.minutes = take('minutes', 0.05);
    else if (argv[i] === '--sample') options.sampleSeconds = take('sample', 1);
    else throw new Error(`unknown option ${argv[i]} (use --sessions N, --minutes M, --sample S)`);
  }
  return options;
}

// ---- the server -------------------------------------------------------------

class Server {
  private waiting: Array<(m: unknown) => void> = [];

  constructor(readonly proc: ChildProcess) {
    proc.on('message', (m) => this.waiting.shift()?.(m));
    proc.on('exit', (code) => {
      if (code !== 0) console.error(`soak server exited with ${code}`);
    });
  }

  static async start(): Promise<{ server: Server; port: number }> {
    const script = join(__dirname, `soak-server${extname(__filename)}`);
    const proc = fork(script, [], { execArgv: [...process.execArgv, '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const server = new Server(proc);
    const { port } = (await server.reply()) as { port: number };
    return { server, port };
  }

  call<T>(cmd: 'sample' | 'idle'): Promise<T> {
    const reply = this.reply();
    this.proc.send({ cmd });
    return reply as Promise<T>;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.proc.once('exit', () => resolve());
      this.proc.send({ cmd: 'close' });
    });
  }

  private reply(): Promise<unknown> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}

// ---- the load -------------------------------------------------------------

const counts = { audioSent: 0, audioBack: 0, jsonSent: 0, jsonBack: 0, skipped: 0, errors: 0, unexpectedCloses: 0, otherFrames: 0 };
const rtt = { audio: createHistogram(), json: createHistogram() };
let stopping = false;

const payload = Buffer.alloc(FRAME_BYTES);
for (let i = 0; i < FRAME_BYTES; i++) payload[i] = (i * 31 + 7) & 0xff;
payload[0] = 0x01; // not `{`: a binary frame that is not JSON is audio

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const now = performance.now();
      if (isBinary && data.length === FRAME_BYTES) {
        counts.audioBack++;
        record(rtt.audio, now - data.readDoubleLE(8));
        return;
      }
      const text = data.toString('utf8');
      if (text.includes('"agent.ready"')) return resolve(ws);
      const e = JSON.parse(text) as { type: string; soak_t?: number };
      if (e.type === 'agent.transcript.update' && typeof e.soak_t === 'number') {
        counts.jsonBack++;
        record(rtt.json, now - e.soak_t);
      } else if (e.type !== 'system.user.joined') {
        // (the pass-through node passes the runtime's system.user.joined on too)
        counts.otherFrames++;
        if (counts.otherFrames <= 3) console.error(`unexpected frame: ${text.slice(0, 200)}`);
      }
    });
    ws.on('error', (err) => {
      counts.errors++;
      reject(err);
    });
    ws.on('close', (code) => {
      if (!stopping) {
        counts.unexpectedCloses++;
        console.error(`a connection closed during the soak: ${code}`);
      }
    });
  });
}

function record(histogram: ReturnType<typeof createHistogram>, ms: number): void {
  histogram.record(Math.max(1, Math.round(ms * 1000))); // µs
}

function sendAudio(ws: WebSocket): void {
  const frame = Buffer.allocUnsafe(FRAME_BYTES);
  payload.copy(frame);
  frame.writeDoubleLE(performance.now(), 8);
  ws.send(frame, { binary: true });
  counts.audioSent++;
}

function sendJson(ws: WebSocket): void {
  ws.send(JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: 'soak', soak_t: performance.now() }));
  counts.jsonSent++;
}

/** Sends in 5 ms slices (a quarter of the sessions each), so a 20 ms period is not one burst. */
function startPacer(conns: WebSocket[]): () => void {
  const t0 = performance.now();
  let tick = 0;
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - t0) / SLICE_MS);
    if (due - tick > MAX_BEHIND) {
      // fell behind: skip ahead rather than burst, and say so
      counts.skipped += Math.ceil(((due - tick - MAX_BEHIND) * conns.length) / SLICES);
      tick = due - MAX_BEHIND;
    }
    for (; tick < due; tick++) {
      const period = Math.floor(tick / SLICES);
      for (let i = tick % SLICES; i < conns.length; i += SLICES) {
        const ws = conns[i];
        if (ws.readyState !== WebSocket.OPEN) continue;
        sendAudio(ws);
        if (period % JSON_EVERY === 0) sendJson(ws);
      }
    }
  }, SLICE_MS);
  return () => clearInterval(timer);
}

// ---- the report -------------------------------------------------------------

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

function table(rows: Array<[string, SoakSample]>): string {
  const header = ['t', 'sessions', 'rss MB', 'heap MB', 'heap after GC MB', 'GC ms', 'frames/s', 'CPU %', 'ELD p99 ms', 'ELD max ms*', 'handles'];
  const lines = rows.map(([label, s]) => [
    label,
    String(s.sessions),
    mb(s.rss),
    mb(s.heapUsed),
    mb(s.heapAfterGc),
    s.gcMs.toFixed(0),
    s.framesPerSecond.toFixed(0),
    s.cpuPercent.toFixed(0),
    s.eldP99Ms.toFixed(1),
    s.eldMaxMs.toFixed(1),
    String(s.activeResources),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i])).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

const ms = (h: ReturnType<typeof createHistogram>, p: number) => (h.count === 0 ? NaN : h.percentile(p) / 1000);

// ---- main -------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const { server, port } = await Server.start();
  const url = `ws://127.0.0.1:${port}/ws`;
  const rows: Array<[string, SoakSample]> = [];
  const log = (line: string) => console.log(line);
  log(`soak: ${options.sessions} sessions × (50 audio frames/s of ${FRAME_BYTES} B + 10 JSON events/s) for ${options.minutes} min, sampled every ${options.sampleSeconds} s`);

  rows.push(['idle', await server.call<SoakSample>('sample')]);
  const conns: WebSocket[] = [];
  for (let i = 0; i < options.sessions; i += 50) {
    conns.push(...(await Promise.all(Array.from({ length: Math.min(50, options.sessions - i) }, () => connect(url)))));
  }
  rows.push(['connected', await server.call<SoakSample>('sample')]);

  const started = performance.now();
  const stopPacer = startPacer(conns);
  const durationMs = options.minutes * 60_000;
  const samples: Array<[number, SoakSample]> = [];
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      void server.call<SoakSample>('sample').then((s) => {
        const minutes = (performance.now() - started) / 60_000;
        samples.push([minutes, s]);
        rows.push([`${(minutes * 60).toFixed(0)} s`, s]);
        log(`  ${(minutes * 60).toFixed(0)} s: heap after GC ${mb(s.heapAfterGc)} MB, rss ${mb(s.rss)} MB, ${s.framesPerSecond.toFixed(0)} frames/s, CPU ${s.cpuPercent.toFixed(0)} %`);
      });
      if (performance.now() - started >= durationMs - 1) {
        clearInterval(timer);
        resolve();
      }
    }, options.sampleSeconds * 1000);
  });
  stopPacer();
  const loadSeconds = (performance.now() - started) / 1000;

  // let what is in flight come back, then hang up and see what stays
  const drainUntil = performance.now() + 3000;
  while ((counts.audioBack < counts.audioSent || counts.jsonBack < counts.jsonSent) && performance.now() < drainUntil) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  stopping = true;
  await Promise.all(conns.map((ws) => new Promise((resolve) => (ws.once('close', resolve), ws.close(1000)))));
  rows.push(['closed', await server.call<SoakSample>('idle')]);
  await server.close();

  // ---- report
  const delivered = (counts.audioBack + counts.jsonBack) / Math.max(1, counts.audioSent + counts.jsonSent);
  const trend = samples.slice(1).map(([m, s]) => [m, s.heapAfterGc / 1024 / 1024] as [number, number]);
  const heapSlope = trend.length >= 2 ? slope(trend) : NaN;
  const rssSlope = samples.length >= 3 ? slope(samples.slice(1).map(([m, s]) => [m, s.rss / 1024 / 1024])) : NaN;
  const expected = options.sessions * (50 + 10) * loadSeconds;
  const idle = rows[0][1];
  const closed = rows[rows.length - 1][1];
  log('');
  log(table(rows));
  log('* event-loop delay since the previous sample; the max includes the previous sample\'s own full GC (the GC ms column)');
  log('');
  log(`load: ${loadSeconds.toFixed(0)} s; sent ${counts.audioSent.toLocaleString('en-US')} audio + ${counts.jsonSent.toLocaleString('en-US')} JSON (${((100 * (counts.audioSent + counts.jsonSent)) / expected).toFixed(1)} % of the schedule; ${counts.skipped} skipped by the pacer)`);
  log(`delivered/sent: audio ${counts.audioBack}/${counts.audioSent}, JSON ${counts.jsonBack}/${counts.jsonSent} = ${(delivered * 100).toFixed(3)} %`);
  log(`round trip: audio p50 ${ms(rtt.audio, 50).toFixed(2)} ms, p99 ${ms(rtt.audio, 99).toFixed(2)} ms, max ${(rtt.audio.max / 1000).toFixed(1)} ms; JSON p50 ${ms(rtt.json, 50).toFixed(2)} ms, p99 ${ms(rtt.json, 99).toFixed(2)} ms`);
  log(`heap after GC: slope ${heapSlope.toFixed(3)} MB/min over ${trend.length} samples (first loaded sample excluded); RSS slope ${rssSlope.toFixed(2)} MB/min`);
  log(`after all sessions closed: heap after GC ${mb(closed.heapAfterGc)} MB (idle before: ${mb(idle.heapAfterGc)} MB), handles ${closed.activeResources} (idle before: ${idle.activeResources})`);
  log(`errors: ${counts.errors} client, ${closed.errors} server; unexpected closes: ${counts.unexpectedCloses}; unexpected frames: ${counts.otherFrames}`);

  const failures: string[] = [];
  if (!(heapSlope <= MAX_SLOPE_MB_PER_MIN)) failures.push(`heap after GC grows ${heapSlope.toFixed(3)} MB/min (limit ${MAX_SLOPE_MB_PER_MIN})`);
  if (delivered < MIN_DELIVERED) failures.push(`delivered ${(delivered * 100).toFixed(3)} % (limit ${MIN_DELIVERED * 100} %)`);
  if (counts.errors + closed.errors + counts.unexpectedCloses + counts.otherFrames > 0) failures.push('errors or unexpected closes');
  if (closed.sessions !== 0 || closed.activeResources !== idle.activeResources) failures.push('sessions or handles left after close');
  log(failures.length === 0 ? `verdict: PASS (heap flat within ${MAX_SLOPE_MB_PER_MIN} MB/min, ≥ ${MIN_DELIVERED * 100} % delivered, nothing left after close)` : `verdict: FAIL: ${failures.join('; ')}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main().catch((err: Error) => {
  console.error(`soak: ${err.stack ?? err.message}`);
  process.exit(1);
});
