/** Models for `OutputCrewNode.generateResponse` (`rxcrew/llm`): an OpenAI-compatible streaming client and the embedded scripted model. */

// the client
export { OpenAIChatClient } from './openai-client';
export { OPENAI_CLIENT_DEFAULTS } from './client-options';
export type { OpenAIChatClientOptions } from './client-options';
export type { ChatModelClient, ChatStreamRequest, LlmChunk } from './types';
export { isAbortError, LlmError, LlmErrorCodes } from './errors';
export type { LlmErrorCode } from './errors';
export type { Backoff, Sleep } from './retry';

// responders
export { openAIResponder } from './responder';
export type { OpenAIResponderOptions } from './responder';
export { scriptedResponder } from './scripted-model';
export type { ScriptedResponderOptions } from './scripted-model';
export { DEFAULT_SCRIPT_RULES } from './scripted-rules';
export type { ScriptMatch, ScriptRule, ScriptToolRequest } from './scripted-rules';
export { DEFAULT_OPENAI_MODEL, defaultResponder } from './default-responder';
export type { ChosenResponder, DefaultResponderOptions } from './default-responder';
