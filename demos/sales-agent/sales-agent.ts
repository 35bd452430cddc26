import { Observable } from 'rxjs';
import { z } from 'zod';
import { defaultResponder, ScriptMatch, ScriptRule } from 'rxcrew/llm';
import {
  NodeContext,
  OutputCrewNode,
  Responder,
  tool,
  Turn,
  TurnOutput,
} from 'rxcrew';

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

/** What a real model is told; the scripted model follows the same facts. */
export const SALES_PROMPT =
  `You are Sunny, a friendly, concise sales assistant for HelioMax Solar. You sell the ${PRODUCT} panel: ` +
  '$349 each, or $2,990 for a ten-panel home kit with installation; 400 W, 21.5% efficiency, 21 kg, ' +
  '25-year performance warranty. Offer a free roof survey. When the customer says goodbye, say goodbye ' +
  'and call the end_call tool.';

/** The scripted sales conversation, used when no model is configured. Checked in order. */
export const SALES_RULES: readonly ScriptRule[] = [
  { name: 'goodbye', when: ['bye', 'goodbye'], reply: SCRIPT.goodbye, tool: { name: 'end_call', phrase: () => SCRIPT.goodbye } },
  { name: 'price', when: /\b(price|prices|pricing|cost|costs|how much|expensive|cheap)\b|\$/i, reply: SCRIPT.price },
  { name: 'features', when: /\b(feature|features|spec|specs|watts?|efficien\w*|warranty|weigh\w*)\b/i, reply: SCRIPT.features },
  // "yes" means something only as an answer to the survey offer: that is why the conversation is kept
  { name: 'survey', when: /^\s*(yes|yeah|yep|sure|ok|okay|please)\b/i, reply: (m) => (offeredSurvey(m) ? SCRIPT.surveyBooked : SCRIPT.fallback) },
];

/** Lets the model hang up. The end_call event goes out after the turn's end, so the goodbye is heard first. */
const endCall = tool({
  name: 'end_call',
  description: 'End the call, after saying goodbye.',
  parameters: z.object({}),
  execute: (_args, { node }) => {
    node.endCall();
    return 'the call will end after your reply';
  },
});

export interface SalesAgentOptions {
  /** The model. Default: a real one when `OPENAI_API_KEY`/`OPENAI_BASE_URL` is set, else the sales script. */
  responder?: Responder;
  /** Pause between scripted pieces (ms), so that a reply can be interrupted. Default 30. */
  chunkDelayMs?: number;
}

/**
 * Sunny, the HelioMax sales assistant: an `OutputCrewNode` that greets the
 * caller by name when they join, answers each `system.llm.request`
 * (scripted, or with a real model), and ends the call through its `end_call`
 * tool when the customer says goodbye. One instance per session.
 */
export class SalesAgent extends OutputCrewNode {
  private readonly respond: Responder;

  constructor(options: SalesAgentOptions = {}) {
    super({ systemPrompt: SALES_PROMPT, tools: [endCall], greeting: greetCustomer });
    this.respond = options.responder ?? salesResponder(options.chunkDelayMs);
  }

  generateResponse(turn: Turn): AsyncIterable<TurnOutput> | Observable<TurnOutput> {
    return this.respond(turn);
  }
}

/**
 * The model a `SalesAgent` uses by default: a real one when `OPENAI_API_KEY`/`OPENAI_BASE_URL`
 * is set, else the sales script. It keeps no per-call state, so a server makes one and
 * shares it between its sessions (`createSetup` does).
 */
export function salesResponder(chunkDelayMs = 30): Responder {
  return defaultResponder(process.env, { rules: SALES_RULES, scripted: { chunkDelayMs, fallback: scriptFallback } });
}

const scriptFallback = () => SCRIPT.fallback;
const greetCustomer = (ctx: NodeContext) => greetingFor(ctx.context.get('customer_name'));

export function greetingFor(name: unknown): string {
  const who = typeof name === 'string' && name.trim() !== '' ? name.trim() : 'there';
  return `Hi ${who}! I'm Sunny from HelioMax Solar. Ask me about the price or the features of the ${PRODUCT}.`;
}

function offeredSurvey(m: ScriptMatch): boolean {
  const messages = m.turn.messages;
  let i = messages.length - 1;
  while (i >= 0 && messages[i].role !== 'user') i--;
  for (let j = i - 1; j >= 0; j--) if (messages[j].role === 'assistant') return messages[j].content.endsWith('free roof survey?');
  return false;
}
