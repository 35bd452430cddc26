import { get } from 'node:http';
import { createServer, Server } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CrewClient, say, within } from '../integration/helpers';
import { freePort } from '../support/redis-server';
import { echoChunks } from './fixtures/agent';
import { runTs, TsProcess } from './helpers';

/*
 * `rxcrew serve` as real processes: bin/rxcrew.ts under ts-node, serving the app
 * modules in spec/cli/fixtures on 127.0.0.1, with one worker (in the rxcrew
 * process) or a cluster of two. Every wait is for output, an exit or an answer,
 * bounded by `within`; no Redis (REDIS_URL is cleared).
 */

jest.setTimeout(60_000);

const BIN = join('bin', 'rxcrew.ts');
/** Workers compile the runtime under ts-node before they listen: seconds, not milliseconds. */
const START_MS = 30_000;
const fixture = (name: string) => join('spec', 'cli', 'fixtures', name);

const running: TsProcess[] = [];

afterEach(async () => {
  // a failed test must not leave a server behind (its workers exit with the primary's IPC channel)
  for (const run of running.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await within(run.exited, 'a leftover rxcrew serve to exit', START_MS).catch(() => undefined);
  }
});

function serve(args: string[], env: NodeJS.ProcessEnv = {}): TsProcess {
  const run = runTs(BIN, ['serve', '--host', '127.0.0.1', ...args], {
    env: { RXCREW_WORKER_ID: 'w', PORT: '', REDIS_URL: '', RXCREW_SECRET: '', RXCREW_LOG_LEVEL: 'info', ...env },
    guardMs: false,
  });
  running.push(run);
  return run;
}

/** Resolves once `count` workers (or the one app) have logged that they listen. */
function listening(run: TsProcess, count = 1): Promise<unknown> {
  const lines = new RegExp(Array(count).fill('rxcrew listening on http://127\\.0\\.0\\.1:\\d+/').join('[\\s\\S]*'));
  return within(run.printed(lines, 'stderr'), `${count} "rxcrew listening" line(s)`, START_MS);
}

function printed(run: TsProcess, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  return within(run.printed(pattern, 'stderr'), what, START_MS) as Promise<RegExpMatchArray>;
}

/** `GET path` on a fresh connection (no keep-alive agent: the cluster picks a worker per connection). */
function httpGet(port: number, path = '/'): Promise<{ status: number; body: string }> {
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  return within(answer, `GET http://127.0.0.1:${port}${path}`);
}

/** The `worker` ids answering `GET /`, asked until `want` distinct ones are seen (40 requests at most). */
async function workersSeen(port: number, want: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 40 && seen.size < want; i++) seen.add((JSON.parse((await httpGet(port)).body) as { worker: string }).worker);
  return seen;
}

/** A WebSocket session: agent.ready, then one turn answered by the test agent. */
async function converse(url: string): Promise<void> {
  const client = await CrewClient.connect(url);
  try {
    await client.next('agent.ready', START_MS);
    client.send(say('hi'));
    client.send({ type: 'system.llm.request' });
    await client.next('agent.llm.response.end');
    const chunks = client.events.filter((e) => e.type === 'agent.llm.response.chunk').map((e) => e.text);
    expect(chunks).toEqual(echoChunks('hi'));
  } finally {
    await client.close();
  }
}

async function stopped(run: TsProcess, signal: NodeJS.Signals = 'SIGTERM') {
  run.child.kill(signal);
  return within(run.exited, `rxcrew serve to exit after ${signal}`, START_MS);
}

/** The pid each worker id was (last) started with, from the primary's log. */
function startedPids(stderr: string): Map<string, number> {
  return new Map([...stderr.matchAll(/worker (\S+) started \(pid (\d+)\)/g)].map((m) => [m[1], Number(m[2])]));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('rxcrew serve, one worker (in the rxcrew process)', () => {
  it('serves a .ts module with a named setup on $PORT, and closes with 0 on SIGTERM', async () => {
    const port = await freePort();
    const run = serve([fixture('serve-named.ts')], { PORT: String(port) });
    await listening(run);

    expect(JSON.parse((await httpGet(port)).body)).toMatchObject({ status: 'ok', ready: true, worker: 'w' });
    await converse(`ws://127.0.0.1:${port}/ws`);
    const { code, stderr } = await stopped(run);
    expect(stderr).toMatch(/"msg":"SIGTERM, (closing|draining) /); // CrewApp.run() took it
    expect(stderr).not.toContain('worker w-1'); // no cluster
    expect(stderr).not.toContain('still runs'); // nothing left behind: it exited by itself
    expect(code).toBe(0);
  });

  it('exits after its app has closed even when the module left an interval running, and says so', async () => {
    const port = await freePort();
    const run = serve([fixture('serve-leftover.ts'), '--port', String(port)]);
    await listening(run);
    await converse(`ws://127.0.0.1:${port}/ws`);
    const { code, stderr } = await stopped(run);
    expect(stderr).toContain('rxcrew: the app has closed but something it started still runs (a timer, a socket); exiting after 2000 ms');
    expect(code).toBe(0);
  });

  it('serves a module whose default export is the setup function (--port wins over $PORT)', async () => {
    const port = await freePort();
    const run = serve(['--port', String(port), fixture('serve-default.ts')], { PORT: '1' });
    await listening(run);
    await converse(`ws://127.0.0.1:${port}/ws`);
    expect((await stopped(run)).code).toBe(0);
  });

  it('serves a default export { setup, ...options } with those options', async () => {
    const port = await freePort();
    const run = serve(['--port', String(port), fixture('serve-options.ts')]);
    await listening(run);

    expect(await httpGet(port, '/hello')).toEqual({ status: 200, body: 'hello from the module' });
    await converse(`ws://127.0.0.1:${port}/crew`);
    await expect(CrewClient.connect(`ws://127.0.0.1:${port}/ws`)).rejects.toThrow('upgrade refused: 404');
    expect((await stopped(run, 'SIGINT')).code).toBe(0);
  });

  it('serves a CommonJS .js module (module.exports = setup)', async () => {
    const port = await freePort();
    const run = serve(['--port', String(port), fixture('serve-cjs.js')]);
    await listening(run);
    await converse(`ws://127.0.0.1:${port}/ws`);
    expect((await stopped(run)).code).toBe(0);
  });

  it.each([[[]], [['--workers', '2']]])('refuses a FILE that exports no setup function (%j): exit 2, no worker started', async (extra) => {
    const { code, stderr } = await within(serve([...extra, fixture('serve-no-setup.ts')]).exited, 'rxcrew serve to exit', START_MS);
    expect(stderr).toContain('rxcrew: spec/cli/fixtures/serve-no-setup.ts exports no setup function (expected export function setup(session)');
    expect(stderr).not.toMatch(/started|listening/);
    expect(code).toBe(2);
  });

  it('refuses a FILE that does not exist: exit 2', async () => {
    const { code, stderr } = await within(serve([fixture('serve-missing.ts')]).exited, 'rxcrew serve to exit', START_MS);
    expect(stderr).toBe('rxcrew: cannot read spec/cli/fixtures/serve-missing.ts: ENOENT\n');
    expect(code).toBe(2);
  });
});

describe('rxcrew serve --workers 2', () => {
  let blocker: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
    blocker = undefined;
  });

  it('runs two workers on one port (ids HOST-PID-1 and -2 of the primary by default) serving sessions, and passes SIGTERM on', async () => {
    const port = await freePort();
    const run = serve(['--workers', '2', '--port', String(port), fixture('serve-options.ts')], { RXCREW_WORKER_ID: '' });
    await listening(run, 2);
    const base = `${hostname()}-${run.child.pid}`;
    const pids = startedPids((await printed(run, /worker \S+-1 started[\s\S]*worker \S+-2 started/, 'both starts')).input!);
    expect([...pids.keys()].sort()).toEqual([`${base}-1`, `${base}-2`]);

    expect(await workersSeen(port, 2)).toEqual(new Set([`${base}-1`, `${base}-2`]));
    await Promise.all([1, 2, 3, 4].map(() => converse(`ws://127.0.0.1:${port}/crew`)));

    const { code, stderr } = await stopped(run);
    expect(stderr).toContain('SIGTERM: passing it on to 2 worker(s)');
    expect(stderr.match(/"msg":"SIGTERM, (closing|draining) /g)).toHaveLength(2); // each worker's CrewApp.run() took it once
    expect(stderr).toContain(`worker ${base}-1 exited (code 0)`);
    expect(stderr).toContain(`worker ${base}-2 exited (code 0)`);
    expect([...pids.values()].filter(alive)).toEqual([]);
    expect(code).toBe(0);
  });

  it('counts a Ctrl-C that reached the workers too (the terminal signals the whole group) once, whichever copy comes first', async () => {
    const port = await freePort();
    const run = serve(['--workers', '2', '--port', String(port), fixture('serve-options.ts')]);
    await listening(run, 2);
    const pids = startedPids((await printed(run, /worker w-1 started[\s\S]*worker w-2 started/, 'both starts')).input!);
    // sessions whose clients do not read the close: each worker is still closing when the primary's word arrives
    const clients: CrewClient[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const client = await CrewClient.connect(`ws://127.0.0.1:${port}/crew`);
        clients.push(client);
        await client.next('agent.ready', START_MS);
        client.socket.pause();
      }
      // the primary first: its word over IPC may reach a worker before the worker's own copy
      for (const pid of [run.child.pid!, ...pids.values()]) process.kill(pid, 'SIGINT');
      const { code, stderr } = await within(run.exited, 'rxcrew serve to exit after SIGINT', START_MS);
      expect(stderr).not.toContain('SIGINT again');
      expect(stderr.match(/"msg":"SIGINT, closing \d+ session\(s\)"/g)).toHaveLength(2);
      expect(stderr).toContain('worker w-1 exited (code 0)');
      expect(stderr).toContain('worker w-2 exited (code 0)');
      expect(code).toBe(0);
    } finally {
      for (const client of clients) client.terminate();
    }
  });

  it('starts a killed worker again with the same id', async () => {
    const port = await freePort();
    const run = serve(['--workers', '2', '--port', String(port), fixture('serve-named.ts')]);
    await listening(run, 2);
    const first = startedPids((await printed(run, /worker w-1 started[\s\S]*worker w-2 started/, 'both starts')).input!);
    const old = first.get('w-1')!;

    process.kill(old, 'SIGKILL');
    await printed(run, new RegExp(`worker w-1 \\(pid ${old}\\) exited \\(signal SIGKILL\\); starting it again`), 'the restart warning');
    const again = await printed(run, /worker w-1 started \(pid \d+\)[\s\S]*worker w-1 started \(pid (\d+)\)/, 'w-1 started again');
    expect(Number(again[1])).not.toBe(old);
    expect(alive(old)).toBe(false);
    await listening(run, 3);

    expect(await workersSeen(port, 2)).toEqual(new Set(['w-1', 'w-2']));
    expect((await stopped(run)).code).toBe(0);
  });

  it('stops with 1 when a worker cannot start (the port is taken), instead of starting it again and again', async () => {
    const port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(port, '127.0.0.1', resolve));

    const { code, stderr } = await within(serve(['--workers', '2', '--port', String(port), fixture('serve-named.ts')]).exited, 'rxcrew serve to give up', START_MS);
    expect(stderr).toContain('EADDRINUSE');
    expect(stderr).toMatch(/worker w-\d exited \(code 1\) before it was listening; stopping/);
    expect(stderr).not.toContain('starting it again');
    expect(code).toBe(1);
  });

  it('exits 1 when the port is taken with one worker too', async () => {
    const port = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(port, '127.0.0.1', resolve));

    const { code, stderr } = await within(serve(['--port', String(port), fixture('serve-named.ts')]).exited, 'rxcrew serve to exit', START_MS);
    expect(stderr).toContain(`rxcrew: cannot serve spec/cli/fixtures/serve-named.ts: listen EADDRINUSE: address already in use 127.0.0.1:${port}`);
    expect(code).toBe(1);
  });
});
