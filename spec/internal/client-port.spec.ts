import { CrewError } from '../../lib/errors';
import { CrewEvent } from '../../lib/events';
import { SessionContext } from '../../lib/context';
import { ClientPort, PortOwner } from '../../lib/internal/client-port';
import { NO_OBSERVER } from '../../lib/internal/observer';
import { DEFAULT_SESSION_LIMITS, SessionLimits } from '../../lib/session-options';
import '../../lib/catalog';

function port(limits: Partial<SessionLimits> = {}, opened = true) {
  let now = 0;
  const seen = {
    events: [] as CrewEvent[],
    audio: 0,
    refused: [] as CrewError[],
    violations: [] as Array<[string, number]>,
    ended: [] as Array<[number, string]>,
    fromClient: [] as boolean[],
    frames: [] as string[],
    drops: [] as string[],
  };
  const owner: PortOwner = {
    observer: { ...NO_OBSERVER, frame: (kind) => void seen.frames.push(kind), dropped: (reason) => void seen.drops.push(reason) },
    context: new SessionContext(),
    deliver: (e, fromClient) => {
      seen.fromClient.push(fromClient);
      if (e.type === 'user.audio') seen.audio++;
      else seen.events.push(e);
    },
    refuse: (err) => void seen.refused.push(err),
    violate: (err, code) => void seen.violations.push([err.code, code]),
    transportEnded: (code, reason) => void seen.ended.push([code, reason]),
  };
  const p = new ClientPort({ ...DEFAULT_SESSION_LIMITS, ...limits }, owner, () => now);
  if (opened) p.open();
  return { p, seen, owner, advance: (ms: number) => (now += ms) };
}

const interrupt = JSON.stringify({ type: 'system.control.interrupt' });

describe('ClientPort', () => {
  it('refuses JSON nested deeper than maxJsonDepth, in text, binary and decoded values', () => {
    const { p, seen } = port({ maxJsonDepth: 3 });
    const deep = '{"type":"system.llm.request","extra_params":{"a":{"b":{"c":1}}}}';
    p.receive(deep, false);
    p.receive(Buffer.from(deep), true);
    p.receiveValue(JSON.parse(deep));
    expect(seen.refused.map((e) => e.message)).toEqual(Array(3).fill('an event may nest objects and arrays at most 3 deep'));
    p.receive('{"type":"system.llm.request","extra_params":{"a":{}}}', false);
    expect(seen.events).toHaveLength(1);
  });

  it('lets a second of burst through, then drops events with one warning per second', () => {
    const { p, seen, advance } = port({ maxEventsPerSecond: 5 });
    for (let i = 0; i < 8; i++) p.receive(interrupt, false);
    expect(seen.events).toHaveLength(5);
    expect(seen.refused.map((e) => e.code)).toEqual(['CREW_ERR_RATE_LIMITED']);
    advance(1000);
    for (let i = 0; i < 7; i++) p.receive(interrupt, false);
    expect(seen.events).toHaveLength(10);
    expect(seen.refused).toHaveLength(2);
    expect(seen.violations).toEqual([]);
  });

  it('refills at the rate', () => {
    const { p, seen, advance } = port({ maxEventsPerSecond: 10 });
    for (let i = 0; i < 10; i++) p.receive(interrupt, false);
    advance(100); // one token back
    p.receive(interrupt, false);
    p.receive(interrupt, false);
    expect(seen.events).toHaveLength(11);
  });

  it('closes (1008) a client sending more than twice the limit within a second, and then ignores it', () => {
    const { p, seen } = port({ maxEventsPerSecond: 5 });
    for (let i = 0; i < 20; i++) p.receive(interrupt, false);
    expect(seen.violations).toEqual([['CREW_ERR_RATE_LIMITED', 1008]]);
    expect(seen.events).toHaveLength(5);
  });

  it('counts audio frames apart from events', () => {
    const { p, seen } = port({ maxEventsPerSecond: 2, maxAudioFramesPerSecond: 4 });
    for (let i = 0; i < 4; i++) p.receive(Buffer.from([1, 2, 3, 4]), true);
    p.receive(interrupt, false);
    p.receive(interrupt, false);
    expect(seen.audio).toBe(4);
    expect(seen.events).toHaveLength(2);
    p.receive(Buffer.from([1, 2]), true);
    expect(seen.audio).toBe(4);
    expect(seen.refused[0].message).toBe('over the limit of 4 audio frames per second; dropping them');
  });

  it('counts refused frames against the rate too', () => {
    const { p, seen } = port({ maxEventsPerSecond: 2 });
    p.receive('nope', false);
    p.receive('nope', false);
    p.receive(interrupt, false);
    expect(seen.events).toHaveLength(0);
    expect(seen.refused.map((e) => e.code)).toEqual(['CREW_ERR_BAD_EVENT', 'CREW_ERR_BAD_EVENT', 'CREW_ERR_RATE_LIMITED']);
  });

  it('sets the reply frame kind from each JSON frame before handing it on; audio leaves it alone', () => {
    const kinds: string[] = [];
    const owner: PortOwner = {
      context: new SessionContext(),
      deliver: (e) => void kinds.push(`${e.type === 'user.audio' ? 'audio' : 'event'}:${p.replyBinary}`),
      refuse: () => void kinds.push(`refused:${p.replyBinary}`),
      violate: () => undefined,
      transportEnded: () => undefined,
      observer: NO_OBSERVER,
    };
    const p: ClientPort = new ClientPort(DEFAULT_SESSION_LIMITS, owner, () => 0);
    p.open();
    p.receive(interrupt, false);
    p.receive(Buffer.from(interrupt), true);
    p.receive(Buffer.from([9]), true);
    p.receive('bad', false);
    p.receiveValue({ type: 'system.control.interrupt' });
    expect(kinds).toEqual(['event:false', 'event:true', 'audio:true', 'refused:false', 'event:false']);
  });

  it('holds events until open(), client ones against maxPrestartEvents, then delivers all in order', () => {
    const { p, seen } = port({ maxPrestartEvents: 2 }, false);
    p.receive(interrupt, false);
    p.hold({ type: 'test.injected' });
    p.receive(Buffer.from([1, 2]), true);
    expect(seen.events).toEqual([]);
    p.open();
    expect(seen.events.map((e) => e.type)).toEqual(['system.control.interrupt', 'test.injected']);
    expect(seen.fromClient).toEqual([true, false, true]);
    expect(seen.audio).toBe(1);
  });

  it('closes (1008) a client sending more than maxPrestartEvents before the start, once', () => {
    const { p, seen } = port({ maxPrestartEvents: 2 }, false);
    for (let i = 0; i < 5; i++) p.receive(interrupt, false);
    expect(seen.violations).toEqual([['CREW_ERR_BUFFER_FULL', 1008]]);
    p.open();
    expect(seen.events).toHaveLength(2);
  });

  it('applies system.init: context variables, audio rates, waiters; before or after open', async () => {
    const { p, owner } = port({}, false);
    const waited = p.waitForInit(10_000);
    p.receiveValue({
      type: 'system.init',
      version: '1',
      session_context: { initial_variables: { name: 'Ada' }, conversation_type: 'chat' },
      audio: { input_sample_rate: 8000 },
    });
    await expect(waited).resolves.toMatchObject({ type: 'system.init' });
    expect(owner.context.get('name')).toBe('Ada');
    expect(p.audioFormat).toEqual({ inputSampleRate: 8000, outputSampleRate: 16000 });
    expect(p.init?.type).toBe('system.init');
  });

  it('after close(): frames are ignored, what was held is dropped, waiters get undefined', async () => {
    const { p, seen } = port({}, false);
    p.receive(interrupt, false);
    const waited = p.waitForInit(10_000);
    p.close();
    await expect(waited).resolves.toBeUndefined();
    p.receive(interrupt, false);
    p.open();
    expect(seen.events).toEqual([]);
    p.end(1000, 'bye'); // the transport's end is still reported (the runtime marks it closed)
    expect(seen.ended).toEqual([[1000, 'bye']]);
  });

  it('end() reports the transport end once', () => {
    const { p, seen } = port();
    p.end(1006, '');
    p.end(1000, 'again');
    expect(seen.ended).toEqual([[1006, '']]);
  });

  it('counts every frame once by kind (json, audio, refused) and says why what was dropped was dropped', () => {
    const { p, seen, advance } = port({ maxEventsPerSecond: 2, maxFrameBytes: 64 });
    p.receive(interrupt, false); // json
    p.receive(Buffer.from([1, 0, 2, 0]), true); // audio (a bucket of its own)
    p.receive('{"type":', false); // not JSON: refused
    advance(1000);
    p.receive('{"type":"system.user.joined","session_id":"x"}', false); // a runtime event from the client: refused
    p.receive(interrupt, false); // json
    p.receive(interrupt, false); // over the rate: refused and dropped
    p.receive('x'.repeat(65), false); // too big: refused
    expect(seen.frames).toEqual(['json', 'audio', 'refused', 'refused', 'json', 'refused', 'refused']);
    expect(seen.drops).toEqual(['rate_limited']);
  });
});
