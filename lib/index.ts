/**
 * rxcrew: a TypeScript runtime for real-time voice and chat agents, built on RxJS.
 *
 * This entry holds sessions, the app, nodes, events, errors and the agent turn. Speech and audio
 * are in `rxcrew/voice`, the model clients in `rxcrew/llm`, reusable operators and ready nodes in
 * `rxcrew/operators`, test helpers in `rxcrew/testing` (see docs/api.md).
 */

// sessions and the server
export { CrewSession } from './session';
export type { CrewLogger, CrewSessionOptions, SessionLimits, SessionState } from './session';
export { CloseCodes } from './transport';
export type { CrewConnection, CrewTransport } from './transport';
export { CrewApp, AtomsCrewApp } from './app';
export type { Authenticate, CrewAppOptions, HttpHandler, SetupHandler, TwilioOptions, TwilioStats } from './app';
export { SessionContext } from './context';
export { redisStore } from './scale/redis-store';
export type { RedisStore, RedisStoreOptions, StoreStats, StoredSession } from './scale/redis-store';
export type { CrewFleet, FleetSession } from './scale/fleet';
export { jsonLogger } from './logger';
export type { JsonLogger, JsonLoggerOptions, LogFields, LogLevel, LogMethod } from './logger';

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
export type { TurnMetrics } from './turn-metrics';

// events
export { defineEvent, event } from './events';
export type { CrewEvent, EventDefinition, EventDirection, EventFields, EventOf, EventShape } from './events';
export { Events } from './catalog';

// errors: the registry, the agent.error builder, CrewError and every subclass
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
export type { ErrorCode, EventIssue, Severity } from './errors';
export { agentError } from './agent-error';
export type { AgentErrorOptions } from './agent-error';
export { LlmError } from './llm/errors';
export { SttError } from './stt/errors';
export { LightningError } from './tts/lightning-error';
