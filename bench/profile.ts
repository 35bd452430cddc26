import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runE2e } from './e2e';
import { runHeapProfile } from './heap';
import { Child } from './ipc';
import { area, place } from './report';

/*
 * `npm run bench -- --profile [--quick]`: CPU profiles (`node --cpu-prof`) of
 * rxcrew alone — the in-process 5-node chain (with 0 and 10 hooks) and the
 * server under the end-to-end load at 1,000 sessions — summarised as the
 * functions with the most self time and the time per area (lib/ file, rxjs,
 * ws, zod, Node); and what an idle demo session keeps on the heap (two heap
 * snapshots, diffed by constructor). The .cpuprofile and .heapsnapshot files
 * stay in bench/out/prof/ for Chrome DevTools or speedscope.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  positionTicks?: Array<{ line: number; ticks: number }>;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const PROF_DIR = join(__dirname, '..', 'prof');
const ROOT = join(__dirname, '..', '..', '..');
const compiled = new Map<string, { map: SourceMap; lines: string[] } | null>();

/**
 * `lib/session.ts:123` for a position in this checkout's dist/ (through its source map),
 * else undefined. Without a column, the line's first statement.
 */
function original(url: string, line0: number, column0?: number): string | undefined {
  const file = url.startsWith('file://') ? fileURLToPath(url) : '';
  if (!file.startsWith(join(ROOT, 'dist'))) return undefined;
  if (!compiled.has(file)) {
    try {
      const map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
      compiled.set(file, { map, lines: readFileSync(file, 'utf8').split('\n') });
    } catch {
      compiled.set(file, null);
    }
  }
  const js = compiled.get(file);
  if (!js) return undefined;
  const column = column0 ?? (js.lines[line0] ?? '').search(/\S|$/);
  const entry = js.map.findEntry(line0, column);
  if (!('originalSource' in entry)) return undefined;
  return `${relative(ROOT, resolve(dirname(file), entry.originalSource))}:${entry.originalLine + 1}`;
}

/** The time per area, the top self-time functions and rxcrew's hottest source lines, as printable lines. */
export function summarise(file: string, top = 20): string[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, number>();
  const areaUs = new Map<string, number>();
  const samplesOf = new Map<number, number>();
  let busyUs = 0;
  let busySamples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const n = byId.get(profile.samples[i])!;
    const { functionName, url, lineNumber, columnNumber } = n.callFrame;
    if (functionName === '(idle)') continue;
    const us = profile.timeDeltas[i] ?? 0;
    const name = functionName || '(anonymous)';
    const key = `${name}  ${original(url, lineNumber, columnNumber) ?? `${place(url, functionName)}${url ? `:${lineNumber + 1}` : ''}`}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + us);
    areaUs.set(area(url, functionName), (areaUs.get(area(url, functionName)) ?? 0) + us);
    samplesOf.set(n.id, (samplesOf.get(n.id) ?? 0) + 1);
    busyUs += us;
    busySamples++;
  }
  // hot lines: the samples each line of rxcrew's own code took (V8's position ticks, mapped to .ts).
  // Ticks of inlined callees carry their own scripts' lines: keep only lines inside the function,
  // that is before the next function of the same script that the profile knows of.
  const starts = new Map<string, number[]>();
  for (const { callFrame: c } of profile.nodes) starts.set(c.url, [...(starts.get(c.url) ?? []), c.lineNumber]);
  for (const list of starts.values()) list.sort((x, y) => x - y);
  const lineSamples = new Map<string, number>();
  for (const n of profile.nodes) {
    if (!samplesOf.has(n.id) || !/\/dist\/(lib|operators)\//.test(n.callFrame.url)) continue;
    const start = n.callFrame.lineNumber;
    const end = starts.get(n.callFrame.url)!.find((l) => l > start) ?? Infinity;
    for (const { line, ticks } of n.positionTicks ?? []) {
      if (line - 1 < start || line - 1 >= end) continue;
      const where = `${original(n.callFrame.url, line - 1) ?? `${n.callFrame.url}:${line}`}  (in ${n.callFrame.functionName || '(anonymous)'})`;
      lineSamples.set(where, (lineSamples.get(where) ?? 0) + ticks);
    }
  }
  const pct = (part: number, whole: number) => `${((part / whole) * 100).toFixed(1).padStart(5)}%`;
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return [
    `busy (not idle) ${(busyUs / 1000).toFixed(0)} ms; by area:`,
    ...sorted(areaUs).slice(0, 12).map(([k, us]) => `  ${pct(us, busyUs)}  ${k}`),
    `top ${top} functions by self time (inlined callees count as their caller's):`,
    ...sorted(selfUs).slice(0, top).map(([k, us]) => `  ${pct(us, busyUs)}  ${k}`),
    "rxcrew's hottest lines (self samples):",
    ...sorted(lineSamples).slice(0, 12).map(([k, n]) => `  ${pct(n, busySamples)}  ${k}`),
  ];
}

function newest(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return join(dir, files.sort().at(-1)!);
}

async function profileInprocess(hooks: number, ms: number): Promise<string> {
  const dir = join(PROF_DIR, `inprocess-chain-${hooks}-hooks`);
  mkdirSync(dir, { recursive: true });
  const child = new Child('in-process profile', 'inprocess', [], ['--cpu-prof', '--cpu-prof-dir', dir]);
  await child.call('spin', { topology: 'chain', hooks, ms });
  await child.stop();
  return newest(dir);
}

/**
 * `only`: `json` profiles just the servers under the JSON-only load (5 pass-through nodes and a
 * `'*'` hook, at 200 and 1,000 sessions), in bench/out/prof/json-*.
 */
export async function runProfiles(quick: boolean, log: (line: string) => void, only?: string): Promise<void> {
  if (only === 'json') return profileJson(quick, log);
  rmSync(PROF_DIR, { recursive: true, force: true });
  for (const hooks of [0, 10]) {
    log(`\n== in-process 5-node chain, ${hooks} hooks (rxcrew only) ==`);
    for (const line of summarise(await profileInprocess(hooks, quick ? 3000 : 10_000))) log(line);
  }
  log('\n== server under load: 1000 sessions × (50 audio + 10 JSON frames/s) ==');
  const dirs = { rxcrew: join(PROF_DIR, 'server-rxcrew'), bare: join(PROF_DIR, 'server-bare') };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const measureMs = quick ? 5000 : 15_000;
  await runE2e({ levels: [1000], audioOnlyLevels: [], warmupMs: 2000, measureMs, drainMs: 1000, connectRate: 500, acceptCount: 0, repeats: 1, quietWait: { perRun: 30_000, total: 60_000 } }, log, (kind) => [
    '--cpu-prof',
    '--cpu-prof-dir',
    dirs[kind],
  ]);
  for (const kind of ['rxcrew', 'bare'] as const) {
    log(`\n-- ${kind} server --`);
    for (const line of summarise(newest(dirs[kind]))) log(line);
  }
  for (const graph of ['pass', 'demo'] as const) {
    log(`\n== memory: one idle session, ${graph === 'pass' ? 'one pass-through node' : 'the demo graph'} ==`);
    await runHeapProfile(graph, quick ? 500 : 1000, PROF_DIR, log);
  }
  log(`\nprofiles: ${PROF_DIR} (open in Chrome DevTools → Performance / Memory, or speedscope)`);
}

async function profileJson(quick: boolean, log: (line: string) => void): Promise<void> {
  for (const sessions of [200, 1000]) {
    log(`\n== server under the JSON-only load: ${sessions} sessions × 50 events/s, 5 pass-through nodes and a '*' hook ==`);
    const dirs = { rxcrew: join(PROF_DIR, `json-${sessions}-rxcrew`), bare: join(PROF_DIR, `json-${sessions}-bare`) };
    for (const dir of Object.values(dirs)) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    }
    const cfg = { levels: [], audioOnlyLevels: [], jsonOnlyLevels: [sessions], warmupMs: 2000, measureMs: quick ? 5000 : 15_000, drainMs: 1000, connectRate: 500, acceptCount: 0, repeats: 1 };
    await runE2e({ ...cfg, quietWait: { perRun: 30_000, total: 60_000 } }, log, (kind) => ['--cpu-prof', '--cpu-prof-dir', dirs[kind]]);
    for (const kind of ['rxcrew', 'bare'] as const) {
      log(`\n-- ${kind} server --`);
      for (const line of summarise(newest(dirs[kind]))) log(line);
    }
  }
  log(`\nprofiles: ${PROF_DIR}/json-* (open in Chrome DevTools → Performance, or speedscope)`);
}
