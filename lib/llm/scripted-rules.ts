import type { Turn } from '../agent/types';

/** What a rule's reply, tool arguments and phrasing are computed from. */
export interface ScriptMatch {
  /** The last user message (the one the rule matched). */
  text: string;
  /** The regular expression's match, when the rule's `when` is a RegExp. */
  match: RegExpMatchArray | null;
  /** The clock (`options.now()`): inject a fixed date to keep replies deterministic. */
  now: Date;
  turn: Turn;
}

/** A tool the rule asks for, when the turn offers a tool of that name. */
export interface ScriptToolRequest {
  name: string;
  /** The call's arguments (sent as JSON). Default `{}`. */
  args?: Record<string, unknown> | ((m: ScriptMatch) => Record<string, unknown>);
  /** Says the tool's result (parsed from JSON when it is JSON). Default: "<name> returned <result>." */
  phrase?(result: unknown, m: ScriptMatch): string;
}

/**
 * One rule of the scripted model: when the last user message matches `when`,
 * answer `reply` — or first call `tool`, if the turn offers it, and phrase its
 * result on the follow-up call. A string (or each string of an array) matches
 * as a case-insensitive whole word or phrase.
 */
export interface ScriptRule {
  /** Shown in `docs/llm.md` and handy in tests. */
  name: string;
  when: RegExp | string | readonly string[] | ((text: string) => boolean);
  reply: string | ((m: ScriptMatch) => string);
  tool?: ScriptToolRequest;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = 'January February March April May June July August September October November December'.split(' ');
const pad = (n: number): string => String(n).padStart(2, '0');

/** `14:05 UTC` — UTC so that the same clock gives the same words on every machine. */
const formatTime = (d: Date): string => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;

/** `Friday, 3 May 2024`, in UTC. */
const formatDate = (d: Date): string =>
  `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;

/** A tool result as words: strings as they are, anything else as compact JSON. */
export function resultText(result: unknown): string {
  return typeof result === 'string' ? result : JSON.stringify(result) ?? String(result);
}

/** Long enough to interrupt mid-sentence in a demo. */
export const STORY =
  'Once upon a time, a tiny stream of events set out across a great reactive graph. ' +
  'At every node it was filtered, mapped and merged, until at last it reached the speaker ' +
  'and became words. If you interrupt me now, the rest of this story is never sent, ' +
  'and I only remember what you actually heard.';

/**
 * The default script: a generic helpful assistant for demos without an API
 * key. Checked in order; the first match wins; no match echoes the message.
 */
export const DEFAULT_SCRIPT_RULES: readonly ScriptRule[] = Object.freeze([
  {
    name: 'weather',
    when: /\bweather\b(?:.*?\b(?:in|at|for)\s+([a-z][a-z .'-]*[a-z]))?/i,
    reply: (m) => `I have no weather tool in this demo, so I cannot check the weather${cityOf(m) ? ` in ${cityOf(m)}` : ''}.`,
    tool: {
      name: 'get_weather',
      args: (m) => ({ city: cityOf(m) ?? 'here' }),
      phrase: (result, m) => `Here is the weather in ${cityOf(m) ?? 'your area'}: ${resultText(result)}.`,
    },
  },
  {
    name: 'time',
    when: /\bwhat(?:'s| is)? the time\b|\bwhat time\b|\btime is it\b|\bcurrent time\b/i,
    reply: (m) => `It is ${formatTime(m.now)}.`,
    tool: { name: 'get_time', phrase: (result) => `It is ${resultText(result)}.` },
  },
  {
    name: 'date',
    when: /\bwhat(?:'s| is)? the date\b|\bwhat day\b|\btoday'?s date\b|\bdate today\b/i,
    reply: (m) => `Today is ${formatDate(m.now)}.`,
  },
  { name: 'story', when: ['story', 'tell me something', 'long answer'], reply: STORY },
  { name: 'thanks', when: ['thanks', 'thank you', 'cheers'], reply: "You're welcome! Anything else?" },
  { name: 'goodbye', when: ['bye', 'goodbye', 'see you'], reply: 'Goodbye! Thanks for trying rxcrew.' },
  {
    name: 'greeting',
    when: /^\s*(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening))\b/i,
    reply:
      "Hello! I'm the rxcrew demo assistant, a scripted model that runs without an API key. " +
      'Ask me for help, the time or the date, or for a story.',
  },
  {
    name: 'help',
    when: ['help', 'what can you do', 'how does this work'],
    reply:
      'I can greet you, tell you the time and the date, check the weather if a weather tool is set up, ' +
      'and tell a story you can interrupt. Anything else I repeat back. ' +
      'Set OPENAI_API_KEY or OPENAI_BASE_URL to talk to a real model instead.',
  },
]);

function cityOf(m: ScriptMatch): string | undefined {
  // "weather in paris today" names Paris, not "Paris Today".
  const city = m.match?.[1]?.replace(/\s+(today|tomorrow|tonight|now|please)\b.*$/i, '').trim();
  return city ? city.replace(/\b\w/g, (c) => c.toUpperCase()) : undefined;
}
