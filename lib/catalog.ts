import { z } from 'zod';
import { defineEvent } from './events';

/*
 * The built-in catalog: the Atoms wire protocol's event types, with their exact
 * wire names. Fields without `.optional()` are required; extra fields are kept.
 * See docs/events.md.
 */

const role = z.enum(['system', 'user', 'assistant', 'tool']);
const chatMessage = z.looseObject({
  role,
  content: z.string().nullable(),
  tool_calls: z.array(z.unknown()).optional(),
  tool_call_id: z.string().optional(),
});
const record = z.record(z.string(), z.unknown());
const audioBytes = z.instanceof(Uint8Array, { message: 'expected binary audio (Uint8Array)' });

// client → agent
export const SystemInit = defineEvent(
  'system.init',
  {
    version: z.union([z.string(), z.number()]),
    session_context: z.looseObject({
      initial_variables: record,
      conversation_type: z.string(),
    }),
    output_agent_settings: record.optional(),
    audio: z
      .looseObject({
        input_sample_rate: z.number().int().positive().optional(),
        output_sample_rate: z.number().int().positive().optional(),
      })
      .optional(),
  },
  { direction: 'client' },
);
export const SystemControlInterrupt = defineEvent('system.control.interrupt', {}, { direction: 'client' });
export const SystemUserStartedSpeaking = defineEvent('system.user.started_speaking', {}, { direction: 'client' });
export const SystemUserStoppedSpeaking = defineEvent('system.user.stopped_speaking', {}, { direction: 'client' });
export const SystemLlmRequest = defineEvent(
  'system.llm.request',
  { messages: z.array(chatMessage).optional(), extra_params: record.optional() },
  { direction: 'client' },
);
export const SystemOutputAgentUpdateSettings = defineEvent(
  'system.output_agent.update_settings',
  { settings: record },
  { direction: 'client' },
);
export const AgentTranscriptUpdate = defineEvent(
  'agent.transcript.update',
  { role: z.enum(['user', 'assistant']), content: z.string() },
  { direction: 'client' },
);
export const SystemUserDtmf = defineEvent(
  'system.user.dtmf',
  { digit: z.string().regex(/^[0-9*#A-Da-dw]$/) },
  { direction: 'client' },
);
export const UserAudio = defineEvent(
  'user.audio',
  { audio: audioBytes, sample_rate: z.number().int().positive().optional() },
  { direction: 'client' },
);

// runtime (a client's own copy is dropped)
export const SystemUserJoined = defineEvent('system.user.joined', { session_id: z.string() }, { direction: 'runtime' });
/** After `start()` of a session resumed from the store (docs/scale-out.md). */
export const SystemSessionResumed = defineEvent('system.session.resumed', { session_id: z.string() }, { direction: 'runtime' });
export const SystemUserLeft = defineEvent(
  'system.user.left',
  { session_id: z.string(), code: z.number().int(), reason: z.string() },
  { direction: 'runtime' },
);

// agent → client
export const AgentReady = defineEvent('agent.ready', {}, { direction: 'agent' });
export const AgentError = defineEvent(
  'agent.error',
  { message: z.string(), severity: z.enum(['warning', 'fatal']), payload: z.unknown() },
  { direction: 'agent' },
);
export const AgentLlmResponseStart = defineEvent(
  'agent.llm.response.start',
  { request_id: z.string().optional() },
  { direction: 'agent' },
);
export const AgentLlmResponseChunk = defineEvent('agent.llm.response.chunk', { text: z.string() }, { direction: 'agent' });
export const AgentLlmResponseEnd = defineEvent('agent.llm.response.end', {}, { direction: 'agent' });
export const AgentSpeak = defineEvent('agent.speak', { text: z.string() }, { direction: 'agent' });
export const AgentControlInterrupt = defineEvent('agent.control.interrupt', {}, { direction: 'agent' });
export const AgentControlMuteUser = defineEvent('agent.control.mute_user', {}, { direction: 'agent' });
export const AgentControlUnmuteUser = defineEvent('agent.control.unmute_user', {}, { direction: 'agent' });
export const AgentEndCall = defineEvent('agent.end_call', {}, { direction: 'agent' });
export const AgentTransferCall = defineEvent(
  'agent.transfer_call',
  { transfer_call_number: z.string(), transfer_options: record, on_hold_music: z.string().optional() },
  { direction: 'agent' },
);
export const AgentLog = defineEvent('agent.log', { name: z.string(), payload: z.unknown() }, { direction: 'agent' });
export const AgentAudio = defineEvent(
  'agent.audio',
  { audio: audioBytes, sample_rate: z.number().int().positive().optional() },
  { direction: 'agent' },
);

/** Every built-in event definition, by name. */
export const Events = Object.freeze({
  SystemInit,
  SystemControlInterrupt,
  SystemUserStartedSpeaking,
  SystemUserStoppedSpeaking,
  SystemLlmRequest,
  SystemOutputAgentUpdateSettings,
  AgentTranscriptUpdate,
  SystemUserDtmf,
  UserAudio,
  SystemUserJoined,
  SystemSessionResumed,
  SystemUserLeft,
  AgentReady,
  AgentError,
  AgentLlmResponseStart,
  AgentLlmResponseChunk,
  AgentLlmResponseEnd,
  AgentSpeak,
  AgentControlInterrupt,
  AgentControlMuteUser,
  AgentControlUnmuteUser,
  AgentEndCall,
  AgentTransferCall,
  AgentLog,
  AgentAudio,
});
