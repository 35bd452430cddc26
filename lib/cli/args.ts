/*
 * Command-line parsing for `rxcrew`. Pure: argv and the environment in, a
 * command out; every mistake is a `UsageError` (exit code 2) naming the problem.
 */

/** Where `rxcrew chat` connects when no URL is given (and `$RXCREW_URL` is unset). */
export const DEFAULT_URL = 'ws://localhost:8080/ws';

export const USAGE = `Usage: rxcrew <command> [options]

Commands:
  chat [URL]        talk to an rxcrew (or Atoms-compatible) agent in the terminal
  help [command]    show help for a command

Options:
  -h, --help        show this help
  -v, --version     print the version

Run "rxcrew chat --help" for the chat options.
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

/** What `rxcrew chat` was asked to do. */
export interface ChatArgs {
  url: string;
  /** `--script FILE`: read the lines from FILE (echoed as `you> line`). */
  script?: string;
  /** Sent in `system.init`'s `session_context.initial_variables`. */
  initialVariables: Record<string, string>;
}

export type Command = { kind: 'help'; text: string } | { kind: 'version' } | { kind: 'chat'; args: ChatArgs };

/** Parses `argv` (without `node` and the script path). Throws `UsageError`. */
export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Command {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError('no command given');
  if (first === '-h' || first === '--help') return { kind: 'help', text: USAGE };
  if (first === '-v' || first === '--version') return { kind: 'version' };
  if (first === 'help') {
    if (rest.length === 0) return { kind: 'help', text: USAGE };
    if (rest.length === 1 && rest[0] === 'chat') return { kind: 'help', text: CHAT_USAGE };
    throw new UsageError(`no help for ${rest.join(' ')}`);
  }
  if (first === 'chat') return parseChat(rest, env);
  if (first.startsWith('-')) throw new UsageError(`unknown option ${first}`);
  throw new UsageError(`unknown command ${first}`);
}

function parseChat(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  const vars: Record<string, string> = {};
  let name: string | undefined;
  let script: string | undefined;
  let url: string | undefined;
  let options = true; // false after "--": everything is positional

  const setUrl = (value: string) => {
    if (url !== undefined) throw new UsageError(`more than one URL given (${url}, ${value})`, CHAT_USAGE);
    url = value;
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!options || !arg.startsWith('-') || arg === '-') {
      setUrl(arg);
      continue;
    }
    if (arg === '--') {
      options = false;
      continue;
    }
    if (arg === '-h' || arg === '--help') return { kind: 'help', text: CHAT_USAGE };
    // --flag VALUE or --flag=VALUE
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (flag !== '--script' && flag !== '--name' && flag !== '--var') {
      throw new UsageError(`unknown option ${flag}`, CHAT_USAGE);
    }
    let value: string;
    if (eq !== -1) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`${flag} needs a value`, CHAT_USAGE);
      value = argv[++i];
    }
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
  }

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
