import { SentenceSplitter, splitSentences } from '../../lib/tts/sentences';

const all = (text: string, minChars = 0) => splitSentences(text, { minChars });

describe('SentenceSplitter', () => {
  it('returns each sentence as soon as the text after it shows that it ended', () => {
    const splitter = new SentenceSplitter({ minChars: 0 });
    expect(splitter.push('Hello there')).toEqual([]);
    expect(splitter.push('. How are')).toEqual(['Hello there.']);
    expect(splitter.push(' you?')).toEqual([]); // "?" at the end: the next piece decides
    expect(splitter.push(' Fine!')).toEqual(['How are you?']);
    expect(splitter.pending).toBe(' Fine!');
    expect(splitter.flush()).toEqual(['Fine!']);
    expect(splitter.flush()).toEqual([]);
  });

  it('ends sentences at ., !, ?, … and runs of them, closing quotes and brackets included', () => {
    expect(all('Really?! Yes... "Go." (Now!) Done… ok')).toEqual(['Really?!', 'Yes...', '"Go."', '(Now!)', 'Done…', 'ok']);
  });

  it('ends a sentence at a line break, and collapses whitespace', () => {
    expect(all('First line\nsecond   line\n\n  third')).toEqual(['First line', 'second line', 'third']);
  });

  it('does not split numbers, abbreviations, initialisms, domains or list numbers', () => {
    expect(all('It costs 3.5 dollars, e.g. at Dr. Smith in the U.S. on example.com today. Next.')).toEqual([
      'It costs 3.5 dollars, e.g. at Dr. Smith in the U.S. on example.com today.',
      'Next.',
    ]);
    expect(all('Steps:\n1. Open it.\n2. Close it.')).toEqual(['Steps:', '1. Open it.', '2. Close it.']);
  });

  it('waits at a final "." in case a number goes on, across pieces', () => {
    const splitter = new SentenceSplitter({ minChars: 0 });
    expect(splitter.push('The price is 3.')).toEqual([]);
    expect(splitter.push('5 euros. Thanks')).toEqual(['The price is 3.5 euros.']);
  });

  it('joins sentences shorter than minChars to the next', () => {
    const splitter = new SentenceSplitter({ minChars: 20 });
    expect(splitter.push('Hi. Sure. I can help you with that. Ok')).toEqual(['Hi. Sure. I can help you with that.']);
    expect(splitter.flush()).toEqual(['Ok']);
    expect(splitSentences('Hi!')).toEqual(['Hi!']); // the end speaks what is left, however short
  });

  it('cuts text with no sentence end past maxChars at a comma, else at a space', () => {
    const clause = 'one clause of words, ';
    const splitter = new SentenceSplitter({ minChars: 0, maxChars: 50 });
    const out = splitter.push(clause.repeat(4));
    expect(out).toEqual(['one clause of words, one clause of words,']);
    expect(splitSentences('word '.repeat(30), { maxChars: 42 }).every((s) => s.length <= 42)).toBe(true);
    expect(splitSentences('x'.repeat(100), { maxChars: 40 })).toEqual(['x'.repeat(40), 'x'.repeat(40), 'x'.repeat(20)]);
  });

  it('cuts an over-long sentence even when its end is known', () => {
    const long = `${'blah '.repeat(20)}end. Short one.`;
    const parts = splitSentences(long, { maxChars: 60, minChars: 0 });
    expect(parts.every((p) => p.length <= 60)).toBe(true);
    expect(parts.join(' ')).toBe(long.replace(/\s+/g, ' ').trim());
  });

  it('drops markdown a voice would read aloud, and pieces with nothing to say', () => {
    expect(all('## Plan\nThis is **very** `important`. ... ** \n- item')).toEqual(['Plan', 'This is very important.', '- item']);
  });

  it('forgets held-back text on reset', () => {
    const splitter = new SentenceSplitter();
    splitter.push('Half a sent');
    splitter.reset();
    expect(splitter.flush()).toEqual([]);
  });

  it('checks its options', () => {
    expect(() => new SentenceSplitter({ minChars: -1 })).toThrow(expect.objectContaining({ code: 'CREW_ERR_INVALID_ARGUMENT' }));
    expect(() => new SentenceSplitter({ minChars: 30, maxChars: 10 })).toThrow(/maxChars/);
  });
});
