import type { CrewEvent } from '../events';
import type { ChatMessage } from './types';

/**
 * The conversation an `OutputCrewNode` keeps for the session it serves: its
 * system prompt first, then the transcripts and the node's own replies (of an
 * interrupted reply, only the text actually sent). The client's `assistant`
 * transcript replaces the node's record of its last reply, since the client
 * knows what the user heard.
 */
export class Conversation {
  /** The messages, the system prompt first. */
  messages: ChatMessage[];
  /** Index in `messages` of the node's own last reply, until the client's transcript replaces it. */
  private lastReply: number | undefined;

  /** Told after each change (the session's store saves the conversation; see lib/scale/session-record.ts). */
  changed: () => void = noop;

  constructor(private readonly systemPrompt: string | undefined) {
    this.messages = initialMessages(systemPrompt);
  }

  /** Takes back a conversation kept in the session's store (on resume). */
  restore(messages: readonly ChatMessage[]): void {
    this.messages = messages.map(toChatMessage);
    this.lastReply = undefined;
  }

  /** Records what the node said outside a turn (`speak`); a client's transcript may replace it as it does a reply. */
  said(text: string): void {
    this.messages.push({ role: 'assistant', content: text });
    this.lastReply = this.messages.length - 1;
    this.changed();
  }

  /**
   * An `agent.transcript.update`: appended, or (role `assistant`) in place of
   * the node's last reply — removed when the user heard none of it (empty content).
   */
  transcript(e: CrewEvent): void {
    const content = String(e.content ?? '');
    if (e.role === 'assistant' && this.lastReply !== undefined) {
      if (content === '') this.messages.splice(this.lastReply, 1);
      else this.messages[this.lastReply] = { role: 'assistant', content };
      this.lastReply = undefined;
    } else if (e.role === 'user' || (e.role === 'assistant' && content !== '')) {
      this.messages.push({ role: e.role, content });
    } else return;
    this.changed();
  }

  /** A request's `messages` replace the conversation; the system prompt stays first. */
  replace(messages: readonly ChatMessage[]): void {
    this.messages = [...initialMessages(this.systemPrompt), ...messages.map(toChatMessage)];
    this.lastReply = undefined;
    this.changed();
  }

  /** Records a turn: its tool calls and results, then its reply (only what was actually sent). */
  keepReply(text: string, exchange: readonly ChatMessage[] = []): void {
    this.messages.push(...exchange);
    this.lastReply = undefined;
    if (text !== '') {
      this.messages.push({ role: 'assistant', content: text });
      this.lastReply = this.messages.length - 1;
    }
    this.changed();
  }
}

/** A conversation's first messages: the system prompt, if any. */
export function initialMessages(systemPrompt: string | undefined): ChatMessage[] {
  return systemPrompt === undefined ? [] : [{ role: 'system', content: systemPrompt }];
}

function noop(): void {}

function toChatMessage(m: ChatMessage): ChatMessage {
  return { ...m, content: m.content ?? '' };
}
