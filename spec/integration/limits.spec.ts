import { CrewEvent } from 'rxcrew';
import { deferred, echoNode, gatedEchoSetup, Harness, say, silentLogger, within } from './helpers';

/*
 * Limits on what one client may send (docs/security.md): each broken limit is
 * answered with an agent.error carrying a stable code, and a close code where
 * the connection cannot go on; other sessions never notice.
 */

/** A transcript whose `extra` field nests arrays so that the whole event is `depth` deep. */
function nestedEvent(depth: number): string {
  const inner = '['.repeat(depth - 1) + ']'.repeat(depth - 1);
  return `{"type":"agent.transcript.update","role":"user","content":"deep","extra":${inner}}`;
}

describe('CrewApp limits (real ws clients)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  describe('JSON nesting depth', () => {
    it.each([
      ['a text frame', false],
      ['a binary frame', true],
    ])('refuses JSON nested past maxJsonDepth in %s with a CREW_ERR_BAD_EVENT warning naming the depth; the session goes on', async (_what, binary) => {
      const { connectReady } = await h.start({ setup: (s) => void s.addNode(echoNode()), maxJsonDepth: 8 });
      const client = await connectReady();

      const text = nestedEvent(9);
      client.sendRaw(binary ? Buffer.from(text) : text);
      const error = await client.next('agent.error');
      expect(error).toMatchObject({ severity: 'warning', payload: { code: 'CREW_ERR_BAD_EVENT' } });
      expect(error.message).toMatch(/at most 8 deep/);

      client.send(say('still here'));
      expect((await client.next('agent.speak')).text).toBe('still here');
      expect(client.closeInfo).toBeUndefined();
    });

    it('by default accepts 32 levels, refuses 33, and refuses a frame of 30000 "[" without parsing it', async () => {
      const { connectReady } = await h.start({ setup: (s) => void s.addNode(echoNode()) });
      const client = await connectReady();

      client.sendRaw(nestedEvent(32));
      expect((await client.next('agent.speak')).text).toBe('deep');
      client.sendRaw(nestedEvent(33));
      expect((await client.next('agent.error')).message).toMatch(/at most 32 deep/);
      client.sendRaw('['.repeat(30_000));
      expect((await client.next('agent.error')).message).toMatch(/at most 32 deep/);
      client.send(say('after'));
      expect((await client.next('agent.speak')).text).toBe('after');
    });
  });

  describe('event rate', () => {
    it('drops events past maxEventsPerSecond with one CREW_ERR_RATE_LIMITED warning; a sustained flood gets a fatal error and 1008; another client is unaffected', async () => {
      const left = deferred<CrewEvent>();
      let connections = 0;
      const { connectReady } = await h.start({
        maxEventsPerSecond: 5,
        logger: silentLogger,
        setup: (s) => {
          s.addNode(echoNode());
          if (++connections === 1) s.onEvent('system.user.left', (_s, e) => left.resolve(e));
        },
      });
      const flooder = await connectReady();
      const other = await connectReady();

      // a second's worth passes at once; the next three are dropped with one warning
      for (let i = 0; i < 8; i++) flooder.send(say(`m${i}`));
      await flooder.roundTrip();
      const warning = await flooder.next('agent.error');
      expect(warning).toMatchObject({ severity: 'warning', payload: { code: 'CREW_ERR_RATE_LIMITED' } });
      expect(warning.message).toMatch(/5 events per second/);
      expect(flooder.events.filter((e) => e.type === 'agent.speak').map((e) => e.text)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
      expect(flooder.closeInfo).toBeUndefined();

      other.send(say('meanwhile'));
      expect((await other.next('agent.speak')).text).toBe('meanwhile');

      // more than twice the limit within the second: a flood, not a burst
      for (let i = 0; i < 20; i++) flooder.send(say(`flood${i}`));
      const fatal = await flooder.next((e) => e.type === 'agent.error' && e.severity === 'fatal');
      expect(fatal).toMatchObject({ payload: { code: 'CREW_ERR_RATE_LIMITED' } });
      expect(fatal.message).toMatch(/twice the limit/);
      expect((await within(flooder.closed, 'the flooder close')).code).toBe(1008);
      expect(await within(left.promise, 'system.user.left')).toMatchObject({ code: 1008 });
      expect(flooder.events.filter((e) => e.type === 'agent.error' && e.severity === 'warning')).toHaveLength(1);

      other.send(say('unaffected'));
      expect((await other.next('agent.speak')).text).toBe('unaffected');
      expect(other.types).toEqual(['agent.ready', 'agent.speak', 'agent.speak']);
    });

    it('counts audio frames apart from events: audio faster than maxEventsPerSecond passes, audio past maxAudioFramesPerSecond is dropped with its own warning', async () => {
      let audioFrames = 0;
      const { connectReady } = await h.start({
        maxEventsPerSecond: 5,
        maxAudioFramesPerSecond: 50,
        setup: (s) => {
          s.addNode(echoNode());
          s.onEvent('user.audio', () => void audioFrames++);
        },
      });
      const client = await connectReady();

      for (let i = 0; i < 30; i++) client.sendRaw(Buffer.alloc(640, 1));
      client.send(say('after 30 frames'));
      expect((await client.next('agent.speak')).text).toBe('after 30 frames');
      expect(audioFrames).toBe(30);
      expect(client.types).not.toContain('agent.error');

      for (let i = 0; i < 40; i++) client.sendRaw(Buffer.alloc(640, 1));
      const warning = await client.next('agent.error');
      expect(warning).toMatchObject({ severity: 'warning', payload: { code: 'CREW_ERR_RATE_LIMITED' } });
      expect(warning.message).toMatch(/50 audio frames per second/);
      await client.roundTrip();
      expect(audioFrames).toBeGreaterThanOrEqual(50);
      expect(audioFrames).toBeLessThan(70);
      expect(client.closeInfo).toBeUndefined();
    });
  });

  describe('pre-start buffer', () => {
    it('holds maxPrestartEvents client events until start and delivers them in order', async () => {
      const gate = deferred();
      const { connect } = await h.start({
        maxPrestartEvents: 3,
        setup: gatedEchoSetup(gate.promise),
      });
      const client = await connect();
      for (let i = 0; i < 3; i++) client.send(say(`early${i}`));
      await client.roundTrip();
      gate.resolve();
      for (let i = 0; i < 3; i++) expect((await client.next('agent.speak')).text).toBe(`early${i}`);
      expect(client.types).not.toContain('agent.error');
    });

    it('one event more before start gets a fatal CREW_ERR_BUFFER_FULL and 1008; the late setup does not crash the server', async () => {
      const gate = deferred();
      const left = deferred<CrewEvent>();
      const { app, connectReady, connect } = await h.start({
        maxPrestartEvents: 3,
        logger: silentLogger,
        setup: async (s) => {
          s.onEvent('system.user.left', (_s, e) => left.resolve(e));
          await gate.promise;
          s.addNode(echoNode()); // throws: the session closed meanwhile
        },
      });
      const client = await connect();
      for (let i = 0; i < 4; i++) client.send(say(`early${i}`));

      const fatal = await client.next('agent.error');
      expect(fatal).toMatchObject({ severity: 'fatal', payload: { code: 'CREW_ERR_BUFFER_FULL' } });
      expect(fatal.message).toMatch(/more than 3 events/);
      expect((await within(client.closed, 'the close')).code).toBe(1008);
      expect(await within(left.promise, 'system.user.left')).toMatchObject({ code: 1008 });

      gate.resolve();
      const next = await connectReady();
      expect(next.closeInfo).toBeUndefined();
      expect(app.ready).toBe(true);
    });
  });
});
