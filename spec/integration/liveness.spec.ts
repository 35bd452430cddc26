import { CrewEvent, CrewSession } from 'rxcrew';
import { CrewClient, deferred, echoNode, gatedEchoSetup, Harness, say, silentLogger, within } from './helpers';

/*
 * Liveness: a heartbeat terminates peers that stop answering pings, an idle
 * timeout closes clients that send nothing, a setup timeout closes connections
 * whose setup never starts the session. Each ends the session like any close
 * (system.user.left hooks run) and leaves the other sessions alone.
 */

const HEARTBEAT = 50;

/** Resolves once `client` has received `count` pings (counted from now). */
function pings(client: CrewClient, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onPing = () => {
      if (++seen < count) return;
      client.socket.off('ping', onPing);
      resolve();
    };
    client.socket.on('ping', onPing);
  });
}

describe('CrewApp liveness (real ws clients)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  /** An app whose sessions echo and report their system.user.left, by connection order. */
  async function start(options: { heartbeatInterval?: number; idleTimeout?: number }) {
    const left: Array<Promise<CrewEvent>> = [];
    const sessions: CrewSession[] = [];
    const running = await h.start({
      ...options,
      logger: silentLogger,
      setup: (s) => {
        const gone = deferred<CrewEvent>();
        left.push(gone.promise);
        sessions.push(s);
        s.onEvent('system.user.left', (_s, e) => gone.resolve(e));
        s.addNode(echoNode());
      },
    });
    return { ...running, left, sessions };
  }

  describe('heartbeat', () => {
    it('terminates a peer that does not answer pings within two intervals and runs its system.user.left hook; a peer that answers stays', async () => {
      const { app, connect, left, sessions } = await start({ heartbeatInterval: HEARTBEAT });
      const answering = await connect();
      await answering.next('agent.ready');
      const opened = performance.now();
      const mute = await connect('/ws', { autoPong: false });
      let mutePings = 0;
      mute.socket.on('ping', () => mutePings++);

      const { code } = await within(mute.closed, 'the mute peer to be terminated');
      const elapsed = performance.now() - opened;
      expect(code).toBe(1006); // terminated: no closing handshake
      expect(mutePings).toBeGreaterThanOrEqual(1);
      expect(elapsed).toBeLessThan(2 * HEARTBEAT + 100); // two intervals, with room for a busy timer queue
      expect(await within(left[1], "the mute peer's system.user.left")).toMatchObject({ code: 1006 });
      await within(sessions[1].waitUntilComplete(), 'the mute session to end');
      expect(app.sessions.size).toBe(1);

      // several intervals later the answering peer is still there
      await within(pings(answering, 4), 'four more pings');
      expect(answering.closeInfo).toBeUndefined();
      answering.send(say('still here'));
      expect((await answering.next('agent.speak')).text).toBe('still here');
    });

    it('counts any message as a sign of life: a peer that talks but never pongs stays', async () => {
      const { connect } = await start({ heartbeatInterval: HEARTBEAT });
      const talker = await connect('/ws', { autoPong: false });
      talker.socket.on('ping', () => talker.send(say('alive')));

      await within(pings(talker, 5), 'five pings');
      expect(talker.closeInfo).toBeUndefined();
      expect((await talker.next('agent.speak')).text).toBe('alive');
    });
  });

  describe('idle timeout', () => {
    it('closes a client that sent nothing for idleTimeout with a fatal CREW_ERR_IDLE_TIMEOUT, but not an active one', async () => {
      const { connectReady, left } = await start({ idleTimeout: 100, heartbeatInterval: 0 });
      const silent = await connectReady();
      const active = await connectReady();
      const ticker = setInterval(() => active.send(say('tick')), 20);
      try {
        const fatal = await silent.next('agent.error');
        expect(fatal).toMatchObject({ severity: 'fatal', payload: { code: 'CREW_ERR_IDLE_TIMEOUT' } });
        expect(fatal.message).toMatch(/100 ms/);
        expect((await within(silent.closed, 'the idle close')).code).toBe(1000);
        expect(await within(left[0], "the idle client's system.user.left")).toMatchObject({ code: 1000, reason: 'idle timeout' });

        // the active client goes on for several more idle periods
        for (let i = 0; i < 15; i++) await active.next('agent.speak');
        expect(active.closeInfo).toBeUndefined();
        expect(active.types).not.toContain('agent.error');
      } finally {
        clearInterval(ticker);
      }
    });
  });

  describe('setup timeout', () => {
    it('closes a connection whose setup never starts the session with a fatal CREW_ERR_SETUP_TIMEOUT and 1011', async () => {
      const left = deferred<CrewEvent>();
      let connections = 0;
      const { connect, connectReady } = await h.start({
        setupTimeout: 100,
        logger: silentLogger,
        setup: (s) => {
          if (++connections > 1) return void s.addNode(echoNode()); // a later client is served at once
          s.onEvent('system.user.left', (_s, e) => left.resolve(e));
          return new Promise<void>(() => undefined);
        },
      });
      const stuck = await connect();

      const fatal = await stuck.next('agent.error');
      expect(fatal).toMatchObject({ severity: 'fatal', payload: { code: 'CREW_ERR_SETUP_TIMEOUT' } });
      expect(fatal.message).toMatch(/100 ms/);
      expect((await within(stuck.closed, 'the close')).code).toBe(1011);
      expect(await within(left.promise, 'system.user.left')).toMatchObject({ code: 1011, reason: 'setup timed out' });
      expect(stuck.types).not.toContain('agent.ready');

      const next = await connectReady();
      next.send(say('served'));
      expect((await next.next('agent.speak')).text).toBe('served');
    });

    it('is off with setupTimeout: 0 (a setup may take as long as it needs)', async () => {
      const gate = deferred();
      const { connect } = await h.start({
        setupTimeout: 0,
        setup: gatedEchoSetup(gate.promise),
      });
      const client = await connect();
      await client.roundTrip();
      await client.roundTrip();
      gate.resolve();
      await client.next('agent.ready');
      expect(client.types).toEqual(['agent.ready']);
    });
  });
});
