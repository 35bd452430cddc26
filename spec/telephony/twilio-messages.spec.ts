import fc from 'fast-check';
import {
  isTwilioMediaFormat,
  mediaPayload,
  parseTwilioMessage,
  parseTwilioOutbound,
  twilioClearFrame,
  twilioMarkFrame,
  TwilioInboundSchema,
  twilioMediaFrame,
} from '../../lib/telephony/twilio-messages';

/*
 * Fixtures: Twilio's documented examples ("Media Streams - WebSocket Messages").
 * `connected` is verbatim from the page as stored; the stored copy of the page
 * is cut after the `start` table, so the others are verbatim from a stored
 * reproduction of the same examples (its placeholders are `MZxxxx…`). The
 * documented `media` payloads are elided ("<base64-encoded-mulaw-audio>",
 * or Twilio's own "no+JhoaJjpzSHxAKBgYJDhtEopDsrAs..."), so those fixtures
 * are checked as invalid and again with a real payload put in.
 */
const DOCS = {
  connected: `{
"event": "connected",
"protocol": "Call",
"version": "1.0.0"
}`,
  start: `{
  "event": "start",
  "sequenceNumber": "1",
  "start": {
    "accountSid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "callSid": "CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "tracks": ["inbound"],
    "mediaFormat": {
      "encoding": "audio/x-mulaw",
      "sampleRate": 8000,
      "channels": 1
    },
    "customParameters": {
      "callerNumber": "+15551234567"
    }
  },
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
}`,
  media: `{
  "event": "media",
  "sequenceNumber": "3",
  "media": {
    "track": "inbound",
    "chunk": "1",
    "timestamp": "5",
    "payload": "<base64-encoded-mulaw-audio>"
  },
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
}`,
  dtmf: `{
  "event": "dtmf",
  "sequenceNumber": "5",
  "dtmf": {
    "track": "inbound_track",
    "digit": "1"
  },
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
}`,
  mark: `{
  "event": "mark",
  "sequenceNumber": "4",
  "mark": {
    "name": "my-label"
  },
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
}`,
  stop: `{
  "event": "stop",
  "sequenceNumber": "5",
  "stop": {
    "accountSid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "callSid": "CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
  },
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
}`,
  // what a server sends (the same reproduction)
  outMedia: `{
  "event": "media",
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "media": {
    "payload": "<base64-encoded-mulaw-audio>"
  }
}`,
  outMark: `{
  "event": "mark",
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
  "mark": {
    "name": "utterance-end"
  }
}`,
  outClear: `{
  "event": "clear",
  "streamSid": "MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
}`,
};

const SID = 'MZxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
const PAYLOAD = Buffer.from([0xff, 0x7f, 0x80, 0x00, 0x15]).toString('base64');
const withPayload = (fixture: string, payload: string) => fixture.replace('<base64-encoded-mulaw-audio>', payload);

function ok<M>(result: { ok: true; message: M } | { ok: false; error: string }): M {
  if (!result.ok) throw new Error(`expected a message, got: ${result.error}`);
  return result.message;
}

describe('parseTwilioMessage: what Twilio sends', () => {
  it('reads the documented connected, start, dtmf, mark and stop examples', () => {
    expect(ok(parseTwilioMessage(DOCS.connected))).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    const start = ok(parseTwilioMessage(DOCS.start));
    expect(start).toEqual({
      event: 'start',
      sequenceNumber: '1',
      streamSid: SID,
      start: {
        accountSid: 'ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        streamSid: SID,
        callSid: 'CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
        tracks: ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: { callerNumber: '+15551234567' },
      },
    });
    expect(start.event === 'start' && isTwilioMediaFormat(start.start.mediaFormat)).toBe(true);
    expect(ok(parseTwilioMessage(DOCS.dtmf))).toEqual({ event: 'dtmf', sequenceNumber: '5', streamSid: SID, dtmf: { track: 'inbound_track', digit: '1' } });
    expect(ok(parseTwilioMessage(DOCS.mark))).toEqual({ event: 'mark', sequenceNumber: '4', streamSid: SID, mark: { name: 'my-label' } });
    expect(ok(parseTwilioMessage(DOCS.stop))).toEqual({
      event: 'stop',
      sequenceNumber: '5',
      streamSid: SID,
      stop: { accountSid: 'ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', callSid: 'CAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' },
    });
  });

  it('reads the documented media example once it carries a real payload, and its bytes', () => {
    const media = ok(parseTwilioMessage(withPayload(DOCS.media, PAYLOAD)));
    expect(media).toEqual({ event: 'media', sequenceNumber: '3', streamSid: SID, media: { track: 'inbound', chunk: '1', timestamp: '5', payload: PAYLOAD } });
    expect(media.event === 'media' && [...mediaPayload(media)]).toEqual([0xff, 0x7f, 0x80, 0x00, 0x15]);
  });

  it.each([
    ['the reproduction', '<base64-encoded-mulaw-audio>'],
    ["Twilio's page", 'no+JhoaJjpzSHxAKBgYJDhtEopDsrAs...'],
  ])('refuses the elided payload of %s as not base64', (_, payload) => {
    const result = parseTwilioMessage(withPayload(DOCS.media, payload));
    expect(result).toMatchObject({ ok: false, reason: 'invalid', event: 'media', issues: [{ path: 'media.payload', message: 'expected base64' }] });
    expect(!result.ok && result.error).toMatch(/media\.payload: expected base64/);
  });

  it("takes Twilio's near copies: sequenceNumber as a number, no top-level streamSid, no tracks or customParameters, media with only a payload", () => {
    const start = ok(
      parseTwilioMessage(
        JSON.stringify({
          event: 'start',
          sequenceNumber: 1,
          start: { streamSid: 'MZ1', accountSid: '', callSid: 'CA1', mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
        }),
      ),
    );
    expect(start).toEqual({
      event: 'start',
      sequenceNumber: '1',
      start: { streamSid: 'MZ1', accountSid: '', callSid: 'CA1', tracks: ['inbound'], customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
    });
    expect(ok(parseTwilioMessage(`{"event":"media","media":{"payload":"${PAYLOAD}"},"extra":true}`))).toEqual({ event: 'media', media: { payload: PAYLOAD } });
  });

  it('keeps customParameters a plain record of strings (no prototype games)', () => {
    const text = '{"event":"start","start":{"streamSid":"MZ1","accountSid":"AC1","callSid":"CA1","tracks":["inbound"],' +
      '"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1},"customParameters":{"__proto__":"x","lang":"de"}}}';
    const start = ok(parseTwilioMessage(text));
    const params = start.event === 'start' ? start.start.customParameters : {};
    expect(Object.getPrototypeOf(params)).toBe(Object.prototype);
    expect(Object.keys(params)).toEqual(['lang']);
    expect(parseTwilioMessage(text.replace('"de"', '7'))).toMatchObject({ ok: false, reason: 'invalid', error: expect.stringMatching(/customParameters\.lang/) });
  });

  it('says what is wrong with malformed frames, and never throws', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      ['{"event":', 'json', /^not JSON: /],
      ['[1,2]', 'not-object', /got an array/],
      ['null', 'not-object', /got null/],
      ['"media"', 'not-object', /got string/],
      ['{"media":{}}', 'not-object', /string "event" field/],
      ['{"event":"transcription","x":1}', 'unknown-event', /unknown Twilio Media Streams event "transcription"/],
      ['{"event":"mark","mark":{}}', 'invalid', /mark\.name/],
      ['{"event":"dtmf","dtmf":{"digit":"12"}}', 'invalid', /dtmf\.digit: expected one DTMF key/],
      ['{"event":"start","start":{"streamSid":"MZ1","accountSid":"AC1"}}', 'invalid', /start\.callSid.*start\.mediaFormat/],
      ['{"event":"stop"}', 'invalid', /stop: /],
    ];
    for (const [text, reason, error] of cases) {
      const result = parseTwilioMessage(text as string);
      expect(result).toMatchObject({ ok: false, reason });
      expect(!result.ok && result.error).toMatch(error);
    }
  });

  it('never throws on any string, and only says ok for one of the six events', () => {
    const events = ['connected', 'start', 'media', 'mark', 'dtmf', 'stop'];
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ event: 'media', media: v }))), (text) => {
        const result = parseTwilioMessage(text);
        return result.ok ? events.includes(result.message.event) : typeof result.error === 'string' && result.error.length > 0;
      }),
    );
  });

  it('reads a Buffer of UTF-8 text the same as the string', () => {
    expect(parseTwilioMessage(Buffer.from(DOCS.mark))).toEqual(parseTwilioMessage(DOCS.mark));
  });

  it('tells the one media format Twilio streams from any other', () => {
    expect(isTwilioMediaFormat({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 })).toBe(true);
    expect(isTwilioMediaFormat({ encoding: 'audio/x-alaw', sampleRate: 8000, channels: 1 })).toBe(false);
    expect(isTwilioMediaFormat({ encoding: 'audio/x-mulaw', sampleRate: 16000, channels: 1 })).toBe(false);
    expect(isTwilioMediaFormat({ encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 2 })).toBe(false);
  });
});

describe('frames to Twilio', () => {
  it('builds media, mark and clear exactly as documented, and they parse back', () => {
    const mulaw = Buffer.from([0xff, 0x7f, 0x80, 0x00, 0x15]);
    expect(JSON.parse(twilioMediaFrame(SID, mulaw))).toEqual(JSON.parse(withPayload(DOCS.outMedia, PAYLOAD)));
    expect(JSON.parse(twilioMarkFrame(SID, 'utterance-end'))).toEqual(JSON.parse(DOCS.outMark));
    expect(JSON.parse(twilioClearFrame(SID))).toEqual(JSON.parse(DOCS.outClear));
    expect(ok(parseTwilioOutbound(twilioMediaFrame(SID, mulaw)))).toEqual({ event: 'media', streamSid: SID, media: { payload: PAYLOAD } });
    expect(ok(parseTwilioOutbound(DOCS.outMark))).toEqual({ event: 'mark', streamSid: SID, mark: { name: 'utterance-end' } });
    expect(ok(parseTwilioOutbound(DOCS.outClear))).toEqual({ event: 'clear', streamSid: SID });
  });

  it('encodes a view into a larger buffer from its own offset', () => {
    const big = Buffer.from([1, 2, 3, 4, 5, 6]);
    const frame = JSON.parse(twilioMediaFrame(SID, big.subarray(2, 4))) as { media: { payload: string } };
    expect([...Buffer.from(frame.media.payload, 'base64')]).toEqual([3, 4]);
  });

  it('escapes the streamSid and mark name as JSON strings', () => {
    const odd = 'a"b\\c\n\u2028';
    expect(JSON.parse(twilioMarkFrame(odd, odd))).toEqual({ event: 'mark', streamSid: odd, mark: { name: odd } });
    expect(JSON.parse(twilioClearFrame(odd))).toEqual({ event: 'clear', streamSid: odd });
  });

  it('refuses what Twilio would not take, saying why', () => {
    expect(parseTwilioOutbound('{"event":"media","streamSid":"MZ1","media":{}}')).toMatchObject({ ok: false, reason: 'invalid', error: expect.stringMatching(/media\.payload/) });
    expect(parseTwilioOutbound('{"event":"stop"}')).toMatchObject({ ok: false, reason: 'unknown-event', error: 'unknown to-Twilio event "stop"' });
    expect(parseTwilioOutbound('{"event":"clear"}')).toMatchObject({ ok: false, reason: 'invalid', error: expect.stringMatching(/streamSid/) });
  });
});

describe('parseTwilioMessage: the hand-checked media and mark path', () => {
  const media = { track: 'inbound', chunk: '2', timestamp: '40', payload: 'f39/fw==' };
  const cases: Array<[string, unknown]> = [
    ['a media message as Twilio sends it', { event: 'media', sequenceNumber: '3', media, streamSid: 'MZ1' }],
    ['media with only its payload', { event: 'media', media: { payload: '' } }],
    ['a numeric sequenceNumber', { event: 'media', sequenceNumber: 7, media }],
    ['unknown fields (dropped)', { event: 'media', extra: 1, media: { ...media, extra: true } }],
    ['a mark echo', { event: 'mark', sequenceNumber: '4', streamSid: 'MZ1', mark: { name: '12', extra: 1 } }],
    ['payload not base64', { event: 'media', media: { payload: 'no spaces!' } }],
    ['payload a number', { event: 'media', media: { payload: 5 } }],
    ['no media', { event: 'media' }],
    ['media an array', { event: 'media', media: [] }],
    ['track a number', { event: 'media', media: { ...media, track: 1 } }],
    ['streamSid a number', { event: 'media', streamSid: 1, media }],
    ['sequenceNumber an object', { event: 'mark', sequenceNumber: {}, mark: { name: 'a' } }],
    ['mark without a name', { event: 'mark', mark: {} }],
    ['mark name a number', { event: 'mark', mark: { name: 1 } }],
  ];

  it.each(cases)('agrees with the schema: %s', (_what, value) => {
    const expected = TwilioInboundSchema.safeParse(value);
    const parsed = parseTwilioMessage(JSON.stringify(value));
    expect(parsed.ok).toBe(expected.success);
    if (parsed.ok && expected.success) expect(parsed.message).toStrictEqual(expected.data);
    if (!parsed.ok) expect(parsed.reason).toBe('invalid');
  });
});
