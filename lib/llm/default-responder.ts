import type { Responder } from '../agent/types';
import type { OpenAIChatClientOptions } from './client-options';
import { OpenAIChatClient } from './openai-client';
import { openAIResponder, type OpenAIResponderOptions } from './responder';
import { scriptedResponder, type ScriptedResponderOptions } from './scripted-model';
import type { ScriptRule } from './scripted-rules';

/** The model `defaultResponder` uses when `OPENAI_MODEL` is not set. */
export const DEFAULT_OPENAI_MODEL = 'gpt-4o-mini';

/** A `Responder` that also says which model it is, for the demo's start-up log line. */
export type ChosenResponder = Responder & {
  readonly kind: 'openai' | 'scripted';
  /** e.g. `OpenAI-compatible model "gpt-4o-mini" at https://api.openai.com/v1`. Never contains the key. */
  readonly description: string;
  /** The client, when `kind` is `'openai'`. */
  readonly client?: OpenAIChatClient;
};

export interface DefaultResponderOptions {
  /** Options for the scripted model (used without a key or base URL). */
  scripted?: ScriptedResponderOptions;
  /** Rules for the scripted model. Default `DEFAULT_SCRIPT_RULES`. */
  rules?: readonly ScriptRule[];
  /** Options for `openAIResponder` (`onUsage`, `onFinish`). */
  responder?: OpenAIResponderOptions;
  /** Options for `OpenAIChatClient`, over the ones read from `env`. */
  client?: Partial<OpenAIChatClientOptions>;
}

type Env = Record<string, string | undefined>;

const read = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value ? value : undefined;
};

/**
 * Picks the demos' model from the environment: with `OPENAI_API_KEY` or
 * `OPENAI_BASE_URL` set (a local server may need no key) it streams from that
 * OpenAI-compatible endpoint, using `OPENAI_MODEL` (default `gpt-4o-mini`);
 * otherwise it is the embedded scripted model, so everything runs offline.
 *
 * @example
 * const respond = defaultResponder();
 * console.log(`model: ${respond.description}`);
 * class Assistant extends OutputCrewNode { generateResponse(turn: Turn) { return respond(turn); } }
 */
export function defaultResponder(env: Env = process.env, options: DefaultResponderOptions = {}): ChosenResponder {
  const apiKey = read(env, 'OPENAI_API_KEY');
  const baseURL = read(env, 'OPENAI_BASE_URL');
  if (apiKey === undefined && baseURL === undefined) {
    const responder = scriptedResponder(options.rules, options.scripted);
    return Object.assign(responder, {
      kind: 'scripted' as const,
      description: 'embedded scripted model (set OPENAI_API_KEY or OPENAI_BASE_URL to use a real one)',
    });
  }
  const client = new OpenAIChatClient({
    model: read(env, 'OPENAI_MODEL') ?? DEFAULT_OPENAI_MODEL,
    ...(baseURL !== undefined ? { baseURL } : {}),
    ...(apiKey !== undefined ? { apiKey } : {}),
    ...options.client,
  });
  const responder = openAIResponder(client, options.responder);
  return Object.assign(responder, {
    kind: 'openai' as const,
    description: `OpenAI-compatible model "${client.model}" at ${client.baseURL}`,
    client,
  });
}
