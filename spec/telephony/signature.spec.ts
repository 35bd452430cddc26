import { createHmac } from 'node:crypto';
import { signedString, twilioSignature, urlVariants, validateTwilioSignature } from '../../lib/telephony/signature';
import { parseFormBody } from '../../lib/telephony/twiml';

/*
 * Twilio's documented example: auth token 12345, a POST to
 * https://mycompany.com/myapp.php?foo=1&bar=2 with five fields. The vectors
 * below are verbatim from twilio-python's tests/unit/test_request_validator.py
 * (the same example, and the port and repeated-field cases). Twilio's page has
 * shown the example with other phone numbers over the years; the two variants
 * quoted from it elsewhere are checked too.
 */
const TOKEN = '12345';
const URL_ = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const PARAMS = {
  CallSid: 'CA1234567890ABCDE',
  Digits: '1234',
  From: '+14158675309',
  To: '+18005551212',
  Caller: '+14158675309',
};
const EXPECTED = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';

const docsVariant = (number: string) => ({ CallSid: 'CA1234567890ABCDE', Caller: number, Digits: '1234', From: number, To: '+18005551212' });

describe('X-Twilio-Signature', () => {
  it("computes the documented example's signature", () => {
    expect(twilioSignature(TOKEN, URL_, PARAMS)).toBe(EXPECTED);
    expect(twilioSignature(TOKEN, URL_, docsVariant('+12349013030'))).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
    expect(twilioSignature(TOKEN, URL_, docsVariant('+14158675310'))).toBe('GvWf1cFY/Q7PnoempGyD5oXAezc=');
  });

  it('signs the URL, then each field as name + value sorted by name, with no delimiters', () => {
    expect(signedString(URL_, PARAMS)).toBe(
      'https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212',
    );
    // the same HMAC by hand, so the string above is what is signed
    expect(createHmac('sha1', TOKEN).update(signedString(URL_, PARAMS)).digest('base64')).toBe(EXPECTED);
  });

  it('accepts the documented example', () => {
    expect(validateTwilioSignature({ authToken: TOKEN, signature: EXPECTED, url: URL_, params: PARAMS })).toBe(true);
  });

  it('refuses it changed in any part: a field, the URL, the token, the signature', () => {
    const check = (over: Partial<Parameters<typeof validateTwilioSignature>[0]>) =>
      validateTwilioSignature({ authToken: TOKEN, signature: EXPECTED, url: URL_, params: PARAMS, ...over });
    expect(check({ params: { ...PARAMS, Digits: '1235' } })).toBe(false);
    expect(check({ params: { ...PARAMS, Extra: '' } })).toBe(false);
    const { Caller: _, ...fewer } = PARAMS;
    expect(check({ params: fewer })).toBe(false);
    expect(check({ url: 'https://mycompany.com/myapp.php?foo=1&bar=3' })).toBe(false);
    expect(check({ url: 'http://mycompany.com/myapp.php?foo=1&bar=2' })).toBe(false);
    expect(check({ url: 'https://evil.example/myapp.php?foo=1&bar=2' })).toBe(false);
    expect(check({ authToken: '12346' })).toBe(false);
    expect(check({ authToken: '' })).toBe(false);
    expect(check({ signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B9=' })).toBe(false);
    expect(check({ signature: EXPECTED.slice(0, -1) })).toBe(false);
    expect(check({ signature: '' })).toBe(false);
    expect(check({ signature: undefined })).toBe(false);
    expect(check({ signature: [EXPECTED, EXPECTED] })).toBe(false);
  });

  it('does not depend on the order the fields came in', () => {
    const reversed = Object.entries(PARAMS).reverse();
    expect(validateTwilioSignature({ authToken: TOKEN, signature: EXPECTED, url: URL_, params: reversed })).toBe(true);
  });

  it('signs a repeated field with each distinct value once, sorted (twilio-python vector)', () => {
    const pairs: Array<[string, string]> = [
      ['Sid', 'CA123'],
      ['SidAccount', 'AC123'],
      ['Digits', '5678'],
      ['Digits', '1234'],
    ];
    expect(twilioSignature(TOKEN, URL_, pairs)).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
    expect(twilioSignature(TOKEN, URL_, { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '5678'] })).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
  });

  it('tries the URL with and without its port, as Twilio may sign either (twilio-python vectors)', () => {
    const v = (url: string, signature: string) => validateTwilioSignature({ authToken: TOKEN, signature, url, params: PARAMS });
    expect(v(URL_.replace('.com', '.com:1234'), EXPECTED)).toBe(true); // signed without the port
    expect(v(URL_.replace('.com', '.com:1234').replace('https', 'http'), 'Zmvh+3yNM1Phv2jhDCwEM3q5ebU=')).toBe(true); // with it
    expect(v(URL_, 'kvajT1Ptam85bY51eRf/AJRuM3w=')).toBe(true); // signed with :443
    expect(v(URL_.replace('https', 'http'), '0ZXoZLH/DfblKGATFgpif+LLRf4=')).toBe(true); // signed with :80
    expect(v(URL_.replace('.com', '.com:8443'), 'kvajT1Ptam85bY51eRf/AJRuM3w=')).toBe(false); // another port is not the default
  });

  it('lists those URL variants', () => {
    expect(urlVariants('https://a.example/x?y=1')).toEqual(['https://a.example/x?y=1', 'https://a.example:443/x?y=1']);
    expect(urlVariants('http://a.example:8080/x')).toEqual(['http://a.example:8080/x', 'http://a.example/x']);
    expect(urlVariants('https://u:p@[::1]:443/')).toEqual(['https://u:p@[::1]:443/', 'https://u:p@[::1]/']);
    expect(urlVariants('not a url')).toEqual(['not a url']);
  });

  it('validates a form body as Twilio posts it (%2B for +)', () => {
    const body = 'CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&From=%2B14158675309&To=%2B18005551212';
    expect(validateTwilioSignature({ authToken: TOKEN, signature: EXPECTED, url: URL_, params: parseFormBody(body) })).toBe(true);
    // a raw + is a space in a form body: a different request
    expect(validateTwilioSignature({ authToken: TOKEN, signature: EXPECTED, url: URL_, params: parseFormBody(body.replaceAll('%2B', '+')) })).toBe(false);
  });
});
