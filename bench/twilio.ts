import { Child, LOAD_CPU, SERVER_CPU } from './ipc';
import { E2eConfig, LevelResult, LevelSummary, runLevel, summarise, waitQuiet } from './e2e';

/*
 * Phone calls against the Atoms protocol's audio path, on one rxcrew server
 * (an echo graph: each `user.audio` comes back as `agent.audio`; `twilio: true`).
 * N connections send 20 ms of audio every 20 ms — as Twilio Media Streams
 * `media` messages (JSON text, base64 μ-law 8 kHz, marks echoed as Twilio does)
 * to `/twilio`, or as binary PCM16 frames to `/ws` — the two alternated
 * (atoms, twilio, twilio, atoms, …). The row: server CPU per audio message.
 */

export const PROTOCOLS = ['atoms', 'twilio'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface TwilioConfig extends Omit<E2eConfig, 'levels' | 'audioOnlyLevels' | 'jsonOnlyLevels' | 'acceptCount'> {
  /** Concurrent calls (and, for the Atoms path, sessions) per level. */
  callLevels: number[];
}

export interface TwilioResult {
  levels: Array<Record<Protocol, LevelSummary>>;
}

export async function runTwilio(cfg: TwilioConfig, log: (line: string) => void): Promise<TwilioResult> {
  const server = new Child('rxcrew server (echo, twilio)', 'server', ['rxcrew', 'echo'], ['--expose-gc', ...(process.env.BENCH_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROF_DIR] : [])], SERVER_CPU);
  const load = new Child('load generator', 'loadgen', [], [], LOAD_CPU);
  const e2e: E2eConfig = { ...cfg, levels: [], audioOnlyLevels: [], acceptCount: 0 };
  try {
    const { port } = await server.call<{ port: number }>('info');
    const levels: TwilioResult['levels'] = [];
    for (const calls of cfg.callLevels) {
      const runs: Record<Protocol, LevelResult[]> = { atoms: [], twilio: [] };
      for (let i = 0; i < cfg.repeats; i++) {
        for (const protocol of i % 2 === 0 ? PROTOCOLS : [...PROTOCOLS].reverse()) {
          await waitQuiet(cfg.quietWait, log);
          const r = await runLevel(e2e, calls, protocol === 'twilio' ? 'twilio' : 'audio', server, load, port);
          runs[protocol].push(r);
          log(
            `  ${calls} ${protocol === 'twilio' ? 'Twilio calls' : 'Atoms sessions (binary audio)'}: ${r.cpuUsPerFrame.toFixed(1)} µs/message, ` +
              `sent ${Math.round(r.sentPerSec)}/${r.targetPerSec} messages/s, audio back ${(r.deliveredRatio * 100).toFixed(1)}%, load gen CPU ${r.load.cpuPct.toFixed(0)}%` +
              (r.otherCores === undefined ? '' : `, machine busy elsewhere ${r.otherCores.toFixed(2)} cores`),
          );
        }
      }
      levels.push({ atoms: summarise(runs.atoms), twilio: summarise(runs.twilio) });
    }
    return { levels };
  } finally {
    await Promise.all([server.stop(), load.stop()]);
  }
}
