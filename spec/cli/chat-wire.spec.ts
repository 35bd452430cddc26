import WebSocket, { WebSocketServer } from 'ws';
import { within } from '../integration/helpers';
import type { ChatOptions } from '../../lib/cli/chat';
import { ChatRun, startChat } from './helpers';
import { Json, JsonFrames } from '../support/json-frames';

/*
 * chat() against a scripted stand-in for the platform's agent side, built on
 * plain `ws`, to check the raw frames the CLI sends (including its own
 * system.user.joined, which a CrewApp drops) and edge cases a CrewApp never shows.
 */

/** One fake agent connection: every JSON frame received, and waits on them. */
class FakeAgent extends JsonFrames {
  static async listen(options: { autoPong?: boolean } = {}): Promise<FakeAgent> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, autoPong: options.autoPong ?? true });
    await new Promise<void>((resolve) => wss.once('listening', resolve));
    return new FakeAgent(wss);
  }

  socket!: WebSocket;
  closed!: Promise<number>;

  private constructor(private readonly wss: WebSocketServer) {
    super();
    wss.on('connection', (ws) => {
      this.socket = ws;
      this.closed = new Promise((resolve) => ws.on('close', resolve));
      this.record(ws);
    });
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as { port: number }).port}/ws`;
  }

  send(...events: Json[]): void {
    for (const e of events) this.socket.send(JSON.stringify(e));
  }

  /** A ping round trip: every frame the client sent before the pong has arrived. */
  roundTrip(): Promise<void> {
    return within(new Promise<void>((resolve) => this.socket.once('pong', () => resolve()).ping()), 'a pong');
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

const start = { type: 'agent.llm.response.start' };
const end = { type: 'agent.llm.response.end' };
const chunk = (text: string) => ({ type: 'agent.llm.response.chunk', text });

describe('rxcrew chat on the wire', () => {
  let agent: FakeAgent;
  afterEach(() => agent.close());

  /** Starts a fake agent and a chat against it, and answers the chat's system.init with agent.ready. */
  async function readyChat(options: Partial<ChatOptions> = {}, agentOptions: { autoPong?: boolean } = {}): Promise<ChatRun> {
    agent = await FakeAgent.listen(agentOptions);
    const run = startChat(agent.url, options);
    await agent.got('system.init');
    agent.send({ type: 'agent.ready' });
    return run;
  }

  it('sends exactly the frames the Atoms platform sends, in order, and closes with 1000', async () => {
    agent = await FakeAgent.listen();
    const run = startChat(agent.url, { initialVariables: { customer_name: 'Ada', tier: 'gold' } });
    await agent.got('system.init');
    // agent.ready as JSON in a binary frame (as the platform frames it), then an audio frame
    agent.socket.send(Buffer.from(JSON.stringify({ type: 'agent.ready' })), { binary: true });
    agent.socket.send(Buffer.from([1, 2, 3, 4]), { binary: true });
    run.say('hello');
    await agent.got('system.llm.request');
    agent.send(start, chunk('Hi '), chunk('Ada'), end);
    run.end();

    expect(await run.done()).toBe(0);
    expect(await agent.closed).toBe(1000);
    expect(agent.received).toEqual([
      { type: 'system.init', version: '1.0', session_context: { initial_variables: { customer_name: 'Ada', tier: 'gold' }, conversation_type: 'chat' } },
      { type: 'system.user.joined' },
      { type: 'agent.transcript.update', role: 'user', content: 'hello' },
      { type: 'system.llm.request' },
      { type: 'agent.transcript.update', role: 'assistant', content: 'Hi Ada' },
    ]);
    expect(run.output.text).toBe('agent: Hi Ada\n');
  });

  it('sends the next line only after agent.llm.response.end', async () => {
    const run = await readyChat();
    run.say('first');
    run.say('second');
    await agent.got('system.llm.request');
    agent.send(start, chunk('one'));
    await run.output.printed('agent: one');
    await agent.roundTrip();
    expect(agent.received.filter((e) => e.type === 'system.llm.request')).toHaveLength(1);

    agent.send(end);
    await agent.got('system.llm.request', 2);
    expect(agent.received.slice(-3)).toEqual([
      { type: 'agent.transcript.update', role: 'assistant', content: 'one' },
      { type: 'agent.transcript.update', role: 'user', content: 'second' },
      { type: 'system.llm.request' },
    ]);
    run.handle.interrupt();
    run.handle.interrupt(); // a second Ctrl-C while waiting for the end: leave
    expect(await run.done()).toBe(0);
  });

  it('hides chunks sent after an interrupt and sends no transcript when nothing was shown', async () => {
    const run = await readyChat();
    run.say('long question');
    await agent.got('system.llm.request');
    run.handle.interrupt();
    await agent.got('system.control.interrupt');
    agent.send(start, chunk('too late'), end); // already on its way when the agent saw the interrupt
    run.end();

    expect(await run.done()).toBe(0);
    expect(run.output.text).toBe('(interrupted)\n');
    expect(agent.received.map((e) => e.type)).toEqual([
      'system.init',
      'system.user.joined',
      'agent.transcript.update',
      'system.llm.request',
      'system.control.interrupt',
    ]);
  });

  it('exits 1 when agent.ready does not come in time', async () => {
    agent = await FakeAgent.listen();
    const run = startChat(agent.url, { readyTimeout: 100 });
    expect(await run.done()).toBe(1);
    expect(run.errors.text).toBe(`rxcrew: no agent.ready from ${agent.url} within 0.1 s\n`);
  });

  it('goes on after a short wait when the server does not answer pings', async () => {
    const run = await readyChat({ pongTimeout: 100 }, { autoPong: false });
    run.say('anyone?');
    await agent.got('system.llm.request');
    agent.send(chunk('yes'), end);
    run.end();
    expect(await run.done()).toBe(0);
    expect(run.output.text).toBe('agent: yes\n');
  });
});
