import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A Debian redis-server on a free loopback port, no persistence (a stand-in until the shared helper lands). */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Kills it (SIGKILL: what it held is gone) and starts it again on the same port. */
  restart(): Promise<void>;
}

/** `cpu`: pinned to that core (Linux `taskset`, which becomes redis-server), for the bench. */
export async function startRedis(options: { cpu?: number } = {}): Promise<RedisServer> {
  const port = await freePort();
  const command = ['/usr/bin/redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.cpu !== undefined) command.unshift('taskset', '-c', String(options.cpu));
  const run = async () => {
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    await ready(child);
    return child;
  };
  let child = await run();
  const stop = () => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : (child.once('exit', () => resolve()), child.kill('SIGKILL'))));
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      for (let attempt = 0; ; attempt++) {
        try {
          child = await run();
          return;
        } catch (err) {
          if (attempt >= 20) throw err; // the port is still held by the old one for a moment
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  };
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
  });
}

/** A port nobody listens on at the moment, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
