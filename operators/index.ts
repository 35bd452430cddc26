/** Reusable operators and ready-made nodes (`rxcrew/operators`). */
export { ofType } from './of-type';
export { interruptibleConcatMap, InterruptedError } from './interruptible-concat-map';
export type { InterruptibleConcatMapOptions } from './interruptible-concat-map';
export { AudioPacer } from './audio-pacer';
export type { AudioPacerOptions } from './audio-pacer';
