import { asyncScheduler, concatMap, defer, EMPTY, from, fromEvent, map, Observable, SchedulerLike, takeUntil, timer } from 'rxjs';
import type { ChatMessage, Responder, Turn, TurnOutput } from '../agent/types';
import { InvalidArgumentError } from '../errors';
import { DEFAULT_SCRIPT_RULES, resultText, type ScriptMatch, type ScriptRule } from './scripted-rules';

export interface ScriptedResponderOptions {
  /** Delay before each piece of a reply (and before a tool request), in ms. Default 30. */
  chunkDelayMs?: number;
  /** Words per piece. Default 3. */
  wordsPerChunk?: number;
  /** Schedules the delays; pass a `TestScheduler` for virtual time. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** The clock the time and date rules read. Default `() => new Date()`. */
  now?: () => Date;
  /** The reply when no rule matches. Default: echoes the message and suggests asking for help. */
  fallback?: (m: ScriptMatch) => string;
}

const echo = (m: ScriptMatch): string =>
  m.text.trim() === ''
    ? 'Hello! How can I help you today?'
    : `You said: "${m.text.trim()}". I'm a scripted demo model, so I can only repeat that; ask me for help to see what I can do.`;

/**
 * The embedded default model: a deterministic, rule-based `Responder` that
 * needs no network or key. It answers the last user message with the first
 * matching rule (`DEFAULT_SCRIPT_RULES` unless `rules` is given), streamed a few
 * words at a time with `chunkDelayMs` between pieces so that interruptions can
 * be shown. A rule with a `tool` the turn offers yields `{ tool_calls }` first;
 * on the follow-up call (last message `role: 'tool'`) the rule phrases the result.
 *
 * Returns an Observable per turn: unsubscribing, or `turn.signal` firing, stops
 * it at once.
 */
export function scriptedResponder(
  rules: readonly ScriptRule[] = DEFAULT_SCRIPT_RULES,
  options: ScriptedResponderOptions = {},
): Responder {
  if (!Array.isArray(rules)) throw new InvalidArgumentError('scriptedResponder: "rules" must be an array of ScriptRule');
  const delayMs = options.chunkDelayMs ?? 30;
  const words = options.wordsPerChunk ?? 3;
  if (!Number.isFinite(delayMs) || delayMs < 0) {
    throw new InvalidArgumentError(`scriptedResponder: option "chunkDelayMs" must be ≥ 0, got ${String(delayMs)}`);
  }
  if (!Number.isInteger(words) || words < 1) {
    throw new InvalidArgumentError(`scriptedResponder: option "wordsPerChunk" must be an integer ≥ 1, got ${String(words)}`);
  }
  const scheduler = options.scheduler ?? asyncScheduler;
  const now = options.now ?? (() => new Date());
  const fallback = options.fallback ?? echo;

  return (turn: Turn): Observable<TurnOutput> =>
    defer(() => {
      if (turn.signal.aborted) return EMPTY;
      const output = respond(rules, turn, now(), fallback);
      const pieces: TurnOutput[] = typeof output === 'string' ? splitWords(output, words) : [output];
      return from(pieces).pipe(
        concatMap((piece) => timer(delayMs, scheduler).pipe(map(() => piece))),
        takeUntil(fromEvent(turn.signal, 'abort')),
      );
    });
}

/** The whole output of one call: a reply, or a tool request. */
function respond(rules: readonly ScriptRule[], turn: Turn, now: Date, fallback: (m: ScriptMatch) => string): TurnOutput {
  const { messages } = turn;
  if (messages[messages.length - 1]?.role === 'tool') return phraseToolResults(rules, turn, now);

  const text = lastUserText(messages, messages.length);
  const found = findRule(rules, text, turn, now);
  if (!found) return fallback({ text, match: null, now, turn });
  const { rule, m } = found;
  if (rule.tool && turn.tools.some((t) => t.function.name === rule.tool?.name)) {
    const args = typeof rule.tool.args === 'function' ? rule.tool.args(m) : (rule.tool.args ?? {});
    const id = `call_scripted_${countToolCalls(messages) + 1}`;
    return { tool_calls: [{ id, type: 'function', function: { name: rule.tool.name, arguments: JSON.stringify(args) } }] };
  }
  return typeof rule.reply === 'function' ? rule.reply(m) : rule.reply;
}

/** The follow-up call: the rule that asked for the tools phrases what they returned. */
function phraseToolResults(rules: readonly ScriptRule[], turn: Turn, now: Date): string {
  const { messages } = turn;
  let asked = messages.length - 1;
  while (asked >= 0 && messages[asked].role === 'tool') asked--;
  const calls = messages[asked]?.tool_calls ?? [];
  const text = lastUserText(messages, asked);
  const found = findRule(rules, text, turn, now);
  const phrases = messages.slice(asked + 1).map((message) => {
    const name = calls.find((c) => c.id === message.tool_call_id)?.function.name ?? message.name ?? 'the tool';
    const result = parseResult(message.content);
    const tool = found?.rule.tool;
    // A failed tool comes back as `{"error": "..."}` (see runToolCall): say so rather than phrase it.
    const error = (result as { error?: unknown } | null)?.error;
    if (typeof error === 'string') return `Sorry, ${name} failed: ${error}.`;
    if (found && tool?.name === name && tool.phrase) return tool.phrase(result, found.m);
    return `${name} returned ${resultText(result)}.`;
  });
  return phrases.join(' ');
}

function findRule(rules: readonly ScriptRule[], text: string, turn: Turn, now: Date): { rule: ScriptRule; m: ScriptMatch } | undefined {
  for (const rule of rules) {
    const match = matches(rule.when, text);
    if (match) return { rule, m: { text, match: match === true ? null : match, now, turn } };
  }
  return undefined;
}

function matches(when: ScriptRule['when'], text: string): RegExpMatchArray | boolean {
  if (typeof when === 'function') return when(text);
  if (when instanceof RegExp) return text.match(when) ?? false;
  const phrases: readonly string[] = typeof when === 'string' ? [when] : when;
  return phrases.some((phrase) => new RegExp(`(^|\\W)${escapeRegExp(phrase)}($|\\W)`, 'i').test(text));
}

function lastUserText(messages: readonly ChatMessage[], before: number): string {
  for (let i = before - 1; i >= 0; i--) if (messages[i].role === 'user') return messages[i].content;
  return '';
}

const countToolCalls = (messages: readonly ChatMessage[]): number =>
  messages.reduce((n, message) => n + (message.tool_calls?.length ?? 0), 0);

function parseResult(content: string): unknown {
  try {
    return JSON.parse(content);
  } catch {
    return content;
  }
}

/** `"a b c d e"` by 2 → `["a b ", "c d ", "e"]`: the pieces join back to the (left-trimmed) text. */
function splitWords(text: string, perPiece: number): string[] {
  const words = text.match(/\S+\s*/g) ?? [];
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += perPiece) pieces.push(words.slice(i, i + perPiece).join(''));
  return pieces;
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
