import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pcm16MonoOfWav, pcm16Wav } from '../tts/wav';
import { CallArgs, ChatArgs, parseArgs, UsageError } from './args';
import { call } from './call';
import { chat, ExitCodes } from './chat';
import { serve } from './serve';

/*
 * `rxcrew` as a function: argv and the process's streams in, an exit code out.
 * bin/rxcrew.ts only hands it the real process; tests can hand it fakes.
 */

/** What the CLI needs from its process. */
export interface CliProcess {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Registers the Ctrl-C handler (SIGINT); returns a function that removes it. */
  onInterrupt(handler: () => void): () => void;
}

/** Runs `rxcrew` with `argv` (without `node` and the script). Resolves with the exit code. */
export async function main(argv: readonly string[], proc: CliProcess): Promise<number> {
  let command;
  try {
    command = parseArgs(argv, proc.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    proc.stderr.write(`rxcrew: ${err.message}\n\n${err.usage}`);
    return ExitCodes.USAGE;
  }
  switch (command.kind) {
    case 'help':
      proc.stdout.write(command.text);
      return ExitCodes.OK;
    case 'version':
      proc.stdout.write(`${version()}\n`);
      return ExitCodes.OK;
    case 'chat':
      return runChat(command.args, proc);
    case 'call':
      return runCall(command.args, proc);
    case 'serve':
      // a server's lifetime: CrewApp.run() (or the cluster primary) handles SIGINT and SIGTERM itself
      return serve(command.args, proc);
  }
}

async function runCall(args: CallArgs, proc: CliProcess): Promise<number> {
  // the files are the user's mistakes, not the server's: checked before connecting
  let wav: Buffer | undefined;
  if (args.wav !== undefined) {
    try {
      wav = readFileSync(args.wav);
    } catch (err) {
      proc.stderr.write(`rxcrew: cannot read ${args.wav}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return ExitCodes.USAGE;
    }
    let problem: string | undefined;
    try {
      if (pcm16MonoOfWav(wav).pcm.length < 2) problem = 'it holds no audio';
    } catch (err) {
      problem = (err as Error).message.replace(/^parseWav: /, '');
    }
    if (problem !== undefined) {
      proc.stderr.write(`rxcrew: ${args.wav} is not a WAV the caller can speak: ${problem}\n`);
      return ExitCodes.USAGE;
    }
  }
  let out: number | undefined;
  if (args.out !== undefined) {
    try {
      out = openSync(args.out, 'w');
    } catch (err) {
      proc.stderr.write(`rxcrew: cannot write ${args.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return ExitCodes.USAGE;
    }
  }
  const session = call({
    url: args.twilio,
    customParameters: args.customParameters,
    wav,
    wavName: args.wav === undefined ? undefined : basename(args.wav),
    delay: args.delay,
    dtmf: args.dtmf,
    quiet: args.quiet,
    hangupAfter: args.hangupAfter,
    output: proc.stdout,
    errors: proc.stderr,
  });
  const removeHandler = proc.onInterrupt(() => session.hangUp());
  try {
    const { code, heard } = await session.done;
    if (out !== undefined) {
      writeSync(out, pcm16Wav(heard, 8000));
      proc.stdout.write(`wrote ${args.out}: ${(heard.length / 16_000).toFixed(2)} s heard\n`);
    }
    return code;
  } finally {
    if (out !== undefined) closeSync(out);
    removeHandler();
  }
}

async function runChat(args: ChatArgs, proc: CliProcess): Promise<number> {
  let input: NodeJS.ReadableStream = proc.stdin;
  if (args.script !== undefined) {
    // read it whole before connecting: a missing file is the user's mistake, not the server's
    let text: string;
    try {
      text = readFileSync(args.script, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      proc.stderr.write(`rxcrew: cannot read script ${args.script}: ${reason}\n`);
      return ExitCodes.USAGE;
    }
    input = Readable.from([text]);
  }
  // A terminal gets the prompt; piped input is read like a script, without echo.
  const interactive = args.script === undefined && proc.stdin.isTTY === true && proc.stdout.isTTY === true;
  const session = chat({
    url: args.url,
    initialVariables: args.initialVariables,
    input,
    output: proc.stdout,
    errors: proc.stderr,
    interactive,
    echo: args.script !== undefined,
  });
  const removeHandler = proc.onInterrupt(() => session.interrupt());
  try {
    return await session.done;
  } finally {
    removeHandler();
  }
}

/** The package's version, from the nearest package.json named rxcrew (source or dist layout). */
function version(): string {
  for (let dir = __dirname; dirname(dir) !== dir; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'rxcrew') return pkg.version ?? 'unknown';
  }
  return 'unknown';
}
