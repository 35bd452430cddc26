import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrewClient, say, within } from '../integration/helpers';
import { freePort } from '../support/redis-server';
import { runNode, TsProcess } from './helpers';

/*
 * `rxcrew serve` as a user runs it: the package built (`tsc -p
 * tsconfig.build.json`, into a temporary project's node_modules/rxcrew, its
 * dependencies this checkout's), the built bin, two cluster workers, and a
 * TypeScript app module of the user's that imports 'rxcrew' — which each worker
 * compiles with the ts-node found next to rxcrew (no tsconfig.json in the
 * project: CommonJS). serve.spec.ts covers the command from source.
 */

jest.setTimeout(120_000);

const ROOT = join(__dirname, '..', '..');
const START_MS = 60_000;

const APP = `import { CrewSession, event } from 'rxcrew';

export async function setup(session: CrewSession): Promise<void> {
  session.onEvent('agent.transcript.update', (s, e) => s.send(event('agent.speak', { text: 'you said ' + String(e.content) })));
  await session.start();
}
`;

describe('rxcrew serve, built, with a TypeScript app module', () => {
  let project: string;
  let run: TsProcess | undefined;

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'rxcrew-serve-dist-'));
    const pkg = join(project, 'node_modules', 'rxcrew');
    mkdirSync(pkg, { recursive: true });
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')], { stdio: 'pipe' });
    writeFileSync(join(pkg, 'package.json'), readFileSync(join(ROOT, 'package.json')));
    symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'dir');
    writeFileSync(join(project, 'app.ts'), APP);
  });

  afterAll(async () => {
    if (run !== undefined && run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await within(run.exited, 'rxcrew serve to exit', START_MS).catch(() => undefined);
    }
    if (project !== undefined) rmSync(project, { recursive: true, force: true });
  });

  it('serves the app from two workers and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const bin = join(project, 'node_modules', 'rxcrew', 'dist', 'bin', 'rxcrew.js');
    run = runNode(bin, ['serve', '--workers', '2', '--host', '127.0.0.1', '--port', String(port), 'app.ts'], {
      cwd: project,
      env: { RXCREW_WORKER_ID: 'd', PORT: '', REDIS_URL: '', RXCREW_SECRET: '', RXCREW_LOG_LEVEL: 'info' },
    });
    const listening = /rxcrew listening on http:\/\/127\.0\.0\.1:\d+\/[\s\S]*rxcrew listening on http:\/\/127\.0\.0\.1:\d+\//;
    await within(run.printed(listening, 'stderr'), 'two workers to listen', START_MS);

    const client = await CrewClient.connect(`ws://127.0.0.1:${port}/ws`);
    await client.next('agent.ready');
    client.send(say('hi'));
    expect((await client.next('agent.speak')).text).toBe('you said hi');
    await client.close();

    run.child.kill('SIGTERM');
    const exit = await within(run.exited, 'rxcrew serve to exit after SIGTERM', START_MS);
    expect(exit.code).toBe(0);
    expect(exit.stderr).toMatch(/worker d-1 started \(pid \d+\)/);
    expect(exit.stderr).toMatch(/worker d-2 started \(pid \d+\)/);
  });
});
