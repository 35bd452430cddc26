import { CrewEvent } from 'rxcrew';
import { CrewClient, deferred, echoNode, Harness, init, recordingLogger, RunningApp, say, within } from './helpers';

/*
 * Bad input from one client: an agent.error warning (CREW_ERR_BAD_EVENT) with a
 * message naming the problem; that session still answers, and a second,
 * concurrent session sees nothing of it.
 */

type Case = [what: string, frame: string | Buffer, message: RegExp];

const cases: Case[] = [
  ['malformed JSON text', '{"type": "agent.transcript.update", "role": ', /malformed JSON/],
  ['an empty text frame', '', /malformed JSON/],
  ['a JSON array', '[{"type":"agent.transcript.update","role":"user","content":"x"}]', /must be a JSON object, got an array/],
  ['a JSON number', '42', /must be a JSON object, got a number/],
  ['a JSON string', '"agent.transcript.update"', /must be a JSON object, got a string/],
  ['JSON null', 'null', /must be a JSON object, got null/],
  ['an event without type', '{"role":"user","content":"hi"}', /"type"/],
  ['an event with an empty type', '{"type":""}', /"type"/],
  ['an event whose type is not a string', '{"type":42}', /"type"/],
  ['an unknown type', '{"type":"no.such.event"}', /unknown event type "no\.such\.event"/],
  ['an unknown type in a binary frame', Buffer.from('{"type":"no.such.event"}'), /unknown event type "no\.such\.event"/],
  [
    'a transcript with role "robot"',
    '{"type":"agent.transcript.update","role":"robot","content":"beep"}',
    /invalid "agent\.transcript\.update" event: role/,
  ],
  ['a transcript without content', '{"type":"agent.transcript.update","role":"user"}', /invalid "agent\.transcript\.update" event: content/],
  ['a system.init without session_context', '{"type":"system.init","version":"1"}', /invalid "system\.init" event: session_context/],
  ['an agent-only type (agent.speak)', '{"type":"agent.speak","text":"I am the agent now"}', /"agent\.speak" is sent by the agent; a client may not send it/],
  ['an agent-only type (agent.error)', '{"type":"agent.error","message":"x","severity":"fatal","payload":{}}', /"agent\.error" is sent by the agent/],
  ['agent.audio as JSON', '{"type":"agent.audio","audio":"AAAA"}', /"agent\.audio" is sent by the agent/],
];

describe('CrewApp bad input (real ws client)', () => {
  const h = new Harness();
  let running: RunningApp;
  let bad: CrewClient;
  let bystander: CrewClient;

  beforeEach(async () => {
    running = await h.start({ setup: (session) => void session.addNode(echoNode()) });
    [bad, bystander] = await Promise.all([running.connectReady(), running.connectReady()]);
  });
  afterEach(() => h.cleanup());

  it.each(cases)('answers %s with a CREW_ERR_BAD_EVENT warning and goes on', async (_what, frame, message) => {
    bad.send(init({ name: 'bad' }));
    bad.sendRaw(frame);

    const error = await bad.next('agent.error');
    expect(error.severity).toBe('warning');
    expect(error.payload).toMatchObject({ code: 'CREW_ERR_BAD_EVENT' });
    expect(error.message).toMatch(message);

    // the same session still answers a valid event, and reports nothing more
    bad.send(say('still alive'));
    expect((await bad.next('agent.speak')).text).toBe('still alive');
    expect(bad.types.filter((t) => t === 'agent.error')).toHaveLength(1);
    expect(bad.closeInfo).toBeUndefined();
    expect(running.app.sessions.size).toBe(2);

    // the other session saw nothing of it: its reply is the only thing after its agent.ready
    bystander.send(say('unaffected'));
    expect((await bystander.next('agent.speak')).text).toBe('unaffected');
    expect(bystander.types).toEqual(['agent.ready', 'agent.speak']);
  });

  it('lists each schema problem in payload.issues', async () => {
    bad.sendRaw('{"type":"agent.transcript.update","role":"robot"}');
    const error = await bad.next('agent.error');
    const issues = (error.payload as { issues: Array<{ path: string; message: string }> }).issues;
    expect(issues.map((i) => i.path).sort()).toEqual(['content', 'role']);
    expect(error.message).toMatch(/role/);
    expect(error.message).toMatch(/content/);
  });

  it('keeps extra fields of a valid event and does not let "__proto__" reach the prototype', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const app = await h.start({
      setup: (session) => {
        session.addNode(echoNode());
        session.onEvent('agent.transcript.update', (_s, e) => void seen.push(e));
      },
    });
    const client = await app.connectReady();
    client.sendRaw('{"type":"agent.transcript.update","role":"user","content":"x","extra":1,"__proto__":{"polluted":true}}');
    await client.next('agent.speak');

    expect(seen).toHaveLength(1);
    expect(seen[0].extra).toBe(1);
    expect(Object.getPrototypeOf(seen[0])).toBe(Object.prototype);
    expect((seen[0] as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('survives a burst of mixed bad and good frames, answering each in order', async () => {
    const frames: Array<string | Buffer> = [];
    for (let i = 0; i < 20; i++) {
      frames.push(i % 2 === 0 ? JSON.stringify(say(`good-${i}`)) : cases[i % cases.length][1]);
    }
    for (const f of frames) bad.sendRaw(f);
    bad.send(say('done'));
    for (let i = 0; i < 20; i += 2) expect((await bad.next('agent.speak')).text).toBe(`good-${i}`);
    expect((await bad.next('agent.speak')).text).toBe('done');
    expect(bad.types.filter((t) => t === 'agent.error')).toHaveLength(10);
    expect(bad.closeInfo).toBeUndefined();
  });
});

describe('CrewApp protocol-level bad input (real ws client)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  async function startWithBystander(options: { maxPayload?: number } = {}) {
    const logger = recordingLogger();
    const left = deferred<CrewEvent>();
    const running = await h.start({
      ...options,
      logger,
      setup: (session) => {
        session.addNode(echoNode());
        session.onEvent('system.user.left', (_s, e) => left.resolve(e));
      },
    });
    const [offender, bystander] = await Promise.all([running.connectReady(), running.connectReady()]);
    return { ...running, logger, left: left.promise, offender, bystander };
  }

  async function expectBystanderUnaffected(app: RunningApp['app'], bystander: CrewClient): Promise<void> {
    bystander.send(say('unaffected'));
    expect((await bystander.next('agent.speak')).text).toBe('unaffected');
    expect(bystander.types).toEqual(['agent.ready', 'agent.speak']);
    expect(app.sessions.size).toBe(1);
  }

  it('a frame larger than maxPayload is reported (fatal agent.error) and closes that connection with 1009', async () => {
    const { app, offender, bystander, left } = await startWithBystander({ maxPayload: 1024 });

    offender.send(say('x'.repeat(2000)));
    const report = await offender.next('agent.error');
    expect(report).toMatchObject({ severity: 'fatal', payload: { code: 'CREW_ERR_FRAME_TOO_BIG' } });
    expect(report.message).toMatch(/over the limit of 1024 bytes/);
    expect((await within(offender.closed, 'the close')).code).toBe(1009);
    expect(await within(left, 'system.user.left')).toMatchObject({ code: 1009 });
    await expectBystanderUnaffected(app, bystander);
  });

  it('a frame more than four times maxPayload is refused by ws itself with 1009 (never buffered)', async () => {
    const { app, offender, bystander, left, logger } = await startWithBystander({ maxPayload: 1024 });

    offender.send(say('x'.repeat(5000)));
    expect((await within(offender.closed, 'the close')).code).toBe(1009);
    expect(await within(left, 'system.user.left')).toMatchObject({ code: 1009 });
    expect(logger.warn).toHaveBeenCalledWith(
      { session_id: expect.any(String), err: expect.objectContaining({ message: expect.stringMatching(/payload/i) }) },
      expect.stringContaining('socket error'),
    );
    await expectBystanderUnaffected(app, bystander);
  });

  it('a text frame that is not valid UTF-8 closes that connection with 1007 and ends its session', async () => {
    const { app, offender, bystander, left, logger } = await startWithBystander();

    offender.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await within(offender.closed, 'the close')).code).toBe(1007);
    expect(await within(left, 'system.user.left')).toMatchObject({ code: 1007 });
    expect(logger.warn).toHaveBeenCalledWith(
      { session_id: expect.any(String), err: expect.objectContaining({ message: expect.stringMatching(/UTF-8/i) }) },
      expect.stringContaining('socket error'),
    );
    await expectBystanderUnaffected(app, bystander);
  });
});
