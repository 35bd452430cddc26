import { Observable, mergeMap } from 'rxjs';
import { CrewEvent, CrewNode, NodeContext, event } from 'rxcrew';

/** One entry of the conversation, as the Atoms protocol carries it. */
interface Message {
  role: string;
  content: string;
}

/** What the agent says in reply to one user message, and whether the call ends after it. */
interface Reply {
  text: string;
  endCall: boolean;
}

export const PRODUCT = 'HelioMax 400';

// The reply texts are exported so that tests and the README quote the script, not a copy of it.
export const SCRIPT = Object.freeze({
  price:
    `The ${PRODUCT} panel costs $349, or $2,990 for a ten-panel home kit with installation. ` +
    'Would you like a free roof survey?',
  features:
    `The ${PRODUCT} delivers 400 watts at 21.5% efficiency, weighs 21 kg, ` +
    'and comes with a 25-year performance warranty.',
  surveyBooked: 'Great! A surveyor will call you within two working days to book your free roof survey.',
  goodbye: 'Thanks for chatting with HelioMax Solar. Goodbye!',
  fallback: `I can tell you about the price or the features of the ${PRODUCT}. What would you like to know?`,
});

/** Words per `agent.llm.response.chunk`: small enough to show streaming, large enough to read. */
const WORDS_PER_CHUNK = 3;

const PRICE = /\b(price|prices|pricing|cost|costs|how much|expensive|cheap)\b|\$/i;
const FEATURES = /\b(feature|features|spec|specs|watts?|efficien\w*|warranty|weigh\w*)\b/i;
const BYE = /\b(bye|goodbye)\b/i;
const YES = /^\s*(yes|yeah|yep|sure|ok|okay|please)\b/i;

/**
 * A scripted, rule-based sales assistant for the fictional HelioMax 400 solar
 * panel. It speaks the Atoms LLM protocol: it records `agent.transcript.update`
 * messages and answers each `system.llm.request` with one
 * `agent.llm.response.start`, a few `agent.llm.response.chunk`s and exactly one
 * `agent.llm.response.end`. It greets the caller on `system.user.joined` and
 * ends the call when the user says goodbye.
 *
 * It emits only its own events: client events stop here.
 */
export class SalesAgent extends CrewNode {
  process(input$: Observable<CrewEvent>, ctx: NodeContext): Observable<CrewEvent> {
    // Per-session state: process() runs once per session, so these never leak between calls.
    let history: Message[] = [];
    // True while the last assistant message is the agent's own record of its reply,
    // which the client's assistant transcript (what the user actually heard) replaces.
    let ownReplyLast = false;
    let requests = 0;
    let ended = false;

    const remember = (message: Message, ownReply: boolean): void => {
      history.push(message);
      ownReplyLast = ownReply;
    };

    const greet = (): CrewEvent[] => {
      const name = ctx.context.get('customer_name');
      const who = typeof name === 'string' && name.trim() !== '' ? name.trim() : 'there';
      const text = `Hi ${who}! I'm Sunny from HelioMax Solar. Ask me about the price or the features of the ${PRODUCT}.`;
      remember({ role: 'assistant', content: text }, false);
      return [event('agent.speak', { text })];
    };

    const record = (e: CrewEvent): void => {
      const message = { role: String(e.role), content: String(e.content) };
      const last = history[history.length - 1];
      if (message.role === 'assistant' && ownReplyLast && last?.role === 'assistant') {
        history[history.length - 1] = message;
        ownReplyLast = false;
      } else {
        remember(message, false);
      }
    };

    const answer = (e: CrewEvent): CrewEvent[] => {
      // After the goodbye the call is over: like an OutputCrewNode, start no further turns.
      if (ended) return [];
      if (Array.isArray(e.messages)) {
        history = (e.messages as Message[]).map((m) => ({ role: m.role, content: String(m.content ?? '') }));
        ownReplyLast = false;
      }
      const reply = decide(history);
      const out: CrewEvent[] = [event('agent.llm.response.start', { request_id: `req-${++requests}` })];
      for (const text of chunk(reply.text)) out.push(event('agent.llm.response.chunk', { text }));
      out.push(event('agent.llm.response.end'));
      remember({ role: 'assistant', content: reply.text }, true);
      if (reply.endCall) {
        ended = true;
        out.push(event('agent.end_call'));
      }
      return out;
    };

    // Synchronous on purpose: a scripted reply needs no time, and tests stay deterministic.
    return input$.pipe(
      mergeMap((e): CrewEvent[] => {
        switch (e.type) {
          case 'system.user.joined':
            return greet();
          case 'agent.transcript.update':
            record(e);
            return [];
          case 'system.llm.request':
            return answer(e);
          default:
            return [];
        }
      }),
    );
  }
}

/** The scripted rules, applied to the latest user message (and the reply before it). */
function decide(history: readonly Message[]): Reply {
  let userIndex = -1;
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i].role === 'user') {
      userIndex = i;
      break;
    }
  }
  if (userIndex === -1) return { text: SCRIPT.fallback, endCall: false };
  const said = history[userIndex].content;
  if (BYE.test(said)) return { text: SCRIPT.goodbye, endCall: true };
  if (PRICE.test(said)) return { text: SCRIPT.price, endCall: false };
  if (FEATURES.test(said)) return { text: SCRIPT.features, endCall: false };
  // "yes" means something only as an answer to the survey offer: that is why history is kept.
  const before = history.slice(0, userIndex).reverse().find((m) => m.role === 'assistant');
  if (YES.test(said) && before?.content.endsWith('free roof survey?')) return { text: SCRIPT.surveyBooked, endCall: false };
  return { text: SCRIPT.fallback, endCall: false };
}

/** Splits `text` into groups of words; the pieces concatenate back to `text`. */
export function chunk(text: string, wordsPerChunk = WORDS_PER_CHUNK): string[] {
  const words = text.split(' ');
  const pieces: string[] = [];
  for (let i = 0; i < words.length; i += wordsPerChunk) {
    const last = i + wordsPerChunk >= words.length;
    pieces.push(words.slice(i, i + wordsPerChunk).join(' ') + (last ? '' : ' '));
  }
  return pieces;
}
