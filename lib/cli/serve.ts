import cluster, { Worker } from 'node:cluster';
import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CrewApp } from '../app';
import type { CrewAppOptions } from '../app-options';
import { checkedLogger, defaultLogger } from '../logger';
import type { CrewLogger } from '../session-options';
import type { ServeArgs } from './args';
import { ExitCodes } from './chat';

/*
 * `rxcrew serve FILE`: an app module run as a CrewApp, in this process (one
 * worker) or in N cluster workers sharing the port. The primary only forks,
 * relays signals and restarts; every worker runs the one-process path, whose
 * signals CrewApp.run() handles. Workers start this file (`cluster.setupPrimary`
 * with `exec: __filename`), given the parsed arguments as JSON.
 */

/** How long the primary waits before it starts again a worker that died unasked (a crash loop must not spin). */
export const RESTART_DELAY_MS = 1000;

/** Why FILE cannot be served, with the exit code it earns (2: the user's mistake, 1: the app's failure). */
class ServeError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Runs `rxcrew serve`; resolves with the exit code once the app (every worker) has closed. */
export async function serve(args: ServeArgs, proc: { stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  let options: CrewAppOptions;
  try {
    options = loadAppModule(args.file);
  } catch (err) {
    if (!(err instanceof ServeError)) throw err;
    proc.stderr.write(`rxcrew: ${err.message}\n`);
    return err.exitCode;
  }
  if (args.workers === 1) {
    const code = await runApp(options, args, proc.stderr);
    exitDespiteLeftovers(code, proc.stderr);
    return code;
  }
  let logger: CrewLogger;
  try {
    logger = options.logger === undefined ? defaultLogger() : checkedLogger(options.logger, args.file);
  } catch (err) {
    proc.stderr.write(`rxcrew: ${(err as Error).message}\n`);
    return ExitCodes.CONNECTION;
  }
  return runPrimary(args, logger, proc.env.RXCREW_WORKER_ID || `${hostname()}-${process.pid}`);
}

/**
 * What FILE exports, as CrewApp options: a function (`module.exports = setup`,
 * `export default setup`), a default export `{ setup, ...options }`,
 * `module.exports = { setup, ...options }`, or a named export `setup` (alone:
 * the module's other exports are not options). Throws `ServeError`.
 */
export function loadAppModule(file: string): CrewAppOptions {
  const path = resolve(file);
  try {
    statSync(path);
  } catch (err) {
    throw new ServeError(`cannot read ${file}: ${describe(err)}`, ExitCodes.USAGE);
  }
  if (path.endsWith('.ts')) registerTsNode(file, path);
  let exported: unknown;
  try {
    exported = require(path);
  } catch (err) {
    // where require() loads ES modules (Node 20.19, 22.12), it still cannot load one with top-level await
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_REQUIRE_ESM' || code === 'ERR_REQUIRE_ASYNC_MODULE') {
      throw new ServeError(`${file} is an ES module require() cannot load (${code}); compile it to CommonJS`, ExitCodes.USAGE);
    }
    // the whole message: a TypeScript compile error's first line only says there is one
    const detail = process.env.RXCREW_DEBUG ? (err as Error)?.stack : String((err as Error)?.message ?? err).trimEnd();
    throw new ServeError(`cannot load ${file}: ${detail}`, ExitCodes.CONNECTION);
  }
  const options = optionsOf(exported);
  if (options === undefined) {
    const shapes = 'export function setup(session) {…}, export default setup, or export default { setup, ...options }';
    throw new ServeError(`${file} exports no setup function (expected ${shapes})`, ExitCodes.USAGE);
  }
  return options;
}

function optionsOf(exported: unknown): CrewAppOptions | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (typeof exported === 'function') return { setup: exported as CrewAppOptions['setup'] };
  if (!isObject(exported)) return undefined;
  const defaultExport = exported.default;
  if (typeof defaultExport === 'function') return { setup: defaultExport as CrewAppOptions['setup'] };
  if (isObject(defaultExport) && typeof defaultExport.setup === 'function') return defaultExport as unknown as CrewAppOptions;
  if (typeof exported.setup !== 'function') return undefined;
  // ES exports (compiled: __esModule; or a namespace, from require(esm)): there a named setup stands alone
  const es = exported.__esModule === true || (exported as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Module';
  return es ? { setup: exported.setup as CrewAppOptions['setup'] } : (exported as unknown as CrewAppOptions);
}

function registerTsNode(file: string, path: string): void {
  // already registered (node -r ts-node/register, or ts-node itself): a second register would compile twice
  if ((process as unknown as Record<symbol, unknown>)[Symbol.for('ts-node.register.instance')] !== undefined) return;
  let tsNode: { register(options: { transpileOnly: boolean; projectSearchDir: string; compilerOptions?: object }): unknown };
  try {
    // the app's own ts-node first, else the one next to rxcrew
    tsNode = require(require.resolve('ts-node', { paths: [dirname(path), __dirname] }));
  } catch (err) {
    const fix = `install it (npm install --save-dev ts-node), or compile ${file} to .js`;
    throw new ServeError(`${file} is TypeScript, and ts-node cannot be loaded (${describe(err)}): ${fix}`, ExitCodes.USAGE);
  }
  // without a tsconfig.json, ts-node 10's defaults (module node16, moduleResolution node10) do not compile under
  // TypeScript 5.x; CommonJS is what require() loads anyway
  const compilerOptions = tsconfigAbove(dirname(path)) ? undefined : { module: 'commonjs' };
  tsNode.register({ transpileOnly: true, projectSearchDir: dirname(path), compilerOptions });
}

/** Whether ts-node finds a tsconfig.json for a module in `dir` (it looks there, then in each parent). */
function tsconfigAbove(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, 'tsconfig.json'))) return true;
    if (dirname(at) === at) return false;
  }
}

/** How long `rxcrew serve` (one worker) waits, after its app has closed, for what the app left running (ms). */
const LEFTOVER_MS = 2000;

/**
 * The app has closed: what its module left running (an interval, a socket) must not keep the
 * process. An unref'd timer: it fires only if something else still holds the event loop.
 */
function exitDespiteLeftovers(code: number, errors: NodeJS.WritableStream): void {
  setTimeout(() => {
    errors.write(`rxcrew: the app has closed but something it started still runs (a timer, a socket); exiting after ${LEFTOVER_MS} ms\n`);
    process.exit(code);
  }, LEFTOVER_MS).unref();
}

/** One CrewApp in this process, until it has closed (CrewApp.run() handles SIGINT and SIGTERM). */
async function runApp(options: CrewAppOptions, args: ServeArgs, errors: NodeJS.WritableStream): Promise<number> {
  const workerId = cluster.isWorker ? process.env.RXCREW_WORKER_ID : undefined;
  let app: CrewApp;
  try {
    // the command line and the environment win over the module; a worker's id over the module's (one per worker)
    app = new CrewApp({
      ...options,
      ...(args.port !== undefined && { port: args.port }),
      ...(args.host !== undefined && { host: args.host }),
      ...(workerId && { workerId }),
    });
  } catch (err) {
    errors.write(`rxcrew: ${args.file}: ${describe(err)}\n`);
    return ExitCodes.CONNECTION;
  }
  try {
    await app.run();
  } catch (err) {
    errors.write(`rxcrew: cannot serve ${args.file}: ${describe(err)}\n`);
    return ExitCodes.CONNECTION;
  }
  return ExitCodes.OK;
}

/** A signal the primary passes on: the `count`th of its kind it was given. */
interface SignalMessage {
  rxcrew: 'signal';
  signal: NodeJS.Signals;
  count: number;
}

interface Slot {
  id: string;
  worker?: Worker;
  /** Whether a worker of this slot has ever listened: one that dies before the first time stops the fleet. */
  listened: boolean;
  restart?: NodeJS.Timeout;
}

/** The cluster primary: forks the workers, restarts those that die unasked, relays SIGINT/SIGTERM, waits for all. */
function runPrimary(args: ServeArgs, logger: CrewLogger, base: string): Promise<number> {
  cluster.setupPrimary({ exec: __filename, args: [JSON.stringify(args)], execArgv: workerExecArgv() });
  const slots: Slot[] = Array.from({ length: args.workers }, (_, i) => ({ id: `${base}-${i + 1}`, listened: false }));
  const given = new Map<NodeJS.Signals, number>(); // how many of each kind, as the workers count them
  let stopping = false;
  let failed = false;
  logger.info({ file: args.file, workers: args.workers }, `rxcrew serve: ${args.workers} workers of ${args.file}`);
  return new Promise<number>((done) => {
    const start = (slot: Slot) => {
      const worker = cluster.fork({ RXCREW_WORKER_ID: slot.id });
      slot.worker = worker;
      logger.info({ worker: slot.id, pid: worker.process.pid }, `worker ${slot.id} started (pid ${worker.process.pid})`);
      worker.once('listening', () => (slot.listened = true));
      worker.on('error', (err) => logger.warn({ worker: slot.id, err }, `worker ${slot.id}: ${err.message}`));
      worker.once('exit', (code, signal) => exited(slot, worker, code, signal));
    };
    const exited = (slot: Slot, worker: Worker, code: number | null, signal: string | null) => {
      slot.worker = undefined;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      const fields = { worker: slot.id, pid: worker.process.pid, code, signal };
      if (stopping) {
        if (code !== 0) failed = true;
        logger.info(fields, `worker ${slot.id} exited (${how})`);
        if (slots.every((s) => s.worker === undefined)) finish();
      } else if (!slot.listened) {
        // its first start failed: the others would most likely fail the same way, forever
        logger.error(fields, `worker ${slot.id} exited (${how}) before it was listening; stopping`);
        failed = true;
        stop('SIGTERM');
      } else {
        logger.warn(fields, `worker ${slot.id} (pid ${worker.process.pid}) exited (${how}); starting it again in ${RESTART_DELAY_MS} ms`);
        slot.restart = setTimeout(() => {
          slot.restart = undefined;
          start(slot);
        }, RESTART_DELAY_MS);
      }
    };
    const stop = (signal: NodeJS.Signals) => {
      const count = (given.get(signal) ?? 0) + 1;
      given.set(signal, count);
      stopping = true;
      const message: SignalMessage = { rxcrew: 'signal', signal, count };
      for (const slot of slots) {
        clearTimeout(slot.restart);
        slot.restart = undefined;
        const worker = slot.worker;
        if (worker === undefined) continue;
        // told over IPC, not kill(): so a worker tells this copy from its own (a terminal's Ctrl-C) and counts them once
        if (worker.isConnected()) worker.send(message, undefined, (err) => err && worker.process.kill(signal));
        else worker.process.kill(signal);
      }
      if (slots.every((s) => s.worker === undefined)) finish();
    };
    const onSignal = (signal: NodeJS.Signals) => {
      const running = slots.filter((s) => s.worker !== undefined).length;
      logger.info({ signal, workers: running }, `${signal}${given.has(signal) ? ' again' : ''}: passing it on to ${running} worker(s)`);
      stop(signal);
    };
    const finish = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      done(failed ? ExitCodes.CONNECTION : ExitCodes.OK);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    for (const slot of slots) start(slot);
  });
}

/** The workers' node flags: the primary's, and ts-node when this file is the TypeScript source. */
function workerExecArgv(): string[] {
  if (!__filename.endsWith('.ts') || process.execArgv.some((a) => a.includes('ts-node'))) return process.execArgv;
  // resolved here: a worker's cwd need not see rxcrew's node_modules
  return [...process.execArgv, '-r', require.resolve('ts-node/register/transpile-only')];
}

type StopSignal = 'SIGINT' | 'SIGTERM';
type SignalListener = (signal: NodeJS.Signals) => void;
const isStopSignal = (event: string | symbol): event is StopSignal => event === 'SIGINT' || event === 'SIGTERM';

/**
 * In a worker: hands the app each SIGINT and SIGTERM once, though one often
 * comes twice, in either order: from outside (a terminal's Ctrl-C reaches the
 * whole process group, systemd's stop the whole cgroup) and from the primary
 * over IPC. Per kind, the nth signal from either side is the same signal; the
 * app (CrewApp.run()) takes a second one for "exit now". So that the app hears
 * only what this passes on, its SIGINT/SIGTERM listeners are taken off
 * `process` as they are added and called from here. Before the app listens
 * there is nothing to close: a signal exits 0.
 */
function takeSignals(): void {
  const direct = new Map<StopSignal, number>();
  const relayed = new Map<StopSignal, number>();
  const held: Array<{ signal: StopSignal; listener: SignalListener }> = [];
  const heard = (from: Map<StopSignal, number>, signal: StopSignal, count: number) => {
    const before = Math.max(direct.get(signal) ?? 0, relayed.get(signal) ?? 0);
    from.set(signal, Math.max(from.get(signal) ?? 0, count));
    if (count <= before) return; // the other copy of one already passed on
    const listeners = held.filter((h) => h.signal === signal);
    if (listeners.length === 0) process.exit(ExitCodes.OK);
    for (const { listener } of listeners) listener(signal);
  };
  const onDirect = (signal: NodeJS.Signals) => {
    if (isStopSignal(signal)) heard(direct, signal, (direct.get(signal) ?? 0) + 1);
  };
  process.on('newListener', (event: string | symbol, listener: SignalListener) => {
    if (!isStopSignal(event) || listener === onDirect) return;
    // it is added once this returns, and taken off again before a signal can come (signals come from the event loop)
    process.nextTick(() => {
      process.off(event, listener);
      held.push({ signal: event, listener });
    });
  });
  process.on('SIGINT', onDirect);
  process.on('SIGTERM', onDirect);
  process.on('message', (message: Partial<SignalMessage>) => {
    if (message?.rxcrew === 'signal' && isStopSignal(message.signal ?? '') && typeof message.count === 'number') {
      heard(relayed, message.signal as StopSignal, message.count);
    }
  });
}

async function runWorker(): Promise<number> {
  takeSignals();
  const args = JSON.parse(process.argv[2]) as ServeArgs;
  try {
    return await runApp(loadAppModule(args.file), args, process.stderr);
  } catch (err) {
    process.stderr.write(`rxcrew: ${err instanceof ServeError ? err.message : describe(err)}\n`);
    return err instanceof ServeError ? err.exitCode : ExitCodes.CONNECTION;
  }
}

/** An error in one line: its message's first (a file's errno alone, as the other commands print it). */
function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.syscall === 'stat' && typeof e.code === 'string') return e.code;
  return String(e?.message ?? err).split('\n')[0];
}

// the app module may leave timers or connections open: a worker is done once its app has closed (and exits
// within the microtasks after run() resolved: no signal can reach the app's listeners takeSignals still holds)
if (require.main === module && cluster.isWorker) void runWorker().then((code) => process.exit(code));
