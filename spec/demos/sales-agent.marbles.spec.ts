import type { CrewEvent } from 'rxcrew';
import { scriptedResponder } from 'rxcrew/llm';
import { testSession } from 'rxcrew/testing';
import { greetingFor, SALES_RULES, SCRIPT } from '../../demos/sales-agent/sales-agent';
import { createSetup, SPEECH_COUNT_KEY } from '../../demos/sales-agent/setup';

// The sales-agent demo's own setup (tracker → agent, the page's hooks, waiting for
// system.init) as a whole-session marble test: virtual time, so the script's 30 ms
// between pieces and the 1 s wait for system.init take no real time.

/** The demo's script as the server runs it (3 words a piece, 30 ms apart), whatever model the environment names. */
const responder = scriptedResponder(SALES_RULES, { chunkDelayMs: 30, fallback: () => SCRIPT.fallback });

function demo() {
  const logs: string[] = [];
  return { logs, setup: createSetup({ log: (line) => void logs.push(line), responder }) };
}

const chunk = (text: string): CrewEvent => ({ type: 'agent.llm.response.chunk', text });

const values: Record<string, CrewEvent> = {
  // what the client sends
  i: { type: 'system.init', version: '1.0', session_context: { initial_variables: { customer_name: 'Ada' }, conversation_type: 'chat' } },
  u: { type: 'agent.transcript.update', role: 'user', content: 'Thanks, bye!' },
  p: { type: 'agent.transcript.update', role: 'user', content: 'How much does it cost?' },
  y: { type: 'agent.transcript.update', role: 'user', content: 'yes' },
  q: { type: 'system.llm.request', request_id: 'q1' },
  Q: { type: 'system.llm.request', request_id: 'q2' },
  // what it receives
  r: { type: 'agent.ready', session_id: 'test' },
  g: { type: 'agent.speak', text: greetingFor('Ada') },
  s: { type: 'agent.llm.response.start', request_id: 'q1' },
  S: { type: 'agent.llm.response.start', request_id: 'q2' },
  t: { type: 'agent.log', name: 'tool_call_start', payload: { tool: 'end_call', call_id: 'call_scripted_1', arguments: '{}' } },
  T: { type: 'agent.log', name: 'tool_call_end', payload: { tool: 'end_call', call_id: 'call_scripted_1', result: 'the call will end after your reply' } },
  e: { type: 'agent.llm.response.end' },
  x: { type: 'agent.end_call' },
};

/** The figures `OutputCrewNode` sends after a turn's end. */
const figures = (payload: Record<string, unknown>): CrewEvent => ({ type: 'agent.log', name: 'turn.metrics', payload: { tool_ms: 0, ...payload } });

describe('sales agent, whole-session marbles', () => {
  it('greets the caller by the name in system.init as soon as it arrives', async () => {
    const { setup, logs } = demo();
    const { session } = await testSession(setup, { client: 'i', expected: '(rg)', values });
    expect(logs[0]).toBe('User test connected!');
    expect(session.context.get(SPEECH_COUNT_KEY)).toBe(1);
  });

  it('starts after the 1 s wait for system.init when none comes, and greets "there"', async () => {
    const { setup } = demo();
    await testSession(setup, { expected: '1000ms (rg)', values: { ...values, g: { type: 'agent.speak', text: greetingFor(undefined) } } });
  });

  it('says goodbye through its end_call tool, then agent.end_call after the end, and answers nothing more', async () => {
    const { setup } = demo();
    await testSession(setup, {
      // a goodbye at 10 ms, another request at 300 ms
      client: 'i 9ms (uq) 286ms Q',
      // the tool request after one pause (40), the goodbye in three pieces (70, 100, 130)
      // the turn's figures right after its end: request at 10, first text at 70, end at 130
      expected: '(rg) 6ms s 29ms (tT) 26ms a 29ms b 29ms (cemx)',
      values: {
        ...values,
        a: chunk('Thanks for chatting '),
        b: chunk('with HelioMax Solar. '),
        c: chunk('Goodbye!'),
        m: figures({ request_id: 'q1', ttft_ms: 60, duration_ms: 120, interrupted: false, chunks: 3, outcome: 'completed' }),
      },
    });
  });

  it('an interrupt cuts the answer short; the conversation keeps only what was sent', async () => {
    const { setup, logs } = demo();
    await testSession(setup, {
      // the price question at 10; "yes" at 100; the client hangs up at 131
      client: 'i 9ms (pq) 86ms (yQ) 27ms |',
      interrupt: '75ms I',
      // two pieces (40, 70), the interrupt's end (75); the survey offer was never sent, so "yes" gets the fallback (130)
      expected: '(rg) 6ms s 29ms a 29ms b 4ms (em) 21ms S 29ms f|',
      values: {
        ...values,
        a: chunk('The HelioMax 400 '),
        b: chunk('panel costs $349, '),
        e: { type: 'agent.llm.response.end', interrupted: true },
        m: figures({ request_id: 'q1', ttft_ms: 30, duration_ms: 65, interrupted: true, chunks: 2, outcome: 'interrupted' }),
        f: chunk('I can tell '),
      },
    });
    expect(logs).toContain('User interrupted the agent!');
    expect(logs.at(-1)).toMatch(/^Stats for session test: \{.*"user_turns":2,"llm_requests":2\}/);
  });

  it('fails, showing the diagrams, when the agent answers otherwise', async () => {
    const { setup } = demo();
    const run = testSession(setup, {
      client: 'i 9ms (pq)',
      expected: '(rg) 6ms s 29ms a',
      values: { ...values, a: chunk('It costs ') },
    });
    await expect(run).rejects.toThrow(
      /expected {2}\(rg\) 6ms s 29ms a\n {2}actual {4}\(rg\) 6ms s 29ms \? 29ms \?[\s\S]*expected {2}a at frame 40: \{"type":"agent.llm.response.chunk","text":"It costs "\}\n {2}actual {4}\? at frame 40: \{"type":"agent.llm.response.chunk","text":"The HelioMax 400 "\}/,
    );
  });
});
