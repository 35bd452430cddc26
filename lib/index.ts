/** rxcrew: a TypeScript runtime for real-time voice and chat agents, built on RxJS. */

// sessions and the server
export { CrewSession, DEFAULT_SESSION_LIMITS } from './session';
export type { CrewLogger, CrewSessionOptions, SessionLimits, SessionState } from './session';
export { CloseCodes } from './transport';
export type { CrewConnection, CrewTransport } from './transport';
export { CrewApp, AtomsCrewApp } from './app';
export type { Authenticate, CrewAppOptions, HttpHandler, SetupHandler } from './app';
export { APP_DEFAULTS } from './app-options';
export { SessionContext } from './context';

// nodes
export { BackgroundCrewNode, CrewNode, node } from './node';
export type { CrewNodeOptions, NodeContext, NodeErrorPolicy, NodeOperator } from './node';
export type { EventHandler } from './hooks';

// the agent turn
export { OutputCrewNode } from './agent/output-node';
export type { OutputCrewNodeOptions } from './agent/output-node';
export { tool } from './agent/tool';
export type { Tool, ToolContext } from './agent/tool';
export type { ChatMessage, Responder, ToolCall, ToolCallRequest, ToolSpec, Turn, TurnOutput, Usage } from './agent/types';

// models: an OpenAI-compatible client, the embedded scripted model, the choice between them
export {
  DEFAULT_OPENAI_MODEL,
  DEFAULT_SCRIPT_RULES,
  defaultResponder,
  isAbortError,
  LlmError,
  LlmErrorCodes,
  OPENAI_CLIENT_DEFAULTS,
  OpenAIChatClient,
  openAIResponder,
  scriptedResponder,
} from './llm';
export type {
  ChatModelClient,
  ChatStreamRequest,
  ChosenResponder,
  DefaultResponderOptions,
  LlmChunk,
  LlmErrorCode,
  OpenAIChatClientOptions,
  OpenAIResponderOptions,
  ScriptedResponderOptions,
  ScriptMatch,
  ScriptRule,
  ScriptToolRequest,
} from './llm';

// text-to-speech and audio
export {
  LIGHTNING_SAMPLE_RATES,
  LightningEngine,
  LightningError,
  MespeakEngine,
  parseWav,
  SentenceSplitter,
  splitSentences,
} from './tts';
export type {
  LightningEngineOptions,
  MespeakEngineOptions,
  SentenceSplitterOptions,
  TtsEngine,
  TtsSynthesisOptions,
  WavAudio,
} from './tts';
export { createPcm16Resampler, resamplePcm16 } from './audio/resample';
export type { Pcm16Resampler } from './audio/resample';
export { DEFAULT_AUDIO_FORMAT } from './audio/format';
export type { AudioFormat } from './audio/format';
export { playbackOf, PlaybackState } from './audio/playback';

// speech-to-text
export { PULSE_SAMPLE_RATES, PulseEngine, SttError, SttErrorCodes } from './stt';
export type { PulseEngineOptions, PulseQueryValue, SttEngine, SttErrorCode, SttErrorOptions, SttOpenOptions, SttStream, SttTranscript } from './stt';

// events
export { canonicalType, defineEvent, event, EVENT_ALIASES, getEventDefinition, registeredEventTypes } from './events';
export type { CrewEvent, EventDefinition, EventDirection, EventFields, EventOf, EventShape } from './events';
export { Events } from './catalog';

// errors
export {
  AlreadyStartedError,
  BadEventError,
  CrewError,
  DuplicateNodeError,
  ErrorCodes,
  EventDefinedError,
  GraphCycleError,
  GraphLockedError,
  InvalidArgumentError,
  InterruptedError,
  InvalidEdgeError,
  NodeSetupError,
  SessionClosedError,
  UnknownNodeError,
} from './errors';
export type { ErrorCode, EventIssue } from './errors';
