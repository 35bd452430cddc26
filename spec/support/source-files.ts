import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/** The repository's root, for specs that read its sources and docs. */
export const ROOT = join(__dirname, '..', '..');

/** Every `.ts` file below `dirs` (relative to the root), as root-relative paths with `/`. */
export function tsFiles(...dirs: string[]): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : walk(path);
      return name.endsWith('.ts') ? [path] : [];
    });
  return dirs.flatMap((dir) => walk(join(ROOT, dir))).map((path) => relative(ROOT, path).split(sep).join('/'));
}
