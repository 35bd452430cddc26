import { Child, LOAD_CPU, SERVER_CPU } from './ipc';
import { E2eConfig, LevelResult, LevelSummary, runLevel, summarise, waitQuiet } from './e2e';

/*
 * What the Prometheus metrics cost: the e2e rows (audio + JSON, one
 * pass-through node) against one rxcrew server, its sessions observed by the
 * app's metrics (and `/metrics` scraped once a second from the bench's own
 * process, more often than a Prometheus would) or not (as with `metrics: false`),
 * alternated (on, off, off, on, …). One process both ways: two processes of
 * the same server differ by more than 5 % (an A/A run of two gave 1.08×).
 * The row: server CPU per client frame, on over off.
 */

export const SETTINGS = ['on', 'off'] as const;
/** How often the bench scrapes `/metrics` while metrics are on (Prometheus's default is a minute, 15 s is common). */
const SCRAPE_MS = Number(process.env.BENCH_SCRAPE_MS ?? 1000);
export type Setting = (typeof SETTINGS)[number];

export type MetricsCostConfig = Omit<E2eConfig, 'audioOnlyLevels' | 'jsonOnlyLevels' | 'acceptCount'>;

export interface MetricsCostResult {
  levels: Array<Record<Setting, LevelSummary>>;
}

export async function runMetricsCost(cfg: MetricsCostConfig, log: (line: string) => void): Promise<MetricsCostResult> {
  // one server measured both ways: sessions set up while metrics are "off" are left unobserved and
  // not scraped. BENCH_METRICS_AA=1: never on (an A/A run: the comparison's noise floor).
  const server = new Child('rxcrew server (pass, metrics toggled)', 'server', ['rxcrew', 'pass', 'metrics-toggle'], ['--expose-gc'], SERVER_CPU);
  const load = new Child('load generator', 'loadgen', [], [], LOAD_CPU);
  const e2e: E2eConfig = { ...cfg, audioOnlyLevels: [], acceptCount: 0 };
  const aa = process.env.BENCH_METRICS_AA === '1';
  try {
    const { port } = await server.call<{ port: number }>('info');
    const levels: MetricsCostResult['levels'] = [];
    for (const sessions of cfg.levels) {
      const runs: Record<Setting, LevelResult[]> = { on: [], off: [] };
      for (let i = 0; i < cfg.repeats; i++) {
        for (const setting of i % 2 === 0 ? SETTINGS : [...SETTINGS].reverse()) {
          await waitQuiet(cfg.quietWait, log);
          const on = setting === 'on' && !aa;
          await server.call('setMetrics', { on });
          // scraped from this process, as a Prometheus would from outside, once a second while on
          const scrape = on ? setInterval(() => void fetch(`http://127.0.0.1:${port}/metrics`).then((res) => res.text()), SCRAPE_MS) : undefined;
          const r = await runLevel(e2e, sessions, 'mixed', server, load, port).finally(() => clearInterval(scrape));
          runs[setting].push(r);
          log(
            `  ${sessions} sessions, metrics ${setting}${aa ? ' (A/A: off)' : ''}: ${r.cpuUsPerFrame.toFixed(2)} µs/frame, p99 ${r.load.rtt.p99Ms.toFixed(2)} ms, ` +
              `sent ${Math.round(r.sentPerSec)}/${r.targetPerSec} frames/s, delivered ${(r.deliveredRatio * 100).toFixed(2)}%` +
              (r.otherCores === undefined ? '' : `, machine busy elsewhere ${r.otherCores.toFixed(2)} cores`),
          );
        }
      }
      levels.push({ on: summarise(runs.on), off: summarise(runs.off) });
    }
    return { levels };
  } finally {
    await Promise.all([server.stop(), load.stop()]);
  }
}
