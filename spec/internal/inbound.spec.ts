import { decodeFrame, validateClientEvent } from '../../lib/internal/inbound';
import '../../lib/catalog';

describe('decodeFrame', () => {
  it('parses a text frame as a JSON event', () => {
    const r = decodeFrame('{"type":"system.control.interrupt"}', false);
    expect(r).toEqual({ kind: 'event', event: { type: 'system.control.interrupt' } });
  });

  it('refuses text nested too deep, small (checked on the value) and large (scanned before parsing)', () => {
    const nest = (depth: number, pad = '') => `{"type":"system.llm.request","pad":"${pad}","extra":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
    const big = 'x'.repeat(5000);
    for (const pad of ['', big]) {
      expect(decodeFrame(nest(4, pad), false, 4).kind).toBe('event');
      const r = decodeFrame(nest(5, pad), false, 4);
      expect(r.kind).toBe('bad');
      if (r.kind === 'bad') expect(r.error.message).toBe('an event may nest objects and arrays at most 4 deep');
    }
    // brackets inside strings do not count, either way
    expect(decodeFrame(`{"type":"system.llm.request","pad":"${'['.repeat(6000)}"}`, false, 4).kind).toBe('event');
    expect(decodeFrame(`{"type":"system.llm.request","pad":"${'['.repeat(60)}"}`, false, 4).kind).toBe('event');
  });

  it('reports malformed JSON in a text frame', () => {
    const r = decodeFrame('{"type":', false);
    expect(r.kind).toBe('bad');
    if (r.kind === 'bad') expect(r.error.message).toMatch(/^malformed JSON: /);
  });

  it('parses a binary frame holding a JSON object as an event', () => {
    const r = decodeFrame(Buffer.from('{"type":"system.control.interrupt"}'), true);
    expect(r.kind).toBe('event');
  });

  it('treats any other binary frame as audio, untouched', () => {
    for (const bytes of [Buffer.from([0x7b, 1, 2, 0x7d]), Buffer.from([1, 2, 3]), Buffer.from('[1]'), Buffer.alloc(0)]) {
      const r = decodeFrame(bytes, true);
      expect(r).toEqual({ kind: 'audio', audio: bytes });
      if (r.kind === 'audio') expect(r.audio).toBe(bytes);
    }
  });
});

describe('validateClientEvent', () => {
  it.each([
    [null, 'an event must be a JSON object, got null'],
    [[1], 'an event must be a JSON object, got an array'],
    [3, 'an event must be a JSON object, got a number'],
    ['s', 'an event must be a JSON object, got a string'],
    [{}, 'an event needs a "type" field holding a non-empty string'],
    [{ type: 5 }, 'an event needs a "type" field holding a non-empty string'],
    [{ type: 'no.such.type' }, 'unknown event type "no.such.type"'],
    [{ type: 'agent.speak', text: 'x' }, '"agent.speak" is sent by the agent; a client may not send it'],
  ])('refuses %j', (value, message) => {
    const r = validateClientEvent(value);
    expect(r.kind).toBe('bad');
    if (r.kind === 'bad') {
      expect(r.error.message).toBe(message);
      expect(r.error.code).toBe('CREW_ERR_BAD_EVENT');
    }
  });

  it('names the failing fields of a schema failure', () => {
    const r = validateClientEvent({ type: 'agent.transcript.update', role: 'robot' });
    expect(r.kind).toBe('bad');
    if (r.kind === 'bad') {
      expect(r.error.message).toMatch(/^invalid "agent.transcript.update" event: role: .*; content: /);
      expect(r.error.issues.map((i) => i.path)).toEqual(['role', 'content']);
    }
  });

  it('drops a client copy of a runtime event', () => {
    expect(validateClientEvent({ type: 'system.user.joined' })).toEqual({ kind: 'drop', type: 'system.user.joined' });
    expect(validateClientEvent({ type: 'system.user_left' })).toEqual({ kind: 'drop', type: 'system.user.left' });
  });

  it('returns a fresh object with extra fields kept and __proto__ keys never reaching a prototype', () => {
    const raw = JSON.parse('{"type":"system.llm.request","extra":1,"__proto__":{"polluted":true}}');
    const r = validateClientEvent(raw);
    expect(r.kind).toBe('event');
    if (r.kind !== 'event') return;
    expect(r.event).not.toBe(raw);
    expect(r.event.extra).toBe(1);
    expect(Object.getPrototypeOf(r.event)).toBe(Object.prototype);
    expect((r.event as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
