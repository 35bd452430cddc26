import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import type { HttpHandler } from 'rxcrew';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
};

/**
 * Serves the files of one folder at the root of the site (`/` is `index.html`),
 * read once at start. Only names that exist are served; everything else falls
 * through to the app's built-in routes (`/health`, `/ready`, 404).
 */
export function staticFiles(folder: string): HttpHandler {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of ['index.html', 'app.js', 'style.css', 'mic-worklet.js']) {
    const path = join(folder, name);
    if (existsSync(path)) files.set(`/${name}`, { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream' });
  }
  files.set('/', files.get('/index.html')!);
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const file = files.get((req.url ?? '/').split('?')[0]);
    if (file === undefined) return false;
    res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  };
}

/** The page's folder, from the sources or from a build in dist/ (tsc does not copy it). */
export function publicFolder(): string {
  const candidates = [join(__dirname, 'public'), join(__dirname, '..', '..', '..', 'demos', 'voice-agent', 'public')];
  const found = candidates.find((c) => existsSync(join(c, 'index.html')));
  if (found === undefined) throw new Error(`voice demo: cannot find the page in ${candidates.join(' or ')}`);
  return found;
}
