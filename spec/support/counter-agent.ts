import { OutputCrewNode, Turn } from '../../lib';

/**
 * An agent for the resume specs: answers with the number of messages it was
 * given, then the user's last words — after the test lets it, for words in
 * `Counter.hold` — so a test can tell whether a conversation came back whole.
 */
export class Counter extends OutputCrewNode {
  /** Requests whose answer waits for the test (by the user's words). */
  static readonly hold = new Map<string, Promise<void>>();

  constructor() {
    super({ name: 'agent', systemPrompt: 'count', greeting: 'hello', turnMetrics: false });
  }

  async *generateResponse(turn: Turn): AsyncIterable<string> {
    const last = String(turn.messages.at(-1)?.content);
    yield `${turn.messages.length} messages; `;
    const held = Counter.hold.get(last);
    if (held !== undefined) await held;
    yield `you said ${last}`;
  }
}
