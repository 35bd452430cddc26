/** Reusable operators and ready-made nodes (`rxcrew/operators`). */
export { ofType } from './of-type';
