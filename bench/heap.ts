import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from './ipc';
import { place } from './report';

/*
 * For `--profile`: what one idle session keeps on the heap, with a one-node
 * pass-through graph (the runtime's own share) and with the demo graph.
 * Two V8 heap snapshots of the rxcrew server — before any client and with K
 * idle clients — are summed by constructor (or closure name), and the
 * difference is divided by K.
 */

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; location_fields: string[] } };
  nodes: number[];
  strings: string[];
  /** [node offset, script id, line, column] per function: where each closure was defined. */
  locations: number[];
}

/**
 * Bytes and counts by kind: objects by constructor, closures by name and where they were
 * defined (`scripts`: script id → URL), strings and V8 internals by type.
 */
function tally(file: string, scripts: Record<string, string>): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [TYPE, NAME, SIZE] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const defined = new Map<number, string>();
  const step = snap.snapshot.meta.location_fields.length;
  for (let i = 0; i < snap.locations.length; i += step) {
    const [at, script, line] = snap.locations.slice(i, i + 3);
    defined.set(at, `${place(scripts[script] ?? '', 'x')}:${line + 1}`);
  }
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + TYPE]];
    const name = snap.strings[snap.nodes[i + NAME]];
    const named = type === 'object' || type === 'native' || type === 'array';
    const key = type === 'closure' ? `closure ${name || '(anonymous)'} ${defined.get(i) ?? ''}` : named ? `${type} ${name}` : type;
    const entry = out.get(key) ?? { bytes: 0, count: 0 };
    entry.bytes += snap.nodes[i + SIZE];
    entry.count++;
    out.set(key, entry);
  }
  return out;
}

/**
 * `graph`: `pass` (one pass-through node: the runtime's own share) or `demo` (the sales-agent graph);
 * `kind` `bare` profiles the bare `ws` echo server instead (the floor both share).
 */
export async function runHeapProfile(graph: 'pass' | 'demo', sessions: number, dir: string, log: (line: string) => void, kind: 'rxcrew' | 'bare' = 'rxcrew'): Promise<void> {
  const server = new Child(`${kind} server (heap)`, 'server', [kind, graph], ['--expose-gc']);
  const load = new Child('load generator (heap)', 'loadgen');
  try {
    const { port } = await server.call<{ port: number }>('info');
    const before = await server.call<string>('heapSnapshot', { file: join(dir, `${kind}-${graph}-0-sessions.heapsnapshot`) });
    await load.call('connect', { port, path: '/ws', count: sessions, rate: 1000, maxInFlight: 200 });
    await sleep(1000);
    const after = await server.call<string>('heapSnapshot', { file: join(dir, `${kind}-${graph}-${sessions}-sessions.heapsnapshot`) });
    const scripts = await server.call<Record<string, string>>('scripts'); // after: every module is loaded by now
    const [a, b] = [tally(before, scripts), tally(after, scripts)];
    const rows = [...b.entries()]
      .map(([key, { bytes, count }]) => ({ key, bytes: (bytes - (a.get(key)?.bytes ?? 0)) / sessions, count: (count - (a.get(key)?.count ?? 0)) / sessions }))
      .filter((r) => r.bytes > 0)
      .sort((x, y) => y.bytes - x.bytes);
    const total = rows.reduce((sum, r) => sum + r.bytes, 0);
    log(`heap per idle ${kind === 'bare' ? 'bare ws' : graph} session (${sessions} sessions): ${(total / 1024).toFixed(1)} KiB in snapshot self sizes; top 30 (lines are in dist/*.js):`);
    for (const r of rows.slice(0, 30)) log(`  ${r.bytes.toFixed(0).padStart(6)} B  ${r.count.toFixed(1).padStart(6)} ×  ${r.key}`);
    await load.call('closeAll');
  } finally {
    await Promise.all([server.stop(), load.stop()]);
  }
}
