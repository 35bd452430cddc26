import { lastValueFrom, Observable, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { ChatMessage, Turn, TurnOutput } from '../../lib/agent/types';
import { ErrorCodes } from '../../lib/errors';
import { DEFAULT_SCRIPT_RULES, ScriptRule, scriptedResponder } from '../../lib/llm';
import { STORY } from '../../lib/llm/scripted-rules';
import { makeTurn, toolSpec, user } from './support/turns';

const NOW = new Date('2024-05-03T14:05:00Z'); // a Friday
const fast = { chunkDelayMs: 0, now: () => NOW };

/** Everything one call yields, as an array. */
const run = (respond: ReturnType<typeof scriptedResponder>, turn: Turn): Promise<TurnOutput[]> =>
  lastValueFrom((respond(turn) as Observable<TurnOutput>).pipe(toArray()));

/** The whole reply text of one call. */
const reply = async (text: string, rules?: ScriptRule[]): Promise<string> =>
  (await run(scriptedResponder(rules, fast), makeTurn([{ role: 'system', content: 'sys' }, user(text)]))).join('');

describe('scriptedResponder', () => {
  it.each([
    ['Hello there', /^Hello! I'm the rxcrew demo assistant/],
    ['Can you help me?', /^I can greet you, tell you the time/],
    ['what time is it?', /^It is 14:05 UTC\.$/],
    ["What's the date?", /^Today is Friday, 3 May 2024\.$/],
    ['Tell me a story', new RegExp(`^${STORY.slice(0, 20)}`)],
    ["what's the weather in new york today?", /cannot check the weather in New York\.$/],
    ['thanks!', /^You're welcome!/],
    ['ok bye', /^Goodbye!/],
    ['The sky is green', /^You said: "The sky is green"\./],
  ])('answers %j by the default rules', async (text, expected) => {
    expect(await reply(text)).toMatch(expected);
  });

  it('greets when there is no user message yet', async () => {
    expect(await reply('')).toBe('Hello! How can I help you today?');
  });

  it('takes custom rules: keyword, phrase list, RegExp with groups, predicate; first match wins', async () => {
    const rules: ScriptRule[] = [
      { name: 'price', when: 'price', reply: 'It costs $5.' },
      { name: 'hours', when: ['open', 'opening hours'], reply: 'We open at 9.' },
      { name: 'name', when: /my name is (\w+)/i, reply: (m) => `Nice to meet you, ${m.match?.[1]}!` },
      { name: 'shout', when: (t) => t === t.toUpperCase() && /[A-Z]/.test(t), reply: 'No need to shout.' },
    ];
    expect(await reply('What is the PRICE?', rules)).toBe('It costs $5.');
    expect(await reply('prices?', rules)).toMatch(/^You said/); // whole words only
    expect(await reply('When do you open', rules)).toBe('We open at 9.');
    expect(await reply('hi, my name is Ada', rules)).toBe('Nice to meet you, Ada!');
    expect(await reply('HELLO', rules)).toBe('No need to shout.');
  });

  it('streams the reply in pieces of wordsPerChunk words, chunkDelayMs apart (virtual time)', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const rules: ScriptRule[] = [{ name: 'r', when: () => true, reply: 'one two three four five' }];
    scheduler.run(({ expectObservable }) => {
      const respond = scriptedResponder(rules, { chunkDelayMs: 10, wordsPerChunk: 2, scheduler });
      expectObservable(respond(makeTurn([user('x')])) as Observable<TurnOutput>).toBe('10ms a 9ms b 9ms (c|)', {
        a: 'one two ',
        b: 'three four ',
        c: 'five',
      });
    });
  });

  it('stops at once when turn.signal fires (virtual time)', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const controller = new AbortController();
    scheduler.run(({ expectObservable }) => {
      const respond = scriptedResponder(undefined, { chunkDelayMs: 10, scheduler });
      scheduler.schedule(() => controller.abort(), 15);
      expectObservable(respond(makeTurn([user('tell me a story')], { signal: controller.signal })) as Observable<TurnOutput>).toBe(
        '10ms a 4ms |',
        { a: 'Once upon a ' },
      );
    });
  });

  it('streams asynchronously with real timers and stops when aborted mid-reply', async () => {
    const controller = new AbortController();
    const pieces: TurnOutput[] = [];
    const respond = scriptedResponder(undefined, { chunkDelayMs: 2 });
    await new Promise<void>((resolve) => {
      (respond(makeTurn([user('tell me a story')], { signal: controller.signal })) as Observable<TurnOutput>).subscribe({
        next: (piece) => {
          pieces.push(piece);
          if (pieces.length === 2) controller.abort();
        },
        complete: resolve,
      });
      expect(pieces).toEqual([]); // nothing synchronously
    });
    expect(pieces).toEqual(['Once upon a ', 'time, a tiny ']);
  });

  it('yields nothing for a turn that was aborted before it started', async () => {
    expect(await run(scriptedResponder(undefined, fast), makeTurn([user('hi')], { signal: AbortSignal.abort() }))).toEqual([]);
  });

  it('asks for an offered tool with JSON args, then phrases its result on the follow-up call', async () => {
    const respond = scriptedResponder(undefined, fast);
    const messages: ChatMessage[] = [user('What is the weather in Paris?')];
    const tools = [toolSpec('get_weather'), toolSpec('get_time')];

    const first = await run(respond, makeTurn(messages, { tools }));
    expect(first).toEqual([
      { tool_calls: [{ id: 'call_scripted_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
    ]);

    const calls = (first[0] as { tool_calls: NonNullable<ChatMessage['tool_calls']> }).tool_calls;
    const followUp: ChatMessage[] = [
      ...messages,
      { role: 'assistant', content: '', tool_calls: calls },
      { role: 'tool', content: JSON.stringify('sunny, 21 °C'), tool_call_id: 'call_scripted_1' },
    ];
    expect((await run(respond, makeTurn(followUp, { tools }))).join('')).toBe('Here is the weather in Paris: sunny, 21 °C.');
  });

  it('phrases other tools and failed tools generically, and answers without a tool not offered', async () => {
    const respond = scriptedResponder(undefined, fast);
    const followUp: ChatMessage[] = [
      user('lookup please'),
      { role: 'assistant', content: '', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
      { role: 'tool', content: '{"hits":2}', tool_call_id: 'c1' },
    ];
    expect((await run(respond, makeTurn(followUp))).join('')).toBe('lookup returned {"hits":2}.');
    followUp[2] = { role: 'tool', content: '{"error":"index offline"}', tool_call_id: 'c1' };
    expect((await run(respond, makeTurn(followUp))).join('')).toBe('Sorry, lookup failed: index offline.');
    expect((await run(respond, makeTurn([user('what time is it')]))).join('')).toBe('It is 14:05 UTC.');
  });

  it('is deterministic: the same turn gives the same output', async () => {
    const turn = makeTurn([user('help')]);
    const respond = scriptedResponder(DEFAULT_SCRIPT_RULES, fast);
    expect(await run(respond, turn)).toEqual(await run(respond, turn));
  });

  it.each([
    [{ chunkDelayMs: -1 }, 'chunkDelayMs'],
    [{ wordsPerChunk: 0 }, 'wordsPerChunk'],
  ])('rejects bad options (%j)', (options, name) => {
    expect(() => scriptedResponder(undefined, options)).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(() => scriptedResponder(undefined, options)).toThrow(name);
  });
});
