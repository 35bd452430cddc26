import { InvalidArgumentError } from './errors';

/** The levels of a record, lowest first (pino's names). */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * What a record carries besides its message (pino's merging object). The runtime
 * sets `session_id`, `node` (a node's name), `event_type` and `err` where it knows them.
 */
export interface LogFields {
  session_id?: string;
  node?: string;
  event_type?: string;
  err?: unknown;
  [field: string]: unknown;
}

/** One level's method, called as pino is: fields first, then the message (or the message alone). */
export interface LogMethod {
  (fields: LogFields, msg?: string): void;
  (msg: string): void;
}

/**
 * Where the runtime writes what it cannot send to a client: a leveled logger
 * called pino-style, `logger.warn({ session_id, node, event_type, err }, 'message')`.
 * A pino instance is one; so is `console` (it prints the fields, then the message).
 * `debug` and `trace` are optional (the runtime skips them when absent); when
 * `child` is there, a session binds its `session_id` with it once.
 */
export interface CrewLogger {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug?: LogMethod;
  trace?: LogMethod;
  fatal?: LogMethod;
  child?(bindings: LogFields): CrewLogger;
}

/** The logger `jsonLogger` makes: every level, `child`, and the threshold in force. */
export interface JsonLogger extends CrewLogger {
  debug: LogMethod;
  trace: LogMethod;
  fatal: LogMethod;
  child(bindings: LogFields): JsonLogger;
  readonly level: LogLevel | 'silent';
}

export interface JsonLoggerOptions {
  /** Records below this level are not written. Default: `RXCREW_LOG_LEVEL` from the environment, else `'info'`. */
  level?: LogLevel | 'silent';
  /** Where each line goes. Default `process.stderr`. */
  stream?: { write(line: string): unknown };
}

const LEVELS: readonly (LogLevel | 'silent')[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const RESERVED = new Set(['level', 'time', 'msg']);
/** How many `cause`s deep an error is serialized. */
const CAUSE_DEPTH = 3;

/**
 * A logger of JSON lines, one per record:
 * `{"level":"warn","time":1733230000000,"msg":"…","session_id":"…","node":"…","event_type":"…"}`,
 * with `err` as `{type, message, stack, code?, cause?}`. Throws
 * `CREW_ERR_INVALID_ARGUMENT` for an unknown level (given, or in `RXCREW_LOG_LEVEL`).
 *
 * @example
 * new CrewApp({ setup, logger: jsonLogger({ level: 'debug' }) });
 */
export function jsonLogger(options: JsonLoggerOptions = {}): JsonLogger {
  const fromEnv = options.level === undefined && process.env.RXCREW_LOG_LEVEL;
  const level = (options.level ?? (fromEnv || 'info')) as LogLevel | 'silent';
  if (!LEVELS.includes(level)) {
    const where = fromEnv ? ' (from RXCREW_LOG_LEVEL)' : '';
    throw new InvalidArgumentError(`jsonLogger: level must be one of ${LEVELS.join(', ')}; got ${JSON.stringify(level)}${where}`);
  }
  return make(level, options.stream ?? process.stderr, {});
}

/** `logger` if it has the three methods the runtime always calls; throws `CREW_ERR_INVALID_ARGUMENT` naming `where` otherwise. */
export function checkedLogger(logger: CrewLogger, where: string): CrewLogger {
  const missing = (['error', 'warn', 'info'] as const).filter((m) => typeof logger?.[m] !== 'function');
  if (missing.length > 0) {
    throw new InvalidArgumentError(`${where}: logger has no ${missing.join(', ')} method; pass a pino instance, console, or jsonLogger()`);
  }
  return logger;
}

let shared: JsonLogger | undefined;

/** The logger sessions and apps use when given none: one `jsonLogger()`, made on first use. */
export function defaultLogger(): JsonLogger {
  return (shared ??= jsonLogger());
}

/**
 * `logger` with `bindings` on every record: its `child` when it has one,
 * else a wrapper that merges them into each call's fields.
 */
export function boundLogger(logger: CrewLogger, bindings: LogFields): CrewLogger {
  if (typeof logger.child === 'function') return logger.child(bindings);
  const bind = (method: LogMethod | undefined): LogMethod | undefined => {
    if (method === undefined) return undefined;
    const call = method as (fields: LogFields, msg?: string) => void;
    return (fields: LogFields | string, msg?: string) => {
      // a message of undefined is not passed on: console would print it
      if (typeof fields === 'string') call.call(logger, { ...bindings }, fields);
      else if (msg === undefined) call.call(logger, { ...bindings, ...fields });
      else call.call(logger, { ...bindings, ...fields }, msg);
    };
  };
  return {
    error: bind(logger.error)!,
    warn: bind(logger.warn)!,
    info: bind(logger.info)!,
    debug: bind(logger.debug),
    trace: bind(logger.trace),
    fatal: bind(logger.fatal),
    child: (more) => boundLogger(logger, { ...bindings, ...more }),
  };
}

function make(threshold: LogLevel | 'silent', stream: { write(line: string): unknown }, bindings: LogFields): JsonLogger {
  const min = LEVELS.indexOf(threshold);
  const method = (level: LogLevel): LogMethod => {
    if (LEVELS.indexOf(level) < min) return () => undefined;
    return (fields: LogFields | string, msg?: string) => stream.write(`${line(level, fields, msg, bindings)}\n`);
  };
  return {
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    child: (more) => make(threshold, stream, { ...bindings, ...more }),
    level: threshold,
  };
}

function line(level: LogLevel, fields: LogFields | string, msg: string | undefined, bindings: LogFields): string {
  const record: Record<string, unknown> = { level, time: Date.now() };
  if (typeof fields === 'string') record.msg = fields;
  else if (msg !== undefined) record.msg = msg;
  for (const source of [bindings, typeof fields === 'object' && fields !== null ? fields : {}]) {
    for (const key of Object.keys(source)) {
      if (RESERVED.has(key) || source[key] === undefined) continue;
      record[key] = key === 'err' ? serializeError(source[key], CAUSE_DEPTH) : source[key];
    }
  }
  try {
    return JSON.stringify(record, jsonSafe);
  } catch {
    // a cycle in the fields: the record without them, rather than no record
    return JSON.stringify({ level, time: record.time, msg: record.msg, ...pick(record, 'session_id', 'node', 'event_type', 'err'), fields_dropped: true }, jsonSafe);
  }
}

/** An error as a record carries it: `{type, message, stack, code?, cause?}`; anything else thrown as `{type, message}`. */
export function serializeError(err: unknown, depth = CAUSE_DEPTH): unknown {
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const out: Record<string, unknown> = { type: err.constructor?.name ?? err.name, message: err.message, stack: err.stack };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.cause !== undefined && depth > 0) out.cause = serializeError(err.cause, depth - 1);
  return out;
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return serializeError(value);
  return value;
}

function pick(record: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (record[k] !== undefined) out[k] = record[k];
  return out;
}
