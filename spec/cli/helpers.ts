import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { chat, ChatHandle, ChatOptions } from '../../lib/cli/chat';
import { within } from '../integration/helpers';

/*
 * Helpers for the CLI specs. Every wait is for output, an exit or a promise,
 * with a timeout only as a failure guard.
 */

export const ROOT = join(__dirname, '..', '..');
const GUARD_MS = 10_000;

/**
 * A writable that keeps what was written: `text` as a whole, `writes` one entry
 * per write call (so streaming shows), and `printed(s)` waits for `s` to appear.
 */
export class Capture extends Writable {
  text = '';
  readonly writes: string[] = [];
  private readonly waiters = new Set<() => void>();

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    const text = chunk.toString();
    this.text += text;
    this.writes.push(text);
    for (const wake of [...this.waiters]) wake();
    callback();
  }

  /** Resolves once `text` has been written. */
  printed(text: string): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (!this.text.includes(text)) return;
          this.waiters.delete(check);
          resolve();
        };
        this.waiters.add(check);
        check();
      }),
      `${JSON.stringify(text)} in ${JSON.stringify(this.text)}`,
    );
  }
}

export interface ChatRun {
  handle: ChatHandle;
  output: Capture;
  errors: Capture;
  /** Types a line. */
  say(line: string): void;
  /** End of input (Ctrl-D, or the end of a script). */
  end(): void;
  /** The exit code, once the connection has closed. */
  done: () => Promise<number>;
}

/** Runs `chat()` in process, with a writable input and captured output. */
export function startChat(url: string, options: Partial<ChatOptions> = {}): ChatRun {
  const input = new PassThrough();
  const output = new Capture();
  const errors = new Capture();
  const handle = chat({ url, input, output, errors, ...options });
  return {
    handle,
    output,
    errors,
    say: (line) => void input.write(`${line}\n`),
    end: () => void input.end(),
    done: () => within(handle.done, `the chat to end; output ${JSON.stringify(output.text)}, errors ${JSON.stringify(errors.text)}`),
  };
}

/** A port nothing listens on: bind one, then free it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A TypeScript program run as a child process under ts-node (no build needed). */
export interface TsProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once `text` (or a match of the pattern) is on stdout (or `stream`); the match's groups for a pattern. */
  printed(text: string | RegExp, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray | null>;
  /** Resolves with the exit code and all output; rejects (and kills it) if it outlives its guard. */
  exited: Promise<Exit>;
}

/**
 * Starts `node -r ts-node/register/transpile-only script ...args`. `guardMs`: how long
 * it may run before it is killed and `exited` rejects (`false` for a long-lived server).
 */
export function runTs(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; guardMs?: number | false; require?: string[] } = {},
): TsProcess {
  const preload = (options.require ?? []).flatMap((m) => ['-r', m]);
  return runNode(script, args, { ...options, execArgv: ['-r', 'ts-node/register/transpile-only', ...preload] });
}

/** Starts `node [execArgv] script ...args` in `cwd` (the checkout by default); `guardMs` as for `runTs`. */
export function runNode(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; guardMs?: number | false; execArgv?: string[]; cwd?: string } = {},
): TsProcess {
  const guardMs = options.guardMs ?? GUARD_MS;
  const child = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, RXCREW_URL: '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of [...watchers]) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    for (const w of [...watchers]) w();
  });
  const exited = new Promise<Exit>((resolve, reject) => {
    const guard =
      guardMs === false
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${script} did not exit within ${guardMs} ms; stdout: ${stdout}; stderr: ${stderr}`));
          }, guardMs);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
  const printed = (text: string | RegExp, stream: 'stdout' | 'stderr' = 'stdout') =>
    new Promise<RegExpMatchArray | null>((resolve, reject) => {
      const check = () => {
        const out = stream === 'stdout' ? stdout : stderr;
        const match = typeof text === 'string' ? (out.includes(text) ? null : undefined) : (out.match(text) ?? undefined);
        if (match === undefined) return;
        watchers.delete(check);
        resolve(match);
      };
      watchers.add(check);
      check();
      exited.then(() => reject(new Error(`${script} exited before printing ${String(text)}; stdout: ${stdout}; stderr: ${stderr}`)), reject);
    });
  return { child, stdout: () => stdout, stderr: () => stderr, printed, exited };
}
