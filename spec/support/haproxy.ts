import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis-server';

/** Debian's haproxy in front of some backends on loopback: WebSocket-friendly, health-checked on `GET /ready` every 100 ms. */
export interface Haproxy {
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startHaproxy(backends: ReadonlyArray<{ host: string; port: number }>): Promise<Haproxy> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rxcrew-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, haproxyConfig(port, backends));
  const child = spawn('/usr/sbin/haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await untilAnswers(`http://127.0.0.1:${port}/ready`, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, url: `http://127.0.0.1:${port}`, stop };
}

/** The configuration: round robin; a backend that refuses or answers 503 is out at the next check (100 ms), its calls left alone; WebSockets tunnelled. */
export function haproxyConfig(port: number, backends: ReadonlyArray<{ host: string; port: number }>): string {
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 200ms', // also the pause before a retry after a refused connection
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout tunnel 1h',
    '  timeout check 2s', // a loaded worker may answer /ready slowly: only a refusal or a 503 takes it out
    '  retries 3',
    '  option redispatch 1', // every retry goes to another server: a dead one costs no wait
    'frontend rxcrew',
    `  bind 127.0.0.1:${port}`,
    '  default_backend workers',
    'backend workers',
    '  balance roundrobin',
    '  option httpchk GET /ready',
    '  http-check expect status 200',
    '  default-server inter 100ms fall 1 rise 1', // established calls stay: a draining worker lets them finish
    ...backends.map((b, i) => `  server w${i + 1} ${b.host}:${b.port} check`),
    '',
  ].join('\n');
}

/** Resolves once `url` answers 200 through the proxy (some backend is up). */
async function untilAnswers(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}): ${output()}`);
    const status = await new Promise<number>((resolve) => {
      const req = get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
    });
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`haproxy did not route to a backend within 10 s: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
