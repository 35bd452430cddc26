import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from './ipc';
import { Kind, KINDS } from './e2e';

/*
 * Memory per idle session: K idle clients connected to a server with the
 * sales-agent demo graph, against the same number of bare `ws` connections.
 * Each server is measured after forced full GCs — after a warm-up round of
 * connections that came and went, and at each K (clients are added, not
 * reconnected); per session = delta / K.
 */

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  sessions: number;
}

export interface MemoryLevel {
  sessions: number;
  /** Bytes per session: (at K − before any client) / K. */
  rssPerSession: number;
  heapPerSession: number;
  externalPerSession: number;
  at: Mem;
}

export interface MemoryResult {
  base: Record<Kind, Mem>;
  levels: Array<Record<Kind, MemoryLevel>>;
}

/** Connections opened and closed before the base is measured. */
const WARM_UP = 200;

export async function runMemory(levels: number[], log: (line: string) => void): Promise<MemoryResult> {
  const base = {} as Record<Kind, Mem>;
  const byLevel: Array<Record<Kind, MemoryLevel>> = levels.map(() => ({}) as Record<Kind, MemoryLevel>);
  for (const kind of KINDS) {
    const server = new Child(`${kind} server (memory)`, 'server', [kind, kind === 'rxcrew' ? 'demo' : 'pass'], ['--expose-gc']);
    const load = new Child('load generator (memory)', 'loadgen');
    try {
      const { port } = await server.call<{ port: number }>('info');
      // A warm-up round connects and leaves first, so that what the first connections
      // compile and cache once per process (JIT code, feedback, lazy module state) is in
      // the base rather than counted as per-session memory.
      const warm = await load.call<{ failed: number; firstError?: string }>('connect', { port, path: '/ws', count: WARM_UP, rate: 1000, maxInFlight: 200 });
      if (warm.failed > 0) throw new Error(`${warm.failed} warm-up connections failed: ${warm.firstError}`);
      await sleep(1000);
      await load.call('closeAll');
      if ((await server.call<number>('waitSessions', { count: 0, timeoutMs: 15_000 })) !== 0) throw new Error(`${kind}: warm-up sessions did not end`);
      await sleep(500);
      base[kind] = await server.call<Mem>('memory');
      let open = 0;
      for (let i = 0; i < levels.length; i++) {
        const sessions = levels[i];
        const connected = await load.call<{ failed: number; firstError?: string }>('connect', {
          port,
          path: '/ws',
          count: sessions - open,
          rate: 1000,
          maxInFlight: 200,
        });
        if (connected.failed > 0) throw new Error(`${connected.failed} connections failed: ${connected.firstError}`);
        open = sessions;
        await sleep(1000); // let the demo's greeting go out and timers settle
        const at = await server.call<Mem>('memory');
        if (at.sessions !== sessions) throw new Error(`${kind}: ${at.sessions} sessions live, expected ${sessions}`);
        const per = (key: 'rss' | 'heapUsed' | 'external') => (at[key] - base[kind][key]) / sessions;
        byLevel[i][kind] = { sessions, rssPerSession: per('rss'), heapPerSession: per('heapUsed'), externalPerSession: per('external'), at };
        log(`  ${sessions} idle ${kind}: RSS ${(per('rss') / 1024).toFixed(1)} KiB/session, heap ${(per('heapUsed') / 1024).toFixed(1)} KiB/session`);
      }
      await load.call('closeAll');
    } finally {
      await Promise.all([server.stop(), load.stop()]);
    }
  }
  return { base, levels: byLevel };
}
