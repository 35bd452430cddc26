import { execSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/*
 * Rows, the printed table and the machine description. Every row compares
 * rxcrew with the limit it is held against, measured in the same run.
 */

export interface Row {
  /** What was measured, e.g. `chain (5 nodes)`. */
  name: string;
  unit: string;
  rxcrew: number;
  baseline: number;
  /** What the baseline is: `bare RxJS`, `plain functions`, `bare ws`. */
  baselineName: string;
  /** Cost ratio: above 1 means rxcrew costs more (for rates: baseline / rxcrew). */
  ratio: number;
  /** The target, as text (`≤ 1.5×`, `none dropped`); absent when the row is informational. */
  target?: string;
  pass?: boolean;
  /** Printed under the table (e.g. the counts behind a ratio). */
  note?: string;
}

/** A row for a cost (time, CPU, memory): ratio = rxcrew / baseline, optionally held to `maxRatio`. */
export function costRow(name: string, unit: string, rxcrew: number, baseline: number, baselineName: string, maxRatio?: number): Row {
  const ratio = rxcrew / baseline;
  const row: Row = { name, unit, rxcrew, baseline, baselineName, ratio };
  if (maxRatio !== undefined) Object.assign(row, { target: `≤ ${maxRatio}×`, pass: ratio <= maxRatio });
  return row;
}

/** A row for a rate (events/s, sessions/s): ratio = baseline / rxcrew, so that above 1 still means slower. */
export function rateRow(name: string, unit: string, rxcrew: number, baseline: number, baselineName: string): Row {
  return { name, unit, rxcrew, baseline, baselineName, ratio: baseline / rxcrew };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** 3 significant digits, thousands grouped: 0.0123, 1.23, 12.3, 123, 12,345. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 10) return n.toFixed(1);
  if (abs >= 1) return n.toFixed(2);
  return n.toPrecision(3);
}

/** The rows as a Markdown table (readable in a terminal, pasteable into docs/benchmarks.md). */
export function formatTable(rows: Row[]): string {
  const header = ['measurement', 'rxcrew', 'baseline (limit)', 'ratio', 'target', 'result'];
  const lines = rows.map((r) => [
    r.name,
    `${fmt(r.rxcrew)} ${r.unit}`,
    `${fmt(r.baseline)} ${r.unit} (${r.baselineName})`,
    `${r.ratio.toFixed(2)}×`,
    r.target ?? '—',
    r.pass === undefined ? '' : r.pass ? 'pass' : '**FAIL**',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(line)].join('\n');
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
  date: string;
  /** The commit benchmarked, with `+dirty` when lib/ or operators/ have uncommitted changes. */
  commit: string;
}

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    commit: commit(),
  };
}

function commit(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain -- lib operators', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty === '' ? head : `${head}+dirty`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

// ---- where a profiled function or allocated closure lives ------------------

const META = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** Where a function lives: `lib/session.ts` for rxcrew (dist/lib/x.js), else the package or Node. */
export function area(url: string, fn: string): string {
  if (META.has(fn)) return fn;
  const lib = /\/dist\/((?:lib|operators|demos)\/.*)\.js$/.exec(url);
  if (lib) return `${lib[1]}.ts`;
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1];
  if (url.includes('/bench/out/')) return 'bench harness';
  if (url.startsWith('node:')) return 'node internals';
  return url === '' ? '(native)' : url;
}

/** Where exactly, for a function's row: `lib/session.ts`, `rxjs/internal/Subject.js`, `node:net`. */
export function place(url: string, fn: string): string {
  const inPackage = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?:dist\/(?:cjs\/)?)?(.*)$/.exec(url);
  if (inPackage) return `${inPackage[1]}/${inPackage[2]}`;
  if (url.startsWith('node:')) return url;
  return area(url, fn);
}
