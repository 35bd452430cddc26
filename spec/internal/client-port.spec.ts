import { CrewError } from '../../lib/errors';
import { CrewEvent } from '../../lib/events';
import { ClientPort, ClientPortSink, DEFAULT_CLIENT_LIMITS } from '../../lib/internal/client-port';
import '../../lib/catalog';

function port(limits: Partial<typeof DEFAULT_CLIENT_LIMITS> = {}) {
  let now = 0;
  const seen = { events: [] as CrewEvent[], audio: 0, refused: [] as CrewError[], violations: [] as Array<[string, number]> };
  const sink: ClientPortSink = {
    clientEvent: (e) => void seen.events.push(e),
    clientAudio: () => void seen.audio++,
    refuse: (err) => void seen.refused.push(err),
    violate: (err, code) => void seen.violations.push([err.code, code]),
  };
  const p = new ClientPort({ ...DEFAULT_CLIENT_LIMITS, ...limits }, sink, () => now);
  return { p, seen, advance: (ms: number) => (now += ms) };
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

  it('tells the transport what each frame was before handing it on', () => {
    const kinds: string[] = [];
    const p = new ClientPort(
      DEFAULT_CLIENT_LIMITS,
      { clientEvent: () => kinds.push('event'), clientAudio: () => kinds.push('audio'), refuse: () => kinds.push('refused'), violate: () => undefined, frameReceived: (k, b) => kinds.push(`${k}:${b}`) },
      () => 0,
    );
    p.receive(interrupt, false);
    p.receive(Buffer.from(interrupt), true);
    p.receive(Buffer.from([9]), true);
    p.receive('bad', false);
    expect(kinds).toEqual(['json:false', 'event', 'json:true', 'event', 'audio:true', 'audio', 'json:false', 'refused']);
  });
});
