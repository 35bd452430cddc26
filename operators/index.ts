/** Reusable operators and ready-made nodes (`rxcrew/operators`). */
export { ofType } from './of-type';
export { interruptibleConcatMap } from '../lib/interruptible-concat-map';
export type { InterruptibleConcatMapOptions } from '../lib/interruptible-concat-map';
export { InterruptedError } from '../lib/errors';
export { AudioPacer } from './audio-pacer';
export type { AudioPacerOptions } from './audio-pacer';
export { VoiceActivity } from './voice-activity';
export type { VoiceActivityOptions } from './voice-activity';
export { SpeechToText } from './speech-to-text';
export type { SpeechToTextOptions } from './speech-to-text';
export { TextToSpeech } from './text-to-speech';
export type { TextToSpeechOptions } from './text-to-speech';
