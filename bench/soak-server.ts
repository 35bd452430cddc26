import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { tap } from 'rxjs';
import { CrewApp, CrewLogger, node } from 'rxcrew';

/*
 * The soak's server (bench/soak.ts forks it with --expose-gc): a CrewApp whose
 * graph is one pass-through node, so every client frame comes back. Answers
 * the parent over IPC:
 * - {cmd: 'sample'}: memory now, then heap after a full GC (when gc is
 *   exposed), event-loop delay and CPU since the last sample, frames handled;
 * - {cmd: 'idle'}: resolves once no session is left, then samples;
 * - {cmd: 'close'}: closes the app and exits.
 */

export interface SoakSample {
  /** ms since the server started. */
  at: number;
  sessions: number;
  rss: number;
  heapUsed: number;
  /** heapUsed right after a full GC (NaN without --expose-gc). */
  heapAfterGc: number;
  gcMs: number;
  external: number;
  /** Frames the pass-through node handled since the last sample, per second. */
  framesPerSecond: number;
  /** Server CPU (user + system) since the last sample, in % of one core. */
  cpuPercent: number;
  eldP99Ms: number;
  eldMaxMs: number;
  /** What keeps the loop alive (`process.getActiveResourcesInfo()`), counted. */
  activeResources: number;
  errors: number;
}

type Request = { cmd: 'sample' } | { cmd: 'idle' } | { cmd: 'close' };

const ELD_RESOLUTION_MS = 10;
const started = performance.now();
let frames = 0;
let errors = 0;
const logger: CrewLogger = {
  error: (...args: unknown[]) => {
    if (errors++ < 3) console.error('[soak server]', ...args);
  },
  warn: () => undefined,
  info: () => undefined,
};

const app = new CrewApp({
  host: '127.0.0.1',
  port: 0,
  logger,
  setup: (session) => void session.addNode(node('pass', tap(() => void frames++))),
});

const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
eld.enable();
let last = { t: performance.now(), cpu: process.cpuUsage(), frames: 0 };

function sample(): SoakSample {
  const t = performance.now();
  const cpu = process.cpuUsage(last.cpu);
  const seconds = (t - last.t) / 1000;
  const before = process.memoryUsage();
  let heapAfterGc = NaN;
  let gcMs = 0;
  const gc = globalThis.gc;
  if (typeof gc === 'function') {
    const g0 = performance.now();
    gc();
    gcMs = performance.now() - g0;
    heapAfterGc = process.memoryUsage().heapUsed;
  }
  // the histogram holds sample intervals (resolution + lateness): report the lateness
  const late = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
  const result: SoakSample = {
    at: t - started,
    sessions: app.sessions.size,
    rss: before.rss,
    heapUsed: before.heapUsed,
    heapAfterGc,
    gcMs,
    external: before.external,
    framesPerSecond: (frames - last.frames) / seconds,
    cpuPercent: ((cpu.user + cpu.system) / 1e6 / seconds) * 100,
    eldP99Ms: late(eld.percentile(99)),
    eldMaxMs: late(eld.max),
    activeResources: process.getActiveResourcesInfo().length,
    errors,
  };
  eld.reset();
  last = { t: performance.now(), cpu: process.cpuUsage(), frames };
  return result;
}

async function idle(): Promise<SoakSample> {
  while (app.sessions.size > 0) await Promise.race([...app.sessions.values()].map((s) => s.waitUntilComplete()));
  return sample();
}

process.on('message', (request: Request) => {
  const reply = (message: unknown) => process.send!(message);
  if (request.cmd === 'sample') reply(sample());
  else if (request.cmd === 'idle') void idle().then(reply);
  else if (request.cmd === 'close') void app.close().then(() => process.exit(0));
});
process.on('disconnect', () => void app.close().then(() => process.exit(0)));

app.listen().then(
  ({ port }) => process.send!({ port }),
  (err: Error) => {
    console.error(`soak server: ${err.message}`);
    process.exit(1);
  },
);
