/*
 * Command-line parsing for `rxcrew`. Pure: argv and the environment in, a
 * command out; every mistake is a `UsageError` (exit code 2) naming the problem.
 */

/** Where `rxcrew chat` connects when no URL is given (and `$RXCREW_URL` is unset). */
export const DEFAULT_URL = 'ws://localhost:8080/ws';

export const USAGE = `Usage: rxcrew <command> [options]

Commands:
  chat [URL]        talk to an rxcrew (or Atoms-compatible) agent in the terminal
  call --twilio URL play a phone caller on a Twilio Media Streams WebSocket
  serve FILE        run an app module's agent server, in one or more workers
  help [command]    show help for a command

Options:
  -h, --help        show this help
  -v, --version     print the version

Run "rxcrew chat --help", "rxcrew call --help" or "rxcrew serve --help" for a
command's options.
`;

export const CALL_USAGE = `Usage: rxcrew call --twilio URL [options]

Plays a phone caller as Twilio does: connects to URL (ws:// or wss://, e.g.
ws://localhost:8080/twilio), sends connected and start, speaks --wav FILE as
20 ms μ-law media at real time, echoes each mark when its audio has played,
and prints what happens, one line each.

Options:
  --twilio URL          the server's Twilio Media Streams WebSocket (required)
  --wav FILE            a 16-bit PCM mono WAV (any rate) the caller speaks once
                        the stream has started; without it the caller sends no audio
  --delay SECONDS       silence sent before the WAV, e.g. to let a greeting play (0)
  --dtmf DIGITS         keys pressed after the audio (0-9, *, #)
  --param KEY=VALUE     one of start.customParameters (repeatable)
  --out FILE            write what the caller heard as a 16-bit 8 kHz mono WAV
  --quiet SECONDS       once the caller is done, hang up after the agent has been
                        quiet this long: nothing playing, nothing arriving (3)
  --hangup-after SECONDS  hang up this long after the stream started, whatever
                        is happening (300)
  -h, --help            show this help

The call ends when the server closes the stream, on Ctrl-C (the caller hangs
up: stop, then close 1000), after the quiet period, or at --hangup-after.

Exit codes: 0 done (we hung up, or the server closed with 1000), 1 connection
or server problem (cannot connect, any other close code), 2 usage error
(bad command line, unreadable or invalid WAV, --out not writable).
`;

export const CHAT_USAGE = `Usage: rxcrew chat [options] [URL]

Talks to an agent over WebSocket, speaking the Atoms protocol. URL defaults to
$RXCREW_URL, else ${DEFAULT_URL}.

Options:
  --script FILE     send FILE's lines, one turn each, and exit after the last reply
  --name NAME       the caller's name (initial_variables.customer_name)
  --var KEY=VALUE   another initial variable for system.init (repeatable)
  -h, --help        show this help

Keys: Enter sends a line. Ctrl-C interrupts the reply in flight, or leaves at the
prompt. Ctrl-D leaves after the last reply. Piped input is read like a script.

Exit codes: 0 done, 1 connection or server problem, 2 usage error.
`;

export const SERVE_USAGE = `Usage: rxcrew serve [options] FILE

Runs the app module FILE (.js, or .ts through ts-node) as a CrewApp. FILE exports
setup, or a default export that is the setup function, or a default export
{ setup, ...CrewAppOptions }.

Options:
  --workers N   processes sharing the port (node:cluster); one that dies is
                restarted with the same id (1)
  --port P      the port, 0 for a free one ($PORT, else the module's, else 8080)
  --host H      the interface (the module's, else 0.0.0.0)
  -h, --help    show this help

Environment: PORT, REDIS_URL (the session store), RXCREW_SECRET (its resume-token
key), RXCREW_WORKER_ID (workers are ID-1 … ID-N; default HOST-PID).
SIGTERM drains (live calls go on up to drainTimeout), SIGINT (Ctrl-C) closes,
in every worker; a second signal exits at once.

Exit codes: 0 closed on a signal, 1 the app failed (or a worker did not exit 0),
2 usage error (bad command line, FILE missing or not an app module).
`;

/** A mistake on the command line: the caller prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The usage text that fits the mistake (the command's, if one was given). */
    readonly usage: string = USAGE,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The option at `argv[i]`, as `--flag VALUE` or `--flag=VALUE`, and the index of its last argument. */
function flagAt(argv: readonly string[], i: number, known: ReadonlySet<string>, usage: string): { flag: string; value: string; next: number } {
  const arg = argv[i];
  const eq = arg.indexOf('=');
  const flag = eq === -1 ? arg : arg.slice(0, eq);
  if (!known.has(flag)) throw new UsageError(`unknown option ${flag}`, usage);
  if (eq !== -1) return { flag, value: arg.slice(eq + 1), next: i };
  if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`, usage);
  return { flag, value: argv[i + 1], next: i + 1 };
}

/** What `rxcrew chat` was asked to do. */
export interface ChatArgs {
  url: string;
  /** `--script FILE`: read the lines from FILE (echoed as `you> line`). */
  script?: string;
  /** Sent in `system.init`'s `session_context.initial_variables`. */
  initialVariables: Record<string, string>;
}

/** What `rxcrew call` was asked to do. */
export interface CallArgs {
  /** `--twilio URL`: a ws:// or wss:// URL. */
  twilio: string;
  /** `--wav FILE`: the caller's speech (read and checked by `main`). */
  wav?: string;
  /** `--delay`: seconds of silence before the WAV. */
  delay: number;
  /** `--dtmf`: keys pressed after the audio. */
  dtmf: string;
  customParameters: Record<string, string>;
  /** `--out FILE`: where to write what the caller heard. */
  out?: string;
  /** `--quiet`: seconds of agent silence, once the caller is done, before hanging up. */
  quiet: number;
  /** `--hangup-after`: seconds after the stream started at which the caller hangs up regardless. */
  hangupAfter: number;
}

/** What `rxcrew serve` was asked to do. */
export interface ServeArgs {
  /** The app module, as given (a `.js`, `.cjs` or `.ts` file). */
  file: string;
  /** `--workers`: how many processes; 1 runs the app in this one. */
  workers: number;
  /** `--port`, else `$PORT`; undefined: the module's, else CrewApp's default. */
  port?: number;
  /** `--host`; undefined: the module's, else CrewApp's default. */
  host?: string;
}

export type Command =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'chat'; args: ChatArgs }
  | { kind: 'call'; args: CallArgs }
  | { kind: 'serve'; args: ServeArgs };

/** Parses `argv` (without `node` and the script path). Throws `UsageError`. */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '-h' || first === '--help') return { kind: 'help', text: USAGE };
  if (first === '-v' || first === '--version') return { kind: 'version' };
  if (first === 'help') {
    if (rest.length === 0) return { kind: 'help', text: USAGE };
    if (rest.length === 1 && rest[0] === 'chat') return { kind: 'help', text: CHAT_USAGE };
    if (rest.length === 1 && rest[0] === 'call') return { kind: 'help', text: CALL_USAGE };
    if (rest.length === 1 && rest[0] === 'serve') return { kind: 'help', text: SERVE_USAGE };
    throw new UsageError(`no help for ${rest.join(' ')}`);
  }
  if (first === 'chat') return parseChat(rest, env);
  if (first === 'call') return parseCall(rest);
  if (first === 'serve') return parseServe(rest, env);
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first}`);
  throw new UsageError(`unknown command ${first}`);
}

/**
 * Walks `argv`: positional arguments (all of them after `--`) go to
 * `positional`, known flags with their values to `flag`. `true` when `-h` or
 * `--help` came before the end (the command then prints its help).
 */
function walkArgs(argv: readonly string[], flags: ReadonlySet<string>, usage: string, positional: (arg: string) => void, flag: (name: string, value: string) => void): boolean {
  let options = true; // false after "--": everything is positional
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!options || !arg.startsWith('-') || arg === '-') positional(arg);
    else if (arg === '--') options = false;
    else if (arg === '-h' || arg === '--help') return true;
    else {
      const found = flagAt(argv, i, flags, usage);
      i = found.next;
      flag(found.flag, found.value);
    }
  }
  return false;
}

const CHAT_FLAGS = new Set(['--script', '--name', '--var']);

function parseChat(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const vars: Record<string, string> = {};
  let name: string | undefined;
  let script: string | undefined;
  let url: string | undefined;
  const setUrl = (value: string) => {
    if (url !== undefined) throw new UsageError(`more than one URL given (${url}, ${value})`, CHAT_USAGE);
    url = value;
  };
  const help = walkArgs(argv, CHAT_FLAGS, CHAT_USAGE, setUrl, (flag, value) => {
    if (flag === '--script') {
      if (value === '') throw new UsageError('--script needs a file name', CHAT_USAGE);
      script = value;
    } else if (flag === '--name') {
      name = value;
    } else {
      const at = value.indexOf('=');
      if (at <= 0) throw new UsageError(`--var needs KEY=VALUE, got "${value}"`, CHAT_USAGE);
      vars[value.slice(0, at)] = value.slice(at + 1);
    }
  });
  if (help) return { kind: 'help', text: CHAT_USAGE };

  // --name is shorthand for --var customer_name=NAME and wins over it
  if (name !== undefined) vars.customer_name = name;
  const target = url ?? (env.RXCREW_URL || DEFAULT_URL);
  return { kind: 'chat', args: { url: checkUrl(target), script, initialVariables: vars } };
}

/** Accepts ws:// and wss:// URLs; http(s):// is taken to mean the same server's WebSocket. */
function checkUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new UsageError(`invalid URL "${raw}" (expected e.g. ${DEFAULT_URL})`, CHAT_USAGE);
  }
  if (parsed.protocol === 'http:' || parsed.protocol === 'https:') {
    return raw.replace(/^http/i, 'ws');
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new UsageError(`URL must start with ws:// or wss://, got "${raw}"`, CHAT_USAGE);
  }
  return raw;
}

const CALL_FLAGS = new Set(['--twilio', '--wav', '--delay', '--dtmf', '--param', '--out', '--quiet', '--hangup-after']);

function parseCall(argv: readonly string[]): Command {
  const fail = (message: string): never => {
    throw new UsageError(message, CALL_USAGE);
  };
  const args: CallArgs = { twilio: '', delay: 0, dtmf: '', customParameters: {}, quiet: 3, hangupAfter: 300 };
  let twilio: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') return { kind: 'help', text: CALL_USAGE };
    if (!arg.startsWith('--') || arg === '--') fail(`unexpected argument "${arg}" (the URL goes after --twilio)`);
    const { flag, value, next } = flagAt(argv, i, CALL_FLAGS, CALL_USAGE);
    i = next;
    const seconds = (min: 'zero' | 'positive'): number => {
      const n = value.trim() === '' ? NaN : Number(value);
      if (!Number.isFinite(n) || n < 0 || (min === 'positive' && n === 0)) {
        fail(`${flag} needs a ${min === 'zero' ? 'number of seconds ≥ 0' : 'number of seconds > 0'}, got "${value}"`);
      }
      return n;
    };
    switch (flag) {
      case '--twilio':
        if (twilio !== undefined) fail(`--twilio given twice (${twilio}, ${value})`);
        twilio = value;
        break;
      case '--wav':
      case '--out':
        if (value === '') fail(`${flag} needs a file name`);
        args[flag === '--wav' ? 'wav' : 'out'] = value;
        break;
      case '--dtmf':
        if (!/^[0-9*#]+$/.test(value)) fail(`--dtmf takes the keys 0-9, * and #, got "${value}"`);
        args.dtmf += value;
        break;
      case '--param': {
        const at = value.indexOf('=');
        if (at <= 0) fail(`--param needs KEY=VALUE, got "${value}"`);
        args.customParameters[value.slice(0, at)] = value.slice(at + 1);
        break;
      }
      case '--delay':
        args.delay = seconds('zero');
        break;
      case '--quiet':
        args.quiet = seconds('zero');
        break;
      default:
        args.hangupAfter = seconds('positive');
    }
  }
  if (twilio === undefined) fail('call needs --twilio URL (e.g. ws://localhost:8080/twilio)');
  let parsed: URL | undefined;
  try {
    parsed = new URL(twilio!);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== 'ws:' && parsed?.protocol !== 'wss:') {
    fail(`--twilio needs a ws:// or wss:// URL (e.g. ws://localhost:8080/twilio), got "${twilio}"`);
  }
  return { kind: 'call', args: { ...args, twilio: twilio! } };
}

const SERVE_FLAGS = new Set(['--workers', '--port', '--host']);

function parseServe(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const fail = (message: string): never => {
    throw new UsageError(message, SERVE_USAGE);
  };
  const portOf = (value: string, name: string): number =>
    /^\d+$/.test(value) && Number(value) <= 65535 ? Number(value) : fail(`${name} needs a port from 0 to 65535, got "${value}"`);
  const raw: Record<string, string> = {}; // checked once all is read: -h anywhere gets the help
  let file: string | undefined;
  const positional = (arg: string) => {
    if (file !== undefined) fail(`more than one FILE given (${file}, ${arg})`);
    file = arg;
  };
  if (walkArgs(argv, SERVE_FLAGS, SERVE_USAGE, positional, (flag, value) => (raw[flag] = value))) return { kind: 'help', text: SERVE_USAGE };
  if (file === undefined || file === '') return fail('serve needs FILE, the app module (e.g. rxcrew serve app.ts)');
  // what require() loads; ts-node is registered for .ts
  if (!/\.(c?js|ts)$/.test(file)) fail(`FILE must be a .js or .ts module, got "${file}"`);
  const args: ServeArgs = { file, workers: 1 };
  const workers = raw['--workers'];
  if (workers !== undefined) {
    if (!/^\d+$/.test(workers) || Number(workers) < 1) fail(`--workers needs a whole number ≥ 1, got "${workers}"`);
    args.workers = Number(workers);
  }
  if (raw['--port'] !== undefined) args.port = portOf(raw['--port'], '--port');
  else if (env.PORT) args.port = portOf(env.PORT, '$PORT');
  if (raw['--host'] !== undefined) args.host = raw['--host'] || fail('--host needs a host name or address');
  return { kind: 'serve', args };
}
