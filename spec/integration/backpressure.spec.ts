import { EMPTY, filter, map, mergeMap, of, range, tap } from 'rxjs';
import { CrewApp, CrewEvent, CrewNode, CrewSession, event, node } from 'rxcrew';
import { CrewClient, deferred, Harness, recordingLogger, say, within } from './helpers';

/*
 * Backpressure on a client that stops reading (its TCP socket paused): what the
 * server holds for it stays bounded, audio is dropped oldest-first and counted,
 * JSON events are kept in order (also across a close), past the hard limit it
 * is closed with 1013 — and a second client's round trips go on meanwhile.
 */

const SOFT = 64 * 1024;
const HARD = 512 * 1024;
const FRAME = 3200; // 100 ms of 16 kHz PCM16
const BURST = 100;

/** An audio frame numbered `seq` (first byte 0xAA, so it can never look like JSON). */
function audioFrame(seq: number): Buffer {
  const frame = Buffer.alloc(FRAME, 0);
  frame[0] = 0xaa;
  frame.writeUInt32BE(seq, 1);
  return frame;
}

/**
 * Commands in transcripts: `audio:N` emits N numbered agent.audio frames at once,
 * `mark:X` and `echo:X` one agent.speak X, `big:N` N agent.speak of 32 KiB.
 * `onDone` runs after a command's events were all handed to the transport.
 */
function streamer(onDone: (cmd: string) => void): CrewNode {
  let seq = 0;
  return node('streamer', (input$) =>
    input$.pipe(
      filter((e) => e.type === 'agent.transcript.update'),
      mergeMap((e) => {
        const [cmd, arg] = String(e.content).split(':');
        const out =
          cmd === 'audio'
            ? range(0, Number(arg)).pipe(map(() => event('agent.audio', { audio: audioFrame(seq++) })))
            : cmd === 'big'
              ? range(0, Number(arg)).pipe(map(() => event('agent.speak', { text: 'x'.repeat(32 * 1024) })))
              : cmd === 'mark' || cmd === 'echo'
                ? of(event('agent.speak', { text: arg }))
                : EMPTY;
        return out.pipe(tap({ complete: () => onDone(cmd) }));
      }),
    ),
  );
}

function pause(client: CrewClient): void {
  (client.socket as unknown as { _socket: { pause(): void } })._socket.pause();
}

function resume(client: CrewClient): void {
  (client.socket as unknown as { _socket: { resume(): void } })._socket.resume();
}

describe('CrewApp backpressure on a slow reader (real ws clients)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  async function start() {
    const logger = recordingLogger();
    const sessions: CrewSession[] = [];
    const left = new Map<string, Promise<CrewEvent>>();
    let done: (() => void) | undefined;
    const running = await h.start({
      logger,
      sendSoftLimit: SOFT,
      sendHardLimit: HARD,
      setup: (s) => {
        sessions.push(s);
        const gone = deferred<CrewEvent>();
        left.set(s.id, gone.promise);
        s.onEvent('system.user.left', (_s, e) => gone.resolve(e));
        s.addNode(streamer(() => done?.()));
      },
    });
    const slow = await running.connectReady();
    const normal = await running.connectReady();
    const [slowSession] = sessions;
    /** Sends a command from the slow client and waits until the server has emitted all it asked for. */
    const command = async (text: string) => {
      const handled = new Promise<void>((resolve) => (done = resolve));
      slow.send(say(text));
      await within(handled, `the server to handle "${text}"`);
    };
    const stats = () => running.app.transportStats(slowSession.id);
    return { ...running, logger, slow, normal, slowSession, left: left.get(slowSession.id)!, command, stats };
  }

  /** The normal client still gets its answer at once. */
  async function roundTrip(normal: CrewClient, text: string): Promise<void> {
    normal.send(say(`echo:${text}`));
    expect((await normal.next('agent.speak')).text).toBe(text);
  }

  /** Streams audio to the paused client until the server starts dropping; checks the bound on every step. */
  async function fillUntilDropping(app: CrewApp, stats: () => ReturnType<CrewApp['transportStats']>, command: (t: string) => Promise<void>) {
    let sent = 0;
    for (let i = 0; i < 200 && (stats()?.droppedAudioFrames ?? 0) === 0; i++) {
      await command(`audio:${BURST}`);
      sent += BURST;
      expect(stats()!.pendingBytes).toBeLessThanOrEqual(2 * SOFT + 2 * FRAME);
    }
    expect(stats()!.droppedAudioFrames).toBeGreaterThan(0);
    expect(app.sessions.size).toBe(2);
    return sent;
  }

  it('drops audio oldest-first (counted) within the soft limit, keeps JSON events in order, and does not slow another client', async () => {
    const { app, slow, normal, slowSession, command, stats, logger } = await start();
    pause(slow);

    let sent = await fillUntilDropping(app, stats, command);
    await command('mark:one');
    await roundTrip(normal, 'during the backlog');
    for (let i = 0; i < 3; i++) {
      await command(`audio:${BURST}`);
      sent += BURST;
      expect(stats()!.pendingBytes).toBeLessThanOrEqual(2 * SOFT + 2 * FRAME);
    }
    await command('mark:two');
    await roundTrip(normal, 'still fine');
    const dropped = stats()!.droppedAudioFrames;
    expect(dropped).toBeGreaterThan(3 * BURST - (2 * SOFT) / FRAME);
    expect(stats()!.droppedAudioBytes).toBe(dropped * FRAME);

    resume(slow);
    await slow.next((e) => e.type === 'agent.speak' && e.text === 'two', 10_000);
    const speaks = slow.events.filter((e) => e.type === 'agent.speak').map((e) => e.text);
    expect(speaks).toEqual(['one', 'two']);
    const seqs = slow.frames.filter((f) => f.kind === 'audio').map((f) => f.audio!.readUInt32BE(1));
    // every frame either arrived or was counted as dropped; those that arrived are in order, the newest among them
    expect(seqs.length + dropped).toBe(sent);
    expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).toBe(true);
    expect(seqs[seqs.length - 1]).toBe(sent - 1);
    expect(slow.closeInfo).toBeUndefined();

    await slow.close();
    expect(logger.warn).toHaveBeenCalledWith(
      { session_id: slowSession.id, event_type: 'agent.audio', dropped },
      expect.stringMatching(new RegExp(`dropped ${dropped} audio frame`)),
    );
  });

  it('sends the JSON events still queued before the close frame when the session stops during the backlog', async () => {
    const { app, slow, slowSession, command, stats } = await start();
    pause(slow);

    await fillUntilDropping(app, stats, command);
    await command('mark:last words');
    const stopped = slowSession.stop('done');
    await within(stopped, 'the session to stop');

    resume(slow);
    const closed = await within(slow.closed, 'the close', 10_000);
    expect(slow.events.filter((e) => e.type === 'agent.speak').map((e) => e.text)).toEqual(['last words']);
    expect(closed.code).toBe(1000);
  });

  it('on app.close(), lets a lagging client read its queued events and the 1001 within closeTimeout', async () => {
    const { app, slow, normal, command, stats } = await start();
    pause(slow);

    await fillUntilDropping(app, stats, command);
    await command('mark:goodbye');
    const closing = app.close();
    resume(slow);

    const [slowClose, normalClose] = await Promise.all([within(slow.closed, 'the slow close', 10_000), within(normal.closed, 'the normal close')]);
    expect(slow.events.filter((e) => e.type === 'agent.speak').map((e) => e.text)).toEqual(['goodbye']);
    expect([slowClose.code, normalClose.code]).toEqual([1001, 1001]);
    await within(closing, 'close() to resolve');
  });

  it('closes a client whose unsent JSON passes the hard limit with 1013, holding no more than the limit; another client goes on', async () => {
    const { app, slow, normal, slowSession, left, command, stats, logger } = await start();
    pause(slow);

    await fillUntilDropping(app, stats, command);
    await roundTrip(normal, 'before the overflow');
    // JSON is never dropped: it queues until the hard limit, then the client is let go
    let ended = false;
    void left.then(() => (ended = true));
    for (let i = 0; i < 40 && !ended; i++) {
      await command('big:4');
      const now = stats();
      if (now) expect(now.pendingBytes).toBeLessThanOrEqual(HARD + 32 * 1024 + 100);
      await Promise.resolve();
    }
    expect(await within(left, 'system.user.left')).toMatchObject({ code: 1013, reason: 'client too slow' });
    await within(slowSession.waitUntilComplete(), 'the slow session to end');
    expect(app.sessions.size).toBe(1);
    expect(app.transportStats(slowSession.id)).toBeUndefined();
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ session_id: slowSession.id }), expect.stringMatching(/client too slow/));

    resume(slow);
    expect((await within(slow.closed, 'the slow client close')).code).toBe(1013);
    await roundTrip(normal, 'after the overflow');
  });
});
