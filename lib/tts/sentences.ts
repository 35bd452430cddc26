import { InvalidArgumentError } from '../errors';

export interface SentenceSplitterOptions {
  /** A sentence shorter than this is joined to the next one ("Hi." alone sounds clipped). Default 20. */
  minChars?: number;
  /** A run of text longer than this with no sentence end is cut at a comma or space. Default 250. */
  maxChars?: number;
}

const ENDS = '.!?…';
const CLOSERS = `"')]}»”’`;
/** Words that end in "." without ending the sentence (compared lower-case). */
const ABBREVIATIONS = new Set(['mr', 'mrs', 'ms', 'dr', 'prof', 'sr', 'jr', 'st', 'vs', 'cf', 'approx', 'etc', 'fig']);

/**
 * Cuts streamed text into sentences, so that speech can start before a reply
 * ends. A sentence ends at `.`, `!`, `?` or `…` (runs like `?!` or `...` and
 * closing quotes or brackets included) followed by whitespace, or at a line
 * break. Not ends: a `.` inside a token (`3.5`, `example.com`), after an
 * abbreviation (`Dr.`, `e.g.`, `U.S.`, `etc.`) or a list number at a line's start
 * (`1.`). A `.` at the very end of the text so far waits for the next piece,
 * since `3.` may become `3.5`. Whitespace is collapsed; pieces with no letter
 * or digit (`...`, `**`) are dropped.
 *
 * @example
 * const splitter = new SentenceSplitter();
 * splitter.push('Sure, I can help with that. The ord'); // ['Sure, I can help with that.']
 * splitter.push('er ships on Monday.');                 // [] ("Monday." may go on)
 * splitter.flush();                                     // ['The order ships on Monday.']
 */
export class SentenceSplitter {
  readonly minChars: number;
  readonly maxChars: number;
  private buffer = '';

  constructor(options: SentenceSplitterOptions = {}) {
    this.minChars = options.minChars ?? 20;
    this.maxChars = options.maxChars ?? 250;
    if (!Number.isInteger(this.minChars) || this.minChars < 0) {
      throw new InvalidArgumentError(`SentenceSplitter: minChars must be an integer ≥ 0, got ${String(options.minChars)}`);
    }
    if (!Number.isInteger(this.maxChars) || this.maxChars < Math.max(this.minChars, 1)) {
      throw new InvalidArgumentError(`SentenceSplitter: maxChars must be an integer ≥ minChars and ≥ 1, got ${String(options.maxChars)}`);
    }
  }

  /** The text held back, waiting for the rest of its sentence. */
  get pending(): string {
    return this.buffer;
  }

  /** Adds text; returns the sentences it completed. */
  push(text: string): string[] {
    this.buffer += text;
    return this.take(false);
  }

  /** The text is complete: returns what was held back, as sentences. */
  flush(): string[] {
    return this.take(true);
  }

  /** Forgets what was held back. */
  reset(): void {
    this.buffer = '';
  }

  private take(final: boolean): string[] {
    const sentences: string[] = [];
    for (let cut = this.nextCut(); cut !== undefined; cut = this.nextCut()) {
      keepSpeakable(sentences, this.buffer.slice(0, cut));
      this.buffer = this.buffer.slice(cut);
    }
    if (final) {
      keepSpeakable(sentences, this.buffer);
      this.buffer = '';
    }
    return sentences;
  }

  /** Where the first sentence of the buffer ends, if that is known yet. */
  private nextCut(): number | undefined {
    const buf = this.buffer;
    for (let i = 0; i < buf.length; i++) {
      let end: number;
      if (buf[i] === '\n') {
        end = i + 1;
      } else if (ENDS.includes(buf[i])) {
        let j = i + 1;
        while (j < buf.length && ENDS.includes(buf[j])) j++;
        const run = j - i;
        while (j < buf.length && CLOSERS.includes(buf[j])) j++;
        if (j === buf.length) break; // the next piece decides
        const notAnEnd = !/\s/.test(buf[j]) || (run === 1 && buf[i] === '.' && isAbbreviationOrListNumber(buf, i));
        i = j - 1;
        if (notAnEnd) continue;
        end = j;
      } else {
        continue;
      }
      const length = buf.slice(0, end).trim().length;
      if (length > this.maxChars) return this.softCut();
      if (length >= this.minChars) return end;
    }
    return buf.trim().length > this.maxChars ? this.softCut() : undefined;
  }

  /** A cut within `maxChars`: after the last comma, semicolon or colon, else the last space. */
  private softCut(): number {
    const start = this.buffer.length - this.buffer.trimStart().length;
    const head = this.buffer.slice(0, start + this.maxChars);
    const clause = Math.max(...[', ', '; ', ': ', ' - ', ' — '].map((mark) => head.lastIndexOf(mark)));
    if (clause > start) return clause + 1;
    const space = head.search(/\s\S*$/);
    return space > start ? space + 1 : head.length;
  }
}

/** Splits a whole text into sentences (what `push` then `flush` would give). */
export function splitSentences(text: string, options: SentenceSplitterOptions = {}): string[] {
  const splitter = new SentenceSplitter(options);
  return [...splitter.push(text), ...splitter.flush()];
}

function isAbbreviationOrListNumber(buf: string, dot: number): boolean {
  let start = dot;
  while (start > 0 && /[\p{L}\p{N}.]/u.test(buf[start - 1])) start--;
  const word = buf.slice(start, dot);
  if (/^\d+$/.test(word)) return start === 0 || buf[start - 1] === '\n' || buf.slice(0, start).trim() === '';
  return ABBREVIATIONS.has(word.toLowerCase()) || /^(\p{L}\.)+\p{L}$/u.test(word);
}

/**
 * Markdown an LLM may emit that a voice would read aloud ("asterisk"):
 * emphasis stars, backticks, heading hashes. Whitespace is collapsed.
 */
function keepSpeakable(sentences: string[], text: string): void {
  const clean = text
    .replace(/^\s*#+\s+/gm, '')
    .replace(/[*`]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (/[\p{L}\p{N}]/u.test(clean)) sentences.push(clean);
}
