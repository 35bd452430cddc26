import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, runTs, TsProcess } from '../cli/helpers';
import { SCRIPT } from '../../demos/sales-agent/sales-agent';

/*
 * End to end, two processes: the sales-agent demo server (demos/sales-agent/server.ts,
 * run under ts-node with 'rxcrew' resolved to the sources) and `rxcrew chat`
 * (bin/rxcrew.ts) talking to it over a real socket. Every wait is on process
 * output or exit, guarded by a timeout.
 */

const SERVER = join('demos', 'sales-agent', 'server.ts');
const CLI = join('bin', 'rxcrew.ts');
const REGISTER = './spec/support/register-rxcrew.js';

function script(lines: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rxcrew-')), 'talk.txt');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

describe('sales-agent demo with rxcrew chat, end to end', () => {
  let server: TsProcess;
  let url: string;

  beforeAll(async () => {
    // no model keys: the demo must use its embedded script
    server = runTs(SERVER, [], {
      require: [REGISTER],
      guardMs: false,
      env: { PORT: '0', HOST: '127.0.0.1', OPENAI_API_KEY: '', OPENAI_BASE_URL: '' },
    });
    const match = await server.printed(/listening on http:\/\/127\.0\.0\.1:(\d+)\//, 'stderr');
    url = `ws://127.0.0.1:${match![1]}/ws`;
  });

  afterAll(async () => {
    server.child.kill('SIGTERM');
    const { code, stderr } = await server.exited;
    expect(code).toBe(0); // drained (no call left) and closed on SIGTERM
    expect(stderr).toContain('SIGTERM, draining 0 session(s)'); // logged by the default logger
  });

  it('greets by name, answers the scripted questions in order, and exits 0 after the agent ends the call', async () => {
    const talk = script(['How much does it cost?', 'yes', 'What features does it have?', 'Do you sell bikes?', 'bye']);
    const { code, stdout, stderr } = await runTs(CLI, ['chat', '--name', 'Ada', '--script', talk, url]).exited;

    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain("Hi Ada! I'm Sunny from HelioMax Solar.");
    const answers = [SCRIPT.price, SCRIPT.surveyBooked, SCRIPT.features, SCRIPT.fallback, SCRIPT.goodbye];
    const at = answers.map((text) => stdout.indexOf(text));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((x, y) => x - y)).toEqual(at); // in the order asked
    expect(stdout.indexOf('ended the call')).toBeGreaterThan(at[4]); // after the goodbye was heard
    expect(server.stdout()).toMatch(/User .+ connected!/);
  });

  it('serves several clients at once, each with its own conversation', async () => {
    const runs = ['Ann', 'Bob', 'Cy'].map((name) => runTs(CLI, ['chat', '--name', name, '--script', script(['yes', 'price?', 'yes']), url]));
    const results = await Promise.all(runs.map((r) => r.exited));
    results.forEach(({ code, stdout }, i) => {
      expect(code).toBe(0);
      expect(stdout).toContain(`Hi ${['Ann', 'Bob', 'Cy'][i]}!`);
      // the first "yes" came before any offer: only the second books the survey
      expect(stdout.indexOf(SCRIPT.fallback)).toBeLessThan(stdout.indexOf(SCRIPT.surveyBooked));
    });
  });

  it('exits 1 with one line on stderr when nothing listens', async () => {
    const port = await closedPort();
    const { code, stderr } = await runTs(CLI, ['chat', `ws://127.0.0.1:${port}/ws`]).exited;
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
