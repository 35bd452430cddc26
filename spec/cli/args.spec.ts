import { CALL_USAGE, CHAT_USAGE, DEFAULT_URL, parseArgs, SERVE_USAGE, USAGE, UsageError } from '../../lib/cli/args';

/** The UsageError `fn` throws (fails the test if it throws nothing or something else). */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('parseArgs', () => {
  it('parses "chat" with defaults', () => {
    expect(parseArgs(['chat'])).toEqual({ kind: 'chat', args: { url: DEFAULT_URL, script: undefined, initialVariables: {} } });
  });

  it('takes the URL from the arguments, else $RXCREW_URL, else the default', () => {
    const env = { RXCREW_URL: 'ws://env.test:1/ws' };
    expect(parseArgs(['chat', 'ws://a.test:9000/ws'], env)).toMatchObject({ args: { url: 'ws://a.test:9000/ws' } });
    expect(parseArgs(['chat'], env)).toMatchObject({ args: { url: 'ws://env.test:1/ws' } });
    expect(parseArgs(['chat'], { RXCREW_URL: '' })).toMatchObject({ args: { url: DEFAULT_URL } });
  });

  it('reads --script, --name and repeated --var, in both spellings', () => {
    const command = parseArgs(['chat', '--script', 'talk.txt', '--var', 'plan=pro', '--var=note=a=b', '--name=Ada', 'wss://x.test/ws']);
    expect(command).toEqual({
      kind: 'chat',
      args: { url: 'wss://x.test/ws', script: 'talk.txt', initialVariables: { plan: 'pro', note: 'a=b', customer_name: 'Ada' } },
    });
  });

  it('lets --name win over --var customer_name', () => {
    const command = parseArgs(['chat', '--name', 'Ada', '--var', 'customer_name=Bob']);
    expect(command).toMatchObject({ args: { initialVariables: { customer_name: 'Ada' } } });
  });

  it('treats everything after "--" as the URL', () => {
    expect(parseArgs(['chat', '--', 'ws://h.test/ws'])).toMatchObject({ args: { url: 'ws://h.test/ws' } });
  });

  it('maps http(s) URLs to ws(s)', () => {
    expect(parseArgs(['chat', 'http://h.test:8080/ws'])).toMatchObject({ args: { url: 'ws://h.test:8080/ws' } });
    expect(parseArgs(['chat', 'https://h.test/ws'])).toMatchObject({ args: { url: 'wss://h.test/ws' } });
  });

  it('answers --help, help and --version', () => {
    expect(parseArgs(['--help'])).toEqual({ kind: 'help', text: USAGE });
    expect(parseArgs(['-h'])).toEqual({ kind: 'help', text: USAGE });
    expect(parseArgs(['help'])).toEqual({ kind: 'help', text: USAGE });
    expect(parseArgs(['help', 'chat'])).toEqual({ kind: 'help', text: CHAT_USAGE });
    expect(parseArgs(['chat', '--help'])).toEqual({ kind: 'help', text: CHAT_USAGE });
    expect(parseArgs(['chat', '--name', 'x', '-h'])).toEqual({ kind: 'help', text: CHAT_USAGE });
    expect(parseArgs(['--version'])).toEqual({ kind: 'version' });
    expect(parseArgs(['-v'])).toEqual({ kind: 'version' });
  });

  it.each([
    [[], 'no command given', USAGE],
    [['talk'], 'unknown command talk', USAGE],
    [['--verbose'], 'unknown option --verbose', USAGE],
    [['help', 'talk'], 'no help for talk', USAGE],
    [['chat', '--bogus'], 'unknown option --bogus', CHAT_USAGE],
    [['chat', '--bogus=1'], 'unknown option --bogus', CHAT_USAGE],
    [['chat', '--script'], '--script needs a value', CHAT_USAGE],
    [['chat', '--script='], '--script needs a file name', CHAT_USAGE],
    [['chat', '--name'], '--name needs a value', CHAT_USAGE],
    [['chat', '--var', 'plan'], '--var needs KEY=VALUE, got "plan"', CHAT_USAGE],
    [['chat', '--var', '=pro'], '--var needs KEY=VALUE, got "=pro"', CHAT_USAGE],
    [['chat', 'ws://a.test/ws', 'ws://b.test/ws'], 'more than one URL given (ws://a.test/ws, ws://b.test/ws)', CHAT_USAGE],
    [['chat', 'localhost:8080'], 'URL must start with ws:// or wss://, got "localhost:8080"', CHAT_USAGE],
    [['chat', 'not a url'], 'invalid URL "not a url" (expected e.g. ws://localhost:8080/ws)', CHAT_USAGE],
  ])('refuses %j: %s', (argv, message, usage) => {
    const err = usageError(() => parseArgs(argv));
    expect(err.message).toBe(message);
    expect(err.usage).toBe(usage);
  });

  it.each([
    ['call', CALL_USAGE, ['--twilio', 'nonsense'], 'call --twilio URL'],
    ['serve', SERVE_USAGE, ['--workers', 'many'], 'serve FILE'],
  ])('answers help %s and its --help, also after bad options', (command, usage, bad, listed) => {
    expect(parseArgs(['help', command])).toEqual({ kind: 'help', text: usage });
    expect(parseArgs([command, '--help'])).toEqual({ kind: 'help', text: usage });
    expect(parseArgs([command, ...bad, '-h'])).toEqual({ kind: 'help', text: usage });
    expect(USAGE).toContain(listed);
  });

  describe('call', () => {
    it('parses --twilio with the defaults', () => {
      expect(parseArgs(['call', '--twilio', 'ws://127.0.0.1:8080/twilio'])).toEqual({
        kind: 'call',
        args: { twilio: 'ws://127.0.0.1:8080/twilio', delay: 0, dtmf: '', customParameters: {}, quiet: 3, hangupAfter: 300 },
      });
    });

    it('reads every option, in both spellings, --param and --dtmf repeated', () => {
      const argv = ['call', '--twilio=wss://x.test/twilio', '--wav', 'hi.wav', '--delay=1.5', '--dtmf', '12', '--dtmf=#'];
      argv.push('--param', 'from=+1555', '--param=note=a=b', '--out', 'heard.wav', '--quiet', '0', '--hangup-after=60');
      expect(parseArgs(argv)).toEqual({
        kind: 'call',
        args: {
          twilio: 'wss://x.test/twilio',
          wav: 'hi.wav',
          delay: 1.5,
          dtmf: '12#',
          customParameters: { from: '+1555', note: 'a=b' },
          out: 'heard.wav',
          quiet: 0,
          hangupAfter: 60,
        },
      });
    });

    it.each([
      [['call'], 'call needs --twilio URL (e.g. ws://localhost:8080/twilio)'],
      [['call', '--wav', 'a.wav'], 'call needs --twilio URL (e.g. ws://localhost:8080/twilio)'],
      [['call', '--twilio'], '--twilio needs a value'],
      [['call', '--twilio', 'http://x.test/twilio'], '--twilio needs a ws:// or wss:// URL (e.g. ws://localhost:8080/twilio), got "http://x.test/twilio"'],
      [['call', '--twilio', 'not a url'], '--twilio needs a ws:// or wss:// URL (e.g. ws://localhost:8080/twilio), got "not a url"'],
      [['call', '--twilio', 'ws://a.test', '--twilio', 'ws://b.test'], '--twilio given twice (ws://a.test, ws://b.test)'],
      [['call', 'ws://a.test/twilio'], 'unexpected argument "ws://a.test/twilio" (the URL goes after --twilio)'],
      [['call', '--twilio', 'ws://a.test', '--bogus'], 'unknown option --bogus'],
      [['call', '--twilio', 'ws://a.test', '--wav='], '--wav needs a file name'],
      [['call', '--twilio', 'ws://a.test', '--out', ''], '--out needs a file name'],
      [['call', '--twilio', 'ws://a.test', '--dtmf', '12a'], '--dtmf takes the keys 0-9, * and #, got "12a"'],
      [['call', '--twilio', 'ws://a.test', '--param', 'from'], '--param needs KEY=VALUE, got "from"'],
      [['call', '--twilio', 'ws://a.test', '--quiet', '-1'], '--quiet needs a number of seconds ≥ 0, got "-1"'],
      [['call', '--twilio', 'ws://a.test', '--delay', 'soon'], '--delay needs a number of seconds ≥ 0, got "soon"'],
      [['call', '--twilio', 'ws://a.test', '--hangup-after', '0'], '--hangup-after needs a number of seconds > 0, got "0"'],
    ])('refuses %j: %s', (argv, message) => {
      const err = usageError(() => parseArgs(argv));
      expect(err.message).toBe(message);
      expect(err.usage).toBe(CALL_USAGE);
    });
  });
  describe('serve', () => {
    it('parses FILE with the defaults: one worker, port and host left to the module', () => {
      expect(parseArgs(['serve', 'app.ts'])).toEqual({ kind: 'serve', args: { file: 'app.ts', workers: 1 } });
      expect(parseArgs(['serve', 'dist/app.js'])).toMatchObject({ args: { file: 'dist/app.js' } });
      expect(parseArgs(['serve', 'app.cjs'])).toMatchObject({ args: { file: 'app.cjs' } });
    });

    it('reads --workers, --port and --host, in both spellings, before or after FILE', () => {
      expect(parseArgs(['serve', '--workers', '4', 'app.ts', '--port=3000', '--host', '127.0.0.1'])).toEqual({
        kind: 'serve',
        args: { file: 'app.ts', workers: 4, port: 3000, host: '127.0.0.1' },
      });
      expect(parseArgs(['serve', '--workers=2', '--port', '0', '--', '--odd.ts'])).toEqual({ kind: 'serve', args: { file: '--odd.ts', workers: 2, port: 0 } });
    });

    it('takes the port from --port, else $PORT', () => {
      expect(parseArgs(['serve', 'app.ts'], { PORT: '9000' })).toMatchObject({ args: { port: 9000 } });
      expect(parseArgs(['serve', '--port', '9001', 'app.ts'], { PORT: '9000' })).toMatchObject({ args: { port: 9001 } });
      expect(parseArgs(['serve', 'app.ts'], { PORT: '' })).toEqual({ kind: 'serve', args: { file: 'app.ts', workers: 1 } });
      // a bad $PORT does not matter when --port is given
      expect(parseArgs(['serve', '--port', '9001', 'app.ts'], { PORT: 'x' })).toMatchObject({ args: { port: 9001 } });
    });

    it.each([
      [['serve'], 'serve needs FILE, the app module (e.g. rxcrew serve app.ts)'],
      [['serve', '--workers', '2'], 'serve needs FILE, the app module (e.g. rxcrew serve app.ts)'],
      [['serve', ''], 'serve needs FILE, the app module (e.g. rxcrew serve app.ts)'],
      [['serve', 'a.ts', 'b.ts'], 'more than one FILE given (a.ts, b.ts)'],
      [['serve', 'app.mjs'], 'FILE must be a .js or .ts module, got "app.mjs"'],
      [['serve', 'app'], 'FILE must be a .js or .ts module, got "app"'],
      [['serve', '--workers', '0', 'app.ts'], '--workers needs a whole number ≥ 1, got "0"'],
      [['serve', '--workers', '-1', 'app.ts'], '--workers needs a whole number ≥ 1, got "-1"'],
      [['serve', '--workers', '1.5', 'app.ts'], '--workers needs a whole number ≥ 1, got "1.5"'],
      [['serve', '--workers=', 'app.ts'], '--workers needs a whole number ≥ 1, got ""'],
      [['serve', '--workers', 'two', 'app.ts'], '--workers needs a whole number ≥ 1, got "two"'],
      [['serve', 'app.ts', '--workers'], '--workers needs a value'],
      [['serve', '--port', '65536', 'app.ts'], '--port needs a port from 0 to 65535, got "65536"'],
      [['serve', '--port', '-1', 'app.ts'], '--port needs a port from 0 to 65535, got "-1"'],
      [['serve', '--port', 'http', 'app.ts'], '--port needs a port from 0 to 65535, got "http"'],
      [['serve', '--port', '80.5', 'app.ts'], '--port needs a port from 0 to 65535, got "80.5"'],
      [['serve', '--host=', 'app.ts'], '--host needs a host name or address'],
      [['serve', '--bogus', 'app.ts'], 'unknown option --bogus'],
    ])('refuses %j: %s', (argv, message) => {
      const err = usageError(() => parseArgs(argv));
      expect(err.message).toBe(message);
      expect(err.usage).toBe(SERVE_USAGE);
    });

    it('refuses a bad $PORT when no --port is given', () => {
      const err = usageError(() => parseArgs(['serve', 'app.ts'], { PORT: 'eighty' }));
      expect(err.message).toBe('$PORT needs a port from 0 to 65535, got "eighty"');
    });
  });
});
