import { SseEvent, SseParser } from '../../lib/llm/sse';

/** Feeds `pieces` one by one, then ends the stream; returns every event. */
function parse(...pieces: string[]): SseEvent[] {
  const parser = new SseParser();
  return [...pieces.flatMap((piece) => parser.feed(piece)), ...parser.end()];
}

describe('SseParser', () => {
  it('parses data lines into events, one per blank line', () => {
    expect(parse('data: one\n\ndata: two\n\n')).toEqual([
      { event: 'message', data: 'one' },
      { event: 'message', data: 'two' },
    ]);
  });

  it('joins multi-line data with newlines and strips one leading space only', () => {
    expect(parse('data: a\ndata:  b\ndata:c\ndata\n\n')).toEqual([{ event: 'message', data: 'a\n b\nc\n' }]);
  });

  it('ignores comments, unknown fields and retry; keeps event and id', () => {
    expect(parse(': ping\nretry: 10\nfoo: bar\nevent: delta\nid: 7\ndata: x\n\n')).toEqual([
      { event: 'delta', data: 'x', id: '7' },
    ]);
  });

  it('accepts LF, CRLF and CR line breaks', () => {
    const expected = [
      { event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
      { event: 'message', data: 'c' },
    ];
    expect(parse('data: a\n\ndata: b\r\n\r\ndata: c\r\r')).toEqual(expected);
  });

  it('gives the same events however the stream is cut, even between \\r and \\n', () => {
    const stream = '\ufeff: hi\r\ndata: {"a":1}\r\n\r\nevent: e\ndata: x\ndata: y\n\ndata: [DONE]\r\n\r\n';
    const whole = parse(stream);
    expect(whole).toEqual([
      { event: 'message', data: '{"a":1}' },
      { event: 'e', data: 'x\ny' },
      { event: 'message', data: '[DONE]' },
    ]);
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j += 3) {
        expect(parse(stream.slice(0, i), stream.slice(i, j), stream.slice(j))).toEqual(whole);
      }
    }
  });

  it('keeps a last event that has no blank line after it', () => {
    expect(parse('data: [DONE]')).toEqual([{ event: 'message', data: '[DONE]' }]);
  });

  it('yields nothing for an empty stream, blank lines or an empty piece', () => {
    expect(parse('')).toEqual([]);
    expect(parse('\n\n\n')).toEqual([]);
    expect(parse('data: a\r', '', '\n\n')).toEqual([{ event: 'message', data: 'a' }]);
  });
});
