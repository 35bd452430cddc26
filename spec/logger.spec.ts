import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { map } from 'rxjs';
import { CrewLogger, CrewSession, ErrorCodes, InvalidArgumentError, jsonLogger, LogFields, node } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';
import { boundLogger, serializeError } from '../lib/logger';

/** A stream that keeps what is written, and the records it holds (every line parsed). */
function sink() {
  const chunks: string[] = [];
  return {
    write: (chunk: string) => void chunks.push(chunk),
    text: () => chunks.join(''),
    records: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line, i, all) => line !== '' || i !== all.length - 1) // the text ends with one newline
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('jsonLogger', () => {
  it('writes one JSON object per line: level, time, msg, then the fields', () => {
    const out = sink();
    const log = jsonLogger({ stream: out });
    const before = Date.now();
    log.warn({ session_id: 's1', node: 'agent', event_type: 'agent.speak' }, 'one');
    log.info('two');
    log.error({ count: 2 });

    expect(out.text().endsWith('\n')).toBe(true);
    expect(out.text().split('\n')).toHaveLength(4); // three lines and the end
    const [one, two, three] = out.records();
    expect(Object.keys(one)).toEqual(['level', 'time', 'msg', 'session_id', 'node', 'event_type']);
    expect(one).toEqual({ level: 'warn', time: expect.any(Number), msg: 'one', session_id: 's1', node: 'agent', event_type: 'agent.speak' });
    expect(one.time as number).toBeGreaterThanOrEqual(before);
    expect(one.time as number).toBeLessThanOrEqual(Date.now());
    expect(two).toEqual({ level: 'info', time: expect.any(Number), msg: 'two' });
    expect(three).toEqual({ level: 'error', time: expect.any(Number), count: 2 });
  });

  it('serializes err as {type, message, stack, code}, with its cause', () => {
    const out = sink();
    const cause = new TypeError('underneath');
    const err = Object.assign(new RangeError('on top', { cause }), { code: 'E_TOP' });
    jsonLogger({ stream: out }).error({ err }, 'failed');
    jsonLogger({ stream: out }).error({ err: 'a string was thrown' }, 'failed');

    const [record, thrownString] = out.records();
    expect(record.err).toEqual({
      type: 'RangeError',
      message: 'on top',
      stack: err.stack,
      code: 'E_TOP',
      cause: { type: 'TypeError', message: 'underneath', stack: cause.stack },
    });
    expect(thrownString.err).toEqual({ type: 'string', message: 'a string was thrown' });
    expect(serializeError(new InvalidArgumentError('bad'))).toMatchObject({ type: 'InvalidArgumentError', code: ErrorCodes.INVALID_ARGUMENT });
  });

  it('keeps level, time and msg its own, and still writes a record whose fields cannot be serialized', () => {
    const out = sink();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const log = jsonLogger({ stream: out });
    log.info({ level: 'fatal', msg: 'not this', big: 10n }, 'this');
    log.warn({ session_id: 's', cyclic }, 'with a cycle');

    const [own, dropped] = out.records();
    expect(own).toEqual({ level: 'info', time: expect.any(Number), msg: 'this', big: '10' });
    expect(dropped).toEqual({ level: 'warn', time: expect.any(Number), msg: 'with a cycle', session_id: 's', fields_dropped: true });
  });

  it('writes nothing below its level (default info); silent writes nothing', () => {
    const out = sink();
    const each = (log: CrewLogger & { trace: CrewLogger['info']; debug: CrewLogger['info']; fatal: CrewLogger['info'] }) => {
      for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) log[level]({ n: level }, level);
    };
    each(jsonLogger({ stream: out }));
    expect(out.records().map((r) => r.level)).toEqual(['info', 'warn', 'error', 'fatal']);

    const low = sink();
    each(jsonLogger({ stream: low, level: 'trace' }));
    expect(low.records().map((r) => r.level)).toEqual(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

    const high = sink();
    each(jsonLogger({ stream: high, level: 'error' }));
    expect(high.records().map((r) => r.level)).toEqual(['error', 'fatal']);

    const none = sink();
    each(jsonLogger({ stream: none, level: 'silent' }));
    expect(none.text()).toBe('');
  });

  describe('RXCREW_LOG_LEVEL', () => {
    const saved = process.env.RXCREW_LOG_LEVEL;
    afterEach(() => {
      if (saved === undefined) delete process.env.RXCREW_LOG_LEVEL;
      else process.env.RXCREW_LOG_LEVEL = saved;
    });

    it('sets the level when none is given; a given level wins', () => {
      process.env.RXCREW_LOG_LEVEL = 'debug';
      const out = sink();
      jsonLogger({ stream: out }).debug('shown');
      jsonLogger({ stream: out, level: 'warn' }).info('hidden');
      expect(out.records().map((r) => r.msg)).toEqual(['shown']);
      expect(jsonLogger({ stream: out }).level).toBe('debug');
    });

    it('an unknown level throws CREW_ERR_INVALID_ARGUMENT naming where it came from', () => {
      process.env.RXCREW_LOG_LEVEL = 'loud';
      expect(() => jsonLogger()).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(/"loud" \(from RXCREW_LOG_LEVEL\)/) }));
      expect(() => jsonLogger({ level: 'verbose' as never })).toThrow(/level must be one of trace, debug, info, warn, error, fatal, silent; got "verbose"$/);
    });
  });

  it('child(bindings) adds its bindings to every record, the call fields last', () => {
    const out = sink();
    const child = jsonLogger({ stream: out, level: 'debug' }).child({ session_id: 's1' }).child({ node: 'tts' });
    child.debug({ event_type: 'agent.speak', node: 'override' }, 'bound');
    expect(out.records()).toEqual([{ level: 'debug', time: expect.any(Number), msg: 'bound', session_id: 's1', node: 'override', event_type: 'agent.speak' }]);
    expect(child.level).toBe('debug');
  });
});

describe('what a session does with its logger', () => {
  /** A session whose hook fails on its own report: the one failure a session only logs. */
  async function failHookOnReport(logger: CrewLogger): Promise<CrewSession> {
    const session = new CrewSession({ id: 'log-1', logger });
    session.onEvent('agent.error', () => {
      throw new Error('error hook broke');
    });
    session.onEvent('test.x', () => {
      throw new Error('x hook broke');
    });
    new TestClient(session);
    await session.start();
    session.send({ type: 'test.x' });
    return session;
  }

  it('binds session_id once with child() when the logger has it', async () => {
    const out = sink();
    const base = jsonLogger({ stream: out });
    const child = jest.spyOn(base, 'child');
    await failHookOnReport(base);
    expect(child).toHaveBeenCalledTimes(1);
    expect(child).toHaveBeenCalledWith({ session_id: 'log-1' });
    expect(out.records()).toEqual([
      expect.objectContaining({ level: 'error', session_id: 'log-1', event_type: 'agent.error', pattern: 'agent.error', err: expect.objectContaining({ message: 'error hook broke' }) }),
    ]);
  });

  it('merges session_id into each call for a logger without child, debug or trace', async () => {
    const calls: unknown[][] = [];
    const plain: CrewLogger = { error: (...args: unknown[]) => void calls.push(args), warn: () => undefined, info: () => undefined };
    await failHookOnReport(plain);
    expect(calls).toEqual([[{ session_id: 'log-1', event_type: 'agent.error', pattern: 'agent.error', err: expect.any(Error) }, 'hook "agent.error" failed on "agent.error"']]);

    const bound = boundLogger(plain, { session_id: 'x' });
    expect(bound.debug).toBeUndefined();
    expect(bound.trace).toBeUndefined();
    bound.error('only a message');
    bound.child!({ node: 'n' }).error({ event_type: 't' });
    expect(calls.slice(1)).toEqual([[{ session_id: 'x' }, 'only a message'], [{ session_id: 'x', node: 'n', event_type: 't' }]]);
  });

  it('works with console: the fields are printed, then the message', async () => {
    let printed = '';
    // written synchronously: a Writable calls write() at once when it is not busy
    const out = new Writable({ write: (chunk: Buffer, _encoding, done) => void ((printed += chunk.toString()), done()) });
    const realConsole = new Console({ stdout: out, stderr: out });
    await failHookOnReport(realConsole);
    expect(printed).toMatch(/^\{\n? *session_id: 'log-1',[\s\S]*event_type: 'agent\.error'[\s\S]*error hook broke[\s\S]*\} hook "agent\.error" failed on "agent\.error"\n$/);
  });

  it('refuses a logger without error, warn or info (CREW_ERR_INVALID_ARGUMENT)', () => {
    const noWarn = { error: () => undefined, info: () => undefined } as unknown as CrewLogger;
    expect(() => new CrewSession({ logger: noWarn })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(/CrewSession: logger has no warn method/) }));
  });

  it('logs a failing node with its name and the event it was given', async () => {
    const calls: Array<[LogFields, string]> = [];
    const keep = (fields: LogFields | string, msg?: string) => void calls.push([fields as LogFields, msg!]);
    const session = new CrewSession({ id: 'log-2', logger: { error: keep, warn: keep, info: keep } });
    session.addNode(
      node(
        'picky',
        map((e) => {
          if (e.type === 'agent.transcript.update') throw new Error('picky broke');
          return e;
        }),
      ),
    );
    const client = new TestClient(session);
    await session.start();
    client.send({ type: 'agent.transcript.update', role: 'user', content: 'hi' });
    expect(calls).toEqual([[{ session_id: 'log-2', node: 'picky', event_type: 'agent.transcript.update', err: expect.objectContaining({ message: 'picky broke' }) }, 'node "picky" failed']]);
  });
});
