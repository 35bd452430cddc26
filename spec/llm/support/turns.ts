import type { ChatMessage, Turn, ToolSpec } from '../../../lib/agent/types';
import type { CrewSession } from '../../../lib/session';

/** A Turn for responders that never touch the session. */
export function makeTurn(messages: ChatMessage[], overrides: Partial<Turn> = {}): Turn {
  return {
    messages,
    signal: new AbortController().signal,
    requestId: 'req-1',
    session: {} as CrewSession,
    tools: [],
    ...overrides,
  };
}

export const user = (content: string): ChatMessage => ({ role: 'user', content });

/** A tool spec with an empty schema, as the node would offer it to the model. */
export const toolSpec = (name: string): ToolSpec => ({
  type: 'function',
  function: { name, description: `the ${name} tool`, parameters: { type: 'object', properties: {} } },
});
