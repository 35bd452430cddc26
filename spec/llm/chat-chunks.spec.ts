import { ChatChunkAccumulator } from '../../lib/llm/chat-chunks';
import { LlmErrorCodes } from '../../lib/llm';

const delta = (d: Record<string, unknown>, finish: string | null = null, index = 0) => ({
  choices: [{ index, delta: d, finish_reason: finish }],
});

describe('ChatChunkAccumulator', () => {
  it('passes text through and skips empty content and role-only deltas', () => {
    const acc = new ChatChunkAccumulator();
    expect(acc.push(delta({ role: 'assistant', content: '' }))).toEqual([]);
    expect(acc.push(delta({ content: 'Hi' }))).toEqual([{ type: 'text', text: 'Hi' }]);
    expect(acc.push(delta({ content: null }))).toEqual([]);
  });

  it('reads only choice 0', () => {
    const acc = new ChatChunkAccumulator();
    expect(acc.push(delta({ content: 'other' }, 'stop', 1))).toEqual([]);
    expect(acc.finished).toBe(false);
  });

  it('ignores usage: null and fills in a missing total', () => {
    const acc = new ChatChunkAccumulator();
    expect(acc.push({ ...delta({ content: 'a' }), usage: null })).toEqual([{ type: 'text', text: 'a' }]);
    expect(acc.push({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 3 } })).toEqual([
      { type: 'usage', usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } },
    ]);
  });

  it('copes with servers that repeat the name, leave out index or id', () => {
    const acc = new ChatChunkAccumulator();
    acc.push(delta({ tool_calls: [{ id: 'c1', function: { name: 'a', arguments: '{"x"' } }] }));
    acc.push(delta({ tool_calls: [{ function: { name: 'a', arguments: ':1}' } }] }));
    acc.push(delta({ tool_calls: [{ id: 'c2', function: { name: 'b', arguments: '{}' } }] }));
    acc.push(delta({ tool_calls: [{ index: 2, function: { name: 'c', arguments: '' } }] }));

    expect(acc.end()).toEqual([
      {
        type: 'tool_calls',
        calls: [
          { id: 'c1', type: 'function', function: { name: 'a', arguments: '{"x":1}' } },
          { id: 'c2', type: 'function', function: { name: 'b', arguments: '{}' } },
          { id: 'call_2', type: 'function', function: { name: 'c', arguments: '' } },
        ],
      },
    ]);
    expect(acc.end()).toEqual([]); // flushed once
  });

  it('emits tool calls before the finish that ends their choice', () => {
    const acc = new ChatChunkAccumulator();
    acc.push(delta({ tool_calls: [{ index: 0, id: 'c', function: { name: 'f', arguments: '{}' } }] }));
    expect(acc.push(delta({}, 'stop')).map((c) => c.type)).toEqual(['tool_calls', 'finish']);
    expect(acc.finished).toBe(true);
  });

  it('throws a stream error for an error payload and a bad-response error for a non-object', () => {
    const acc = new ChatChunkAccumulator();
    expect(() => acc.push({ error: { message: 'quota' } })).toThrow(expect.objectContaining({ code: LlmErrorCodes.STREAM }));
    expect(() => acc.push(42)).toThrow(expect.objectContaining({ code: LlmErrorCodes.BAD_RESPONSE }));
  });
});
