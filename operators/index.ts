/** Reusable operators and ready-made nodes (`rxcrew/operators`). */
export { ofType } from './of-type';
export { interruptibleConcatMap, InterruptedError } from './interruptible-concat-map';
export type { InterruptibleConcatMapOptions } from './interruptible-concat-map';
