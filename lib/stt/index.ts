/** Speech-to-text: the engine interface and the Pulse adapter (see docs/voice-input.md). */
export type { SttEngine, SttOpenOptions, SttStream, SttTranscript } from './engine';
export { SttError, SttErrorCodes } from './errors';
export type { SttErrorCode, SttErrorOptions } from './errors';
export { PULSE_SAMPLE_RATES, PulseEngine } from './pulse-engine';
export type { PulseEngineOptions, PulseQueryValue } from './pulse-engine';
