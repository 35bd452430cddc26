import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CrewApp } from 'rxcrew';
import { SCRIPT } from '../../demos/sales-agent/sales-agent';
import { createSetup } from '../../demos/sales-agent/setup';

/*
 * End to end: the demo's setup served by a real CrewApp on a free port, and the
 * demo's text client as a separate process talking to it over a real socket
 * with piped stdin. Every wait is on process output or exit, guarded by a timeout.
 */

const ROOT = join(__dirname, '..', '..');
const CLIENT = join('demos', 'sales-agent', 'client.ts');
const GUARD_MS = 10_000;
const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };

interface Run {
  child: ChildProcess;
  /** Everything the client printed so far. */
  stdout: () => string;
  /** Resolves once `text` appears on the client's stdout. */
  printed: (text: string) => Promise<void>;
  /** Resolves with the exit code and all output once the process has exited. */
  exited: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts the text client (under ts-node, like `npm run demo:client` but without a build). */
function startClient(args: string[]): Run {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', CLIENT, ...args], {
    cwd: ROOT,
    env: { ...process.env, RXCREW_URL: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: Array<() => void> = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of [...watchers]) w();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`client did not exit within ${GUARD_MS} ms; stdout: ${stdout}; stderr: ${stderr}`));
    }, GUARD_MS);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
  const printed = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!stdout.includes(text)) return false;
        watchers.splice(watchers.indexOf(check), 1);
        resolve();
        return true;
      };
      watchers.push(check);
      if (check()) return;
      exited.then(() => reject(new Error(`client exited before printing ${JSON.stringify(text)}; stdout: ${stdout}`)), reject);
    });
  return { child, stdout: () => stdout, printed, exited };
}

/** A port nothing listens on: bind one, then free it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('sales-agent demo, end to end', () => {
  let app: CrewApp;
  let url: string;
  const log = jest.fn<void, [string]>();

  beforeAll(async () => {
    app = new CrewApp({ setup: createSetup({ log }), host: '127.0.0.1', port: 0, logger: quiet });
    const { port } = await app.listen();
    url = `ws://127.0.0.1:${port}/ws`;
  });

  afterAll(() => app.close());

  /** The session of the client started last (earlier ones may still be ending). */
  const newestSession = () => [...app.sessions.values()].pop()!;

  it('greets, answers the scripted questions, and exits 0 after "bye"', async () => {
    const run = startClient([url]);
    run.child.stdin!.write('How much does it cost?\nyes\nWhat features does it have?\nDo you sell bikes?\nbye\n');
    const { code, stdout, stderr } = await run.exited;

    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain("agent: Hi there! I'm Sunny from HelioMax Solar.");
    const answers = [SCRIPT.price, SCRIPT.surveyBooked, SCRIPT.features, SCRIPT.fallback, SCRIPT.goodbye];
    const at = answers.map((text) => stdout.indexOf(`agent: ${text}\n`));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((x, y) => x - y)).toEqual(at); // in the order asked
    expect(stdout).toContain('(the agent ended the call)');
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^User .+ connected!$/));
  });

  it('takes one line at a time from an interactive-style conversation and closes on end of input', async () => {
    const run = startClient(['--name', 'Ada', url]);
    // setup waits for system.init, so the greeting already knows the name
    await run.printed('agent: Hi Ada!');
    run.child.stdin!.write('what is the price?\n');
    await run.printed(`agent: ${SCRIPT.price}\n`);
    // --name travels in system.init's initial_variables into the session's context.
    expect(newestSession().context.get('customer_name')).toBe('Ada');
    run.child.stdin!.write('and the warranty?\n');
    await run.printed(`agent: ${SCRIPT.features}\n`);
    run.child.stdin!.end(); // EOF: the client closes the socket and exits

    const { code, stderr } = await run.exited;
    expect(code).toBe(0);
    expect(stderr).toBe('');
    // The server saw the connection end: the tracker's summary was logged for it.
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/"user_turns":2/));
  });

  it('exits non-zero with one line on stderr when the server closes the connection', async () => {
    const run = startClient([url]);
    await run.printed('agent: Hi there!');
    await newestSession().stop('demo over', 1001);

    const { code, stderr } = await run.exited;
    expect(code).toBe(1);
    expect(stderr).toBe('sales-agent client: the server closed the connection (1001 demo over)\n');
  });

  it('exits non-zero with one line on stderr when nothing listens on the port', async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await startClient([`ws://127.0.0.1:${port}/ws`]).exited;

    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(new RegExp(`^sales-agent client: cannot connect to ws://127\\.0\\.0\\.1:${port}/ws: ECONNREFUSED\\n$`));
  });
});
