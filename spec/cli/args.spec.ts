import { CHAT_USAGE, DEFAULT_URL, parseArgs, USAGE, UsageError } from '../../lib/cli/args';

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
});
