import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { within } from '../integration/helpers';
import { STORY_START } from './fixtures/agent';
import { closedPort, ROOT, runTs, TsProcess } from './helpers';

/*
 * End to end, two processes: the test agent's server (spec/cli/fixtures/server.ts)
 * and the `rxcrew` command itself (bin/rxcrew.ts), both under ts-node, so no build
 * is needed. The server prints one "got <event>" line per client-side event.
 */

const BIN = join('bin', 'rxcrew.ts');
const rxcrew = (...args: string[]) => runTs(BIN, args);

describe('rxcrew (the command)', () => {
  let server: TsProcess;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    server = runTs(join('spec', 'cli', 'fixtures', 'server.ts'), [], { env: { PORT: '0' }, guardMs: false });
    const match = await server.printed(/listening (\d+)\n/);
    url = `ws://127.0.0.1:${match![1]}/ws`;
    dir = mkdtempSync(join(tmpdir(), 'rxcrew-cli-'));
  });

  afterAll(async () => {
    server.child.kill('SIGTERM');
    await within(server.exited, 'the fixture server to exit after SIGTERM', 10_000);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The lines the server logs for one conversation, from its handshake on. */
  const serverSaw = (...lines: string[]) => server.printed(['got system.user.joined', 'got system.init', ...lines].map((l) => `${l}\n`).join(''));

  function script(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  it('runs a --script conversation, echoing each line, and exits 0 after the last reply', async () => {
    const file = script('talk.txt', 'hi there\n\nwhat now\n');
    const { code, stdout, stderr } = await rxcrew('chat', '--script', file, '--name', 'Ada', url).exited;

    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe('agent: Hello Ada!\nyou> hi there\nagent: You said: hi there\nyou> what now\nagent: You said: what now\n');
    await serverSaw(
      'got agent.transcript.update user: hi there',
      'got system.llm.request',
      'got agent.transcript.update assistant: You said: hi there',
      'got agent.transcript.update user: what now',
      'got system.llm.request',
      'got agent.transcript.update assistant: You said: what now',
      'got system.user.left 1000',
    );
  });

  it('stops a script when the agent ends the call', async () => {
    const file = script('bye.txt', 'bye\nnever sent\n');
    const { code, stdout } = await rxcrew('chat', '--script', file, url).exited;
    expect(code).toBe(0);
    expect(stdout).toBe('agent: Hello there!\nyou> bye\nagent: Goodbye!\n(the agent ended the call)\n');
  });

  it('reads piped stdin like a script, and SIGINT interrupts the reply in flight', async () => {
    const run = rxcrew('chat', url);
    run.child.stdin!.write('tell me a story\n');
    await run.printed(STORY_START);
    run.child.kill('SIGINT');
    await run.printed('(interrupted)\n');
    run.child.stdin!.write('hi\n');
    await run.printed('You said: hi\n');
    run.child.stdin!.end();

    const { code, stdout, stderr } = await run.exited;
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toBe(`agent: Hello there!\nagent: ${STORY_START} (interrupted)\nagent: You said: hi\n`);
    await serverSaw(
      'got agent.transcript.update user: tell me a story',
      'got system.llm.request',
      'got system.control.interrupt',
      `got agent.transcript.update assistant: ${STORY_START}`,
      'got agent.transcript.update user: hi',
    );
  });

  it('closes with 1000 and exits 0 on SIGINT with no reply in flight', async () => {
    const run = rxcrew('chat', '--name', 'Idle', url);
    await run.printed('agent: Hello Idle!\n');
    run.child.kill('SIGINT');
    const { code, stderr } = await run.exited;
    expect(code).toBe(0);
    expect(stderr).toBe('');
    await serverSaw('got system.user.left 1000');
  });

  it('exits 1 with exactly one line on stderr, and no stack trace, when the server is unreachable', async () => {
    const port = await closedPort();
    const { code, stdout, stderr } = await rxcrew('chat', `ws://127.0.0.1:${port}/ws`).exited;
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe(`rxcrew: cannot connect to ws://127.0.0.1:${port}/ws: ECONNREFUSED\n`);
  });

  it('exits 2 with the usage on stderr for an unknown option or command', async () => {
    const option = await rxcrew('chat', '--bogus', url).exited;
    expect(option.code).toBe(2);
    expect(option.stdout).toBe('');
    expect(option.stderr).toMatch(/^rxcrew: unknown option --bogus\n\nUsage: rxcrew chat \[options\] \[URL\]\n/);

    const command = await rxcrew('talk').exited;
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/^rxcrew: unknown command talk\n\nUsage: rxcrew <command>/);
  });

  it('exits 2 with one line when the script cannot be read', async () => {
    const missing = join(dir, 'missing.txt');
    const { code, stderr } = await rxcrew('chat', '--script', missing, url).exited;
    expect(code).toBe(2);
    expect(stderr).toBe(`rxcrew: cannot read script ${missing}: ENOENT\n`);
  });

  it('prints the usage and the version on stdout, exit 0', async () => {
    const help = await rxcrew('chat', '--help').exited;
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: rxcrew chat/);
    expect(help.stdout).toMatch(/Exit codes: 0 done, 1 connection or server problem, 2 usage error\./);

    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
    const version = await rxcrew('--version').exited;
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    // the installed command: package.json bin → the compiled script, which keeps the shebang
    expect(pkg.bin).toEqual({ rxcrew: 'dist/bin/rxcrew.js' });
    expect(readFileSync(join(ROOT, BIN), 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });
});
