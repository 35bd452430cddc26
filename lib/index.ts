/** rxcrew: a TypeScript runtime for real-time voice and chat agents, built on RxJS. */

// sessions and the server
export { CrewSession, CloseCodes } from './session';
export type { CrewConnection, CrewLogger, CrewSessionOptions, CrewTransport, SessionState } from './session';
export { CrewApp, AtomsCrewApp } from './app';
export type { CrewAppOptions, HttpHandler, SetupHandler } from './app';
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
  InvalidEdgeError,
  NodeSetupError,
  SessionClosedError,
  UnknownNodeError,
} from './errors';
export type { ErrorCode, EventIssue } from './errors';
