import { CrewApp, CrewSession } from 'rxcrew';
import { within } from '../integration/helpers';
import { echoChunks, STORY_START, testApp, TRANSFER_NUMBER } from './fixtures/agent';
import type { ChatOptions } from '../../lib/cli/chat';
import { ChatRun, closedPort, startChat } from './helpers';

/*
 * chat() against an in-process CrewApp serving the scripted test agent. Each
 * test checks what the user sees and the exact sequence of client-side events
 * the server's bus received. (The client's own system.user.joined is dropped by
 * the runtime, which emits one itself right after start(); chat-wire.spec.ts checks
 * the raw frames.)
 */

describe('rxcrew chat against a CrewApp', () => {
  let app: CrewApp;
  let url: string;
  const received = new Map<CrewSession, string[]>();
  const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };

  beforeAll(async () => {
    app = testApp({ logger: quiet, record: (s, line) => received.set(s, [...(received.get(s) ?? []), line]) });
    url = `ws://127.0.0.1:${(await app.listen()).port}/ws`;
  });
  beforeEach(() => received.clear());
  afterAll(() => app.close());

  /** The one session of the test, once it has ended, and the events it received. */
  async function ended(): Promise<{ session: CrewSession; events: string[] }> {
    expect(received.size).toBe(1);
    const [session] = [...received.keys()];
    await within(session.waitUntilComplete(), 'the session to end');
    return { session, events: received.get(session)! };
  }

  /** Types `lines` into a new chat, ends the input, and expects the chat to exit 0. */
  async function script(lines: string[], options: Partial<ChatOptions> = {}): Promise<ChatRun> {
    const run = startChat(url, options);
    for (const line of lines) run.say(line);
    run.end();
    expect(await run.done()).toBe(0);
    return run;
  }

  const handshake = ['system.user.joined', 'system.init'];
  const turn = (line: string, reply: string) => [
    `agent.transcript.update user: ${line}`,
    'system.llm.request',
    `agent.transcript.update assistant: ${reply}`,
  ];

  it('holds one turn per line and closes with 1000 at the end of input', async () => {
    const run = await script(['hi there', '   ' /* blank lines are not turns */, 'how are you']);
    expect(run.output.text).toBe('agent: Hello there!\nagent: You said: hi there\nagent: You said: how are you\n');
    expect(run.errors.text).toBe('');
    const { events } = await ended();
    expect(events).toEqual([
      ...handshake,
      ...turn('hi there', 'You said: hi there'),
      ...turn('how are you', 'You said: how are you'),
      'system.user.left 1000',
    ]);
  });

  it('prints each chunk as it arrives, without newlines, and a newline at the end', async () => {
    const run = await script(['streaming works']);
    const reply = run.output.writes.slice(run.output.writes.indexOf('agent: ', 1));
    expect(reply).toEqual(['agent: ', ...echoChunks('streaming works'), '\n']);
  });

  it('sends system.init with the initial variables and conversation_type chat', async () => {
    const run = startChat(url, { initialVariables: { customer_name: 'Ada', plan: 'pro' } });
    await run.output.printed('agent: Hello Ada!\n');
    run.end();
    expect(await run.done()).toBe(0);
    const { session, events } = await ended();
    expect(session.init).toMatchObject({
      type: 'system.init',
      version: '1.0',
      session_context: { initial_variables: { customer_name: 'Ada', plan: 'pro' }, conversation_type: 'chat' },
    });
    expect(session.context.get('plan')).toBe('pro');
    expect(events).toEqual([...handshake, 'system.user.left 1000']);
  });

  it('echoes each line as "you> line" in script mode, after the greeting', async () => {
    const run = await script(['one', 'two'], { echo: true });
    expect(run.output.text).toBe('agent: Hello there!\nyou> one\nagent: You said: one\nyou> two\nagent: You said: two\n');
  });

  it('interrupts the reply in flight and reports only the text the user saw', async () => {
    const run = startChat(url);
    run.say('tell me a story');
    await run.output.printed(STORY_START);
    run.handle.interrupt(); // Ctrl-C
    await run.output.printed('(interrupted)');
    run.say('hi');
    await run.output.printed('You said: hi\n');
    run.end();

    expect(await run.done()).toBe(0);
    expect(run.output.text).toBe(`agent: Hello there!\nagent: ${STORY_START} (interrupted)\nagent: You said: hi\n`);
    const { events } = await ended();
    expect(events).toEqual([
      ...handshake,
      'agent.transcript.update user: tell me a story',
      'system.llm.request',
      'system.control.interrupt',
      `agent.transcript.update assistant: ${STORY_START}`,
      ...turn('hi', 'You said: hi'),
      'system.user.left 1000',
    ]);
  });

  it('leaves with 1000 and exit code 0 on Ctrl-C at the prompt', async () => {
    const run = startChat(url);
    await run.output.printed('agent: Hello there!\n');
    run.handle.interrupt();
    expect(await run.done()).toBe(0);
    expect(run.errors.text).toBe('');
    expect((await ended()).events).toEqual([...handshake, 'system.user.left 1000']);
  });

  it('prints a note and exits 0 when the agent ends the call, without sending later lines', async () => {
    const run = startChat(url);
    run.say('bye');
    run.say('are you there?');
    expect(await run.done()).toBe(0);
    expect(run.output.text).toBe('agent: Hello there!\nagent: Goodbye!\n(the agent ended the call)\n');
    const { events } = await ended();
    expect(events).toEqual([...handshake, ...turn('bye', 'Goodbye!'), 'system.user.left 1000']);
  });

  it('prints a note and exits 0 when the agent transfers the call', async () => {
    const run = startChat(url);
    run.say('transfer me');
    expect(await run.done()).toBe(0);
    expect(run.output.text).toBe(`agent: Hello there!\n(the agent transferred the call to ${TRANSFER_NUMBER})\n`);
  });

  it('prints agent.error on stderr, sends no empty assistant transcript, and goes on', async () => {
    const run = await script(['fail', 'hi']);
    expect(run.errors.text).toBe('agent error (warning): the model is down\n');
    expect(run.output.text).toBe('agent: Hello there!\nagent: You said: hi\n');
    const { events } = await ended();
    expect(events).toEqual([...handshake, 'agent.transcript.update user: fail', 'system.llm.request', ...turn('hi', 'You said: hi'), 'system.user.left 1000']);
  });

  it('exits 1 with one line on stderr when the server closes the connection', async () => {
    const run = startChat(url);
    await run.output.printed('agent: Hello there!\n');
    const [session] = [...received.keys()];
    await session.stop('demo over', 1001);
    expect(await run.done()).toBe(1);
    expect(run.errors.text).toBe('rxcrew: the server closed the connection (1001 demo over)\n');
  });

  it('exits 1 with one line on stderr when nothing listens on the port', async () => {
    const port = await closedPort();
    const run = startChat(`ws://127.0.0.1:${port}/ws`);
    expect(await run.done()).toBe(1);
    expect(run.errors.text).toBe(`rxcrew: cannot connect to ws://127.0.0.1:${port}/ws: ECONNREFUSED\n`);
    expect(run.output.text).toBe('');
  });

  it('names the HTTP status when the path is not a WebSocket endpoint', async () => {
    const wrong = url.replace(/\/ws$/, '/nope');
    const run = startChat(wrong);
    expect(await run.done()).toBe(1);
    expect(run.errors.text).toBe(`rxcrew: cannot connect to ${wrong}: HTTP 404 instead of a WebSocket upgrade (is the path right?)\n`);
  });
});
