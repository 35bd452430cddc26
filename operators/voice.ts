/**
 * Speech and audio (`rxcrew/voice`): text-to-speech and speech-to-text engines and their nodes,
 * voice activity detection, the audio pacer, audio formats, resampling and playback state
 * (see docs/voice.md and docs/voice-input.md).
 */

// nodes
export { TextToSpeech } from './text-to-speech';
export type { TextToSpeechOptions } from './text-to-speech';
export { SpeechToText } from './speech-to-text';
export type { SpeechToTextOptions } from './speech-to-text';
export { VoiceActivity } from './voice-activity';
export type { VoiceActivityOptions } from './voice-activity';
export { AudioPacer } from './audio-pacer';
export type { AudioPacerOptions } from './audio-pacer';

// text-to-speech engines
export {
  LIGHTNING_SAMPLE_RATES,
  LightningEngine,
  LightningError,
  MespeakEngine,
  parseWav,
  SentenceSplitter,
  splitSentences,
} from '../lib/tts';
export type {
  LightningEngineOptions,
  MespeakEngineOptions,
  SentenceSplitterOptions,
  TtsEngine,
  TtsSynthesisOptions,
  WavAudio,
} from '../lib/tts';

// speech-to-text engines
export { PULSE_SAMPLE_RATES, PulseEngine, SttError, SttErrorCodes } from '../lib/stt';
export type { PulseEngineOptions, PulseQueryValue, SttEngine, SttErrorCode, SttErrorOptions, SttOpenOptions, SttStream, SttTranscript } from '../lib/stt';

// audio
export { DEFAULT_AUDIO_FORMAT } from '../lib/audio/format';
export type { AudioFormat } from '../lib/audio/format';
export { createPcm16Resampler, resamplePcm16 } from '../lib/audio/resample';
export type { Pcm16Resampler } from '../lib/audio/resample';
export { playbackOf, PlaybackState } from '../lib/audio/playback';
