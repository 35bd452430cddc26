import {
  DEFAULT_CALL_PARAMETERS,
  callParameters,
  connectStreamTwiml,
  escapeXml,
  parseFormBody,
  publicOrigin,
  requestUrl,
  streamUrl,
} from '../../lib/telephony/twiml';

describe('publicOrigin', () => {
  it('takes X-Forwarded-Host over Host, the first of a list', () => {
    expect(publicOrigin({ headers: { host: '127.0.0.1:3000', 'x-forwarded-host': 'abc.ngrok.app, proxy.internal' } })).toEqual({ secure: true, host: 'abc.ngrok.app' });
    expect(publicOrigin({ headers: { host: 'agent.example.com' } })).toEqual({ secure: true, host: 'agent.example.com' });
    expect(publicOrigin({ headers: { host: '[::1]:8080' } })).toEqual({ secure: true, host: '[::1]:8080' });
  });

  it('is insecure only when a proxy says http', () => {
    expect(publicOrigin({ headers: { host: 'a.example', 'x-forwarded-proto': 'http' } })).toEqual({ secure: false, host: 'a.example' });
    expect(publicOrigin({ headers: { host: 'a.example', 'x-forwarded-proto': 'https, http' } })).toEqual({ secure: true, host: 'a.example' });
  });

  it('takes publicUrl over any header, with its scheme', () => {
    const headers = { host: 'forged.example', 'x-forwarded-host': 'forged.example' };
    expect(publicOrigin({ headers, publicUrl: 'https://agent.example.com/base' })).toEqual({ secure: true, host: 'agent.example.com' });
    expect(publicOrigin({ headers, publicUrl: 'ws://127.0.0.1:4000' })).toEqual({ secure: false, host: '127.0.0.1:4000' });
    expect(publicOrigin({ headers, publicUrl: 'agent.example.com' })).toEqual({ secure: true, host: 'agent.example.com' });
  });

  it('gives undefined when no well-formed host is known (nothing odd reaches a URL)', () => {
    expect(publicOrigin({ headers: {} })).toBeUndefined();
    expect(publicOrigin({ headers: { host: '' } })).toBeUndefined();
    for (const host of ['a.example"><x', 'a b', 'a.example/path', 'user@a.example', 'a.example:port', '-a.example']) {
      expect([host, publicOrigin({ headers: { host } })]).toEqual([host, undefined]);
    }
    expect(publicOrigin({ headers: { host: 'ok.example' }, publicUrl: 'https://bad host/' })).toBeUndefined();
  });
});

describe('URLs', () => {
  it('builds the stream URL and the signed request URL from an origin', () => {
    expect(streamUrl({ secure: true, host: 'a.example' })).toBe('wss://a.example/twilio');
    expect(streamUrl({ secure: false, host: '127.0.0.1:3000' }, '/phone')).toBe('ws://127.0.0.1:3000/phone');
    expect(requestUrl({ secure: true, host: 'a.example' }, '/twilio/voice?x=1')).toBe('https://a.example/twilio/voice?x=1');
  });
});

describe('connectStreamTwiml', () => {
  it('answers <Response><Connect><Stream url=…> with a <Parameter> per call parameter', () => {
    expect(connectStreamTwiml('wss://a.example/twilio', { from: '+15551234567', to: '+15557654321' })).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://a.example/twilio">' +
        '<Parameter name="from" value="+15551234567"/><Parameter name="to" value="+15557654321"/>' +
        '</Stream></Connect></Response>',
    );
    expect(connectStreamTwiml('wss://a.example/twilio')).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://a.example/twilio"></Stream></Connect></Response>',
    );
  });

  it('XML-escapes names, values and the URL', () => {
    const xml = connectStreamTwiml('wss://a.example/twilio?a=1&b=2', { 'x"y': `O'Brien & <Sons>` });
    expect(xml).toContain('<Stream url="wss://a.example/twilio?a=1&amp;b=2">');
    expect(xml).toContain('<Parameter name="x&quot;y" value="O&apos;Brien &amp; &lt;Sons&gt;"/>');
  });
});

describe('escapeXml', () => {
  it('keeps tabs and line breaks as references and drops what XML cannot hold', () => {
    expect(escapeXml('a\tb\nc\rd')).toBe('a&#9;b&#10;c&#13;d');
    expect(escapeXml('a\u0000b\u001Fc\uFFFEd')).toBe('abcd');
    expect(escapeXml('lone \uD800 high, lone \uDC00 low, pair 😀')).toBe('lone  high, lone  low, pair 😀');
  });
});

describe('callParameters', () => {
  const form: Array<[string, string]> = [
    ['AccountSid', 'AC1'],
    ['CallSid', 'CA1'],
    ['From', '+15551234567'],
    ['To', '+15557654321'],
    ['Direction', 'inbound'],
    ['CallerName', ''],
    ['From', '+10000000000'],
  ];

  it('picks From, To, Direction, CallerName, ForwardedFrom by default, renamed to snake_case; empty and repeated fields left out', () => {
    expect(callParameters(form)).toEqual({ from: '+15551234567', to: '+15557654321', direction: 'inbound' });
    expect(Object.values(DEFAULT_CALL_PARAMETERS)).toEqual(['from', 'to', 'direction', 'caller_name', 'forwarded_from']);
  });

  it('takes other names when asked, and no inherited ones', () => {
    expect(callParameters(form, { CallSid: 'twilio_call' })).toEqual({ twilio_call: 'CA1' });
    expect(callParameters([['toString', 'x'], ['__proto__', 'y']])).toEqual({});
  });
});

describe('parseFormBody', () => {
  it('decodes application/x-www-form-urlencoded, keeping order and repeats', () => {
    expect(parseFormBody('From=%2B15551234567&CallerName=Jane+Doe&Digits=1&Digits=2&Empty=&Bare')).toEqual([
      ['From', '+15551234567'],
      ['CallerName', 'Jane Doe'],
      ['Digits', '1'],
      ['Digits', '2'],
      ['Empty', ''],
      ['Bare', ''],
    ]);
  });

  it('reads bytes as UTF-8 and survives malformed escapes', () => {
    expect(parseFormBody(Buffer.from('CallerName=J%C3%BCrgen'))).toEqual([['CallerName', 'Jürgen']]);
    expect(parseFormBody('a=%ZZ&b=%E0%A4')).toEqual([
      ['a', '%ZZ'],
      ['b', '\uFFFD'],
    ]);
    expect(parseFormBody('')).toEqual([]);
  });
});
