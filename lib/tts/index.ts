/** Text-to-speech: the engine interface, the embedded and Lightning engines, sentence splitting (see docs/voice.md). */
export type { TtsEngine, TtsSynthesisOptions } from './engine';
export { MespeakEngine } from './mespeak-engine';
export type { MespeakEngineOptions } from './mespeak-engine';
export { LIGHTNING_SAMPLE_RATES, LightningEngine } from './lightning-engine';
export type { LightningEngineOptions } from './lightning-engine';
export { LightningError } from './lightning-error';
export { SentenceSplitter, splitSentences } from './sentences';
export type { SentenceSplitterOptions } from './sentences';
export { parseWav } from './wav';
export type { WavAudio } from './wav';
