import { Child, LOAD_CPU, SERVER_CPU } from './ipc';
import { E2eConfig, LevelResult, LevelSummary, runLevel, summarise, waitQuiet } from './e2e';

/*
 * What the Prometheus metrics cost: the e2e rows (audio + JSON, one
 * pass-through node) against two rxcrew servers that differ only in `metrics`
 * — on (and scraped once a second by the server itself, more often than a
 * Prometheus would) and off — alternated (on, off, off, on, …).
 * The row: server CPU per client frame, on over off.
 */

export const SETTINGS = ['on', 'off'] as const;
export type Setting = (typeof SETTINGS)[number];

export type MetricsCostConfig = Omit<E2eConfig, 'audioOnlyLevels' | 'jsonOnlyLevels' | 'acceptCount'>;

export interface MetricsCostResult {
  levels: Array<Record<Setting, LevelSummary>>;
}

export async function runMetricsCost(cfg: MetricsCostConfig, log: (line: string) => void): Promise<MetricsCostResult> {
  const servers: Record<Setting, Child> = {
    on: new Child('rxcrew server (pass, metrics on)', 'server', ['rxcrew', 'pass', 'metrics'], ['--expose-gc'], SERVER_CPU),
    off: new Child('rxcrew server (pass, metrics off)', 'server', ['rxcrew', 'pass', 'no-metrics'], ['--expose-gc'], SERVER_CPU),
  };
  const load = new Child('load generator', 'loadgen', [], [], LOAD_CPU);
  const e2e: E2eConfig = { ...cfg, audioOnlyLevels: [], acceptCount: 0 };
  try {
    const ports = {
      on: (await servers.on.call<{ port: number }>('info')).port,
      off: (await servers.off.call<{ port: number }>('info')).port,
    };
    const levels: MetricsCostResult['levels'] = [];
    for (const sessions of cfg.levels) {
      const runs: Record<Setting, LevelResult[]> = { on: [], off: [] };
      for (let i = 0; i < cfg.repeats; i++) {
        for (const setting of i % 2 === 0 ? SETTINGS : [...SETTINGS].reverse()) {
          await waitQuiet(cfg.quietWait, log);
          const r = await runLevel(e2e, sessions, 'mixed', servers[setting], load, ports[setting]);
          runs[setting].push(r);
          log(
            `  ${sessions} sessions, metrics ${setting}: ${r.cpuUsPerFrame.toFixed(2)} µs/frame, p99 ${r.load.rtt.p99Ms.toFixed(2)} ms, ` +
              `sent ${Math.round(r.sentPerSec)}/${r.targetPerSec} frames/s, delivered ${(r.deliveredRatio * 100).toFixed(2)}%` +
              (r.otherCores === undefined ? '' : `, machine busy elsewhere ${r.otherCores.toFixed(2)} cores`),
          );
        }
      }
      levels.push({ on: summarise(runs.on), off: summarise(runs.off) });
    }
    return { levels };
  } finally {
    await Promise.all([servers.on.stop(), servers.off.stop(), load.stop()]);
  }
}
