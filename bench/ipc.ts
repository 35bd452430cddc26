import { ChildProcess, execFileSync, fork } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';

/*
 * Request/response over the IPC channel of a forked bench process. The parent
 * drives every phase (connect, warm up, measure, report) so that the server
 * and the load generator measure exactly the same window.
 */

type Handler = (args: any) => unknown;

interface Request {
  id: number;
  cmd: string;
  args?: unknown;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

/** In a child: answers the parent's requests with the handlers' (awaited) results. */
export function serve(handlers: Record<string, Handler>): void {
  process.on('message', (msg: Request) => {
    const handler = handlers[msg.cmd];
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`unknown command "${msg.cmd}"`);
        return handler(msg.args);
      })
      .then(
        (result) => process.send!({ id: msg.id, result } satisfies Reply),
        (err: unknown) => process.send!({ id: msg.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies Reply),
      );
  });
  // the parent went away (or asked us to go): exit normally so --cpu-prof is written
  process.on('disconnect', () => process.exit(0));
}

/** A forked bench process (`bench/out/bench/<script>.js`) the parent talks to by request/response. */
export class Child {
  readonly proc: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private exited = false;

  /** `cpu`: pin the process to that core (Linux `taskset`), so that the server and the load generator each have one. */
  constructor(
    readonly label: string,
    script: string,
    args: string[] = [],
    execArgv: string[] = [],
    cpu?: number,
  ) {
    const pin = cpu !== undefined && canPin() ? { execPath: 'taskset', execArgv: ['-c', String(cpu), process.execPath, ...execArgv] } : { execArgv };
    this.proc = fork(join(__dirname, `${script}.js`), args, { ...pin, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (msg: Reply) => {
      const waiter = this.pending.get(msg.id);
      if (waiter === undefined) return;
      this.pending.delete(msg.id);
      if (msg.error !== undefined) waiter.reject(new Error(`${label}: ${msg.error}`));
      else waiter.resolve(msg.result);
    });
    this.proc.on('exit', (code, signal) => {
      this.exited = true;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
      this.pending.clear();
    });
  }

  call<T>(cmd: string, args?: unknown): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ id, cmd, args } satisfies Request);
    });
  }

  /** Disconnects (the child exits by itself); kills it if it has not gone after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.proc.disconnect();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}

let pinnable: boolean | undefined;

/** Whether processes can be pinned to cores: Linux with `taskset`, and at least two cores. */
export function canPin(): boolean {
  if (pinnable === undefined) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      pinnable = cpus().length >= 2 && process.env.BENCH_NO_PIN === undefined;
    } catch {
      pinnable = false;
    }
  }
  return pinnable;
}

/** The core servers run on (the load generator gets the next one). */
export const SERVER_CPU = 0;
export const LOAD_CPU = 1;
