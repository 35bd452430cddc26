import type WebSocket from 'ws';
import { within } from '../integration/helpers';

export type Json = { type: string; [field: string]: unknown };

/** The JSON frames a socket of a stand-in server received, and waits on them. */
export class JsonFrames {
  readonly received: Json[] = [];
  private readonly waiters = new Set<() => void>();

  /** Records every frame `socket` receives from now on. */
  protected record(socket: WebSocket): void {
    socket.on('message', (data) => {
      this.received.push(JSON.parse(data.toString()) as Json);
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** Resolves once `count` frames of `type` have been received. */
  got(type: string, count = 1): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.received.filter((e) => e.type === type).length < count) return;
          this.waiters.delete(check);
          resolve();
        };
        this.waiters.add(check);
        check();
      }),
      `${count} × ${type}; got ${JSON.stringify(this.received)}`,
    );
  }
}
