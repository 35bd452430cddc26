import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../support/redis-server';
import { echoNode, Harness, say, silentLogger, within } from './helpers';

interface QueryResult {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/**
 * Asks Prometheus's HTTP API for `query` until `accept` takes the answer.
 * Prometheus scrapes on its own clock, so this asks again (every 200 ms) — bounded by `within`.
 */
async function queryUntil(base: string, query: string, accept: (r: QueryResult) => boolean): Promise<QueryResult> {
  let stopped = false;
  const ask = async (): Promise<QueryResult> => {
    while (!stopped) {
      try {
        const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(query)}`);
        if (res.ok) {
          const body = (await res.json()) as QueryResult;
          if (accept(body)) return body;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error('stopped');
  };
  try {
    return await within(ask(), `Prometheus to answer ${query}`, 40_000);
  } finally {
    stopped = true;
  }
}

describe('a real Prometheus server scraping the app', () => {
  const h = new Harness();
  let prometheus: ChildProcess | undefined;
  let dir: string | undefined;
  let output = '';

  afterEach(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await within(exited, 'prometheus to exit', 15_000);
    }
    prometheus = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    await h.cleanup();
  });

  it('reads rxcrew_sessions_total and rxcrew_events_total back from its query API', async () => {
    const { port, connectReady } = await h.start({ setup: (s) => void s.addNode(echoNode()), logger: silentLogger });
    const client = await connectReady();
    client.send(say('hello'));
    await client.next('agent.speak');

    dir = mkdtempSync(join(tmpdir(), 'rxcrew-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: rxcrew',
        '    metrics_path: /metrics',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${port}']`,
        '',
      ].join('\n'),
    );
    const promPort = await freePort();
    prometheus = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const spawned = new Promise<void>((resolve, reject) => {
      prometheus!.once('spawn', resolve);
      prometheus!.once('error', reject); // not installed: .ci/run installs Debian's prometheus
    });
    await within(spawned, 'prometheus to start');

    const base = `http://127.0.0.1:${promPort}`;
    const sessions = await queryUntil(base, 'rxcrew_sessions_total{job="rxcrew"}', (r) => r.data.result.length > 0).catch((err) => {
      throw new Error(`${(err as Error).message}; prometheus said: ${output.slice(-2000)}`);
    });
    expect(sessions.status).toBe('success');
    expect(sessions.data.result[0].metric.instance).toBe(`127.0.0.1:${port}`);
    expect(Number(sessions.data.result[0].value[1])).toBe(1);

    const speaks = await queryUntil(base, 'rxcrew_events_total{job="rxcrew",type="agent.speak",direction="out"}', (r) => r.data.result.length > 0);
    expect(Number(speaks.data.result[0].value[1])).toBe(1);
    const up = await queryUntil(base, 'up{job="rxcrew"}', (r) => r.data.result.length > 0);
    expect(up.data.result[0].value[1]).toBe('1');
  }, 90_000);
});
