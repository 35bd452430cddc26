import { deepStrictEqual } from 'node:assert';
import { TestScheduler } from 'rxjs/testing';
import { InvalidArgumentError } from '../errors';
import type { CrewEvent } from '../events';
import type { TestClientClose } from './test-client';

/** One mark of a marble diagram: a letter, `|` or `#`, at its frame (virtual ms). */
export interface MarbleStep {
  frame: number;
  mark: string;
}

/**
 * Reads a marble diagram as `TestScheduler.run` does (time progression such as
 * `10ms` allowed, a character is a frame of 1 ms, spaces do not count).
 * `^` may mark frame 0; nothing may come before it.
 */
export function marbleSteps(marbles: string, name: string): MarbleStep[] {
  if (typeof marbles !== 'string') throw new InvalidArgumentError(`${name}: expected a marble string, got ${typeof marbles}`);
  // parseMarbles reads the static frame factor, which only run() sets to 1
  const factor = TestScheduler.frameTimeFactor;
  TestScheduler.frameTimeFactor = 1;
  try {
    return TestScheduler.parseMarbles(marbles, undefined, undefined, false, true).map(({ frame, notification }) => {
      if (frame < 0) throw new InvalidArgumentError(`${name}: nothing may come before '^' (in "${marbles}")`);
      const mark = notification.kind === 'N' ? String(notification.value) : notification.kind === 'C' ? '|' : '#';
      return { frame, mark };
    });
  } finally {
    TestScheduler.frameTimeFactor = factor;
  }
}

/** A client's `system.control.interrupt`. */
export const INTERRUPT: CrewEvent = Object.freeze({ type: 'system.control.interrupt' });

/**
 * The event for a letter of an `interrupt` marble: its value in `values` if any
 * (which must be an interrupt: the letter is easily one the client marble uses
 * for something else), else a plain interrupt.
 */
export function interruptFor(letter: string, values: Record<string, CrewEvent> | undefined): CrewEvent {
  if (values === undefined || !Object.prototype.hasOwnProperty.call(values, letter)) return INTERRUPT;
  const e = values[letter];
  if (e?.type !== INTERRUPT.type) {
    throw new InvalidArgumentError(`interrupt: letter '${letter}' is a "${String(e?.type)}" in \`values\`; use a letter that is not, or a ${INTERRUPT.type}`);
  }
  return e;
}

/** The value of a letter that must have one. */
export function valueFor(letter: string, values: Record<string, CrewEvent> | undefined, name: string, map = 'values'): CrewEvent {
  if (values === undefined || !Object.prototype.hasOwnProperty.call(values, letter)) {
    throw new InvalidArgumentError(`${name}: letter '${letter}' has no event in \`${map}\``);
  }
  return values[letter];
}

/** What the client received at a frame: an event, or the end of the connection. */
export type SessionFrame = { frame: number; event: CrewEvent } | { frame: number; closed: TestClientClose };

/** What `expected` says for one mark: an event, a normal close (`|`) or another close (`#`). */
export type ExpectedFrame =
  | { frame: number; mark: string; event: CrewEvent }
  | { frame: number; mark: '|' }
  | { frame: number; mark: '#'; close: Partial<TestClientClose> | undefined };

/** How two events are compared: `assert` throws when they differ; `ignore` names fields left out on both sides. */
export interface Comparison {
  assert: (actual: unknown, expected: unknown) => void;
  ignore: readonly string[];
}

export const defaultAssert = (actual: unknown, expected: unknown): void => deepStrictEqual(actual, expected);

/** The event without the ignored fields (the same object when there are none to drop). */
export function withoutIgnored(e: CrewEvent, ignore: readonly string[]): CrewEvent {
  if (!ignore.some((field) => field in e)) return e;
  const copy: Record<string, unknown> = { ...e };
  for (const field of ignore) delete copy[field];
  return copy as CrewEvent;
}

function sameEvent(actual: CrewEvent, expected: CrewEvent, how: Comparison): boolean {
  try {
    how.assert(withoutIgnored(actual, how.ignore), withoutIgnored(expected, how.ignore));
    return true;
  } catch {
    return false;
  }
}

function matches(actual: SessionFrame, expected: ExpectedFrame, how: Comparison): boolean {
  if (actual.frame !== expected.frame) return false;
  if ('event' in expected) return 'event' in actual && sameEvent(actual.event, expected.event, how);
  if (!('closed' in actual)) return false;
  if (expected.mark === '|') return actual.closed.code === 1000;
  const close = expected.close ?? {};
  return (
    actual.closed.code !== 1000 &&
    (close.code === undefined || close.code === actual.closed.code) &&
    (close.reason === undefined || close.reason === actual.closed.reason)
  );
}

/** The first index where the two lists differ, or -1 when they are the same. */
export function firstDifference(actual: readonly SessionFrame[], expected: readonly ExpectedFrame[], how: Comparison): number {
  const n = Math.max(actual.length, expected.length);
  for (let i = 0; i < n; i++) if (i >= actual.length || i >= expected.length || !matches(actual[i], expected[i], how)) return i;
  return -1;
}

/** The marks the received frames would have in `expected`. */
export function marksOf(frames: readonly SessionFrame[], letters: Record<string, CrewEvent>, how: Comparison): MarbleStep[] {
  return frames.map((f) => ({ frame: f.frame, mark: markOf(f, letters, how) }));
}

/** The letter an actual frame would have in `expected`: the first whose event matches, `|`/`#` for a close, else `?`. */
function markOf(frame: SessionFrame, letters: Record<string, CrewEvent>, how: Comparison): string {
  if ('closed' in frame) return frame.closed.code === 1000 ? '|' : '#';
  for (const [letter, value] of Object.entries(letters)) if (sameEvent(frame.event, value, how)) return letter;
  return '?';
}

/**
 * A marble diagram of marks at frames, as `TestScheduler.run` reads them
 * (long gaps as `Nms`). Marks closer together than a group's width cannot be
 * drawn at their frames; the frame lists below the diagram are exact.
 */
export function drawMarble(marks: ReadonlyArray<{ frame: number; mark: string }>): string {
  let out = '';
  let at = 0;
  for (let i = 0; i < marks.length; ) {
    const frame = marks[i].frame;
    let group = '';
    for (; i < marks.length && marks[i].frame === frame; i++) group += marks[i].mark;
    const gap = frame - at;
    if (gap > 0 && gap <= 5) out += '-'.repeat(gap);
    else if (gap > 5) out += `${out === '' ? '' : ' '}${gap}ms `;
    const token = group.length === 1 ? group : `(${group})`;
    out += token;
    at = Math.max(at, frame) + token.length;
  }
  return out;
}

const MAX_SHOWN = 240;

/** How a matcher in an expected value shows (jest's `expect.any(String)` shows as `Any<String>`). */
function showMatcher(_key: string, value: unknown): unknown {
  const matcher = value as { asymmetricMatch?: unknown; toAsymmetricMatcher?: () => string } | null;
  if (typeof matcher?.asymmetricMatch !== 'function') return value;
  return typeof matcher.toAsymmetricMatcher === 'function' ? matcher.toAsymmetricMatcher() : String(value);
}

function show(e: CrewEvent, ignore: readonly string[]): string {
  // the type first: a client's event comes back from validation with its fields in another order
  const { type, ...fields } = withoutIgnored(e, ignore);
  const text = JSON.stringify({ type, ...fields }, showMatcher) ?? String(e);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN - 1)}…` : text;
}

function showActual(f: SessionFrame, how: Comparison): string {
  return 'event' in f ? show(f.event, how.ignore) : `the connection closed: ${f.closed.code} ${JSON.stringify(f.closed.reason)}`;
}

function showExpected(f: ExpectedFrame, how: Comparison): string {
  if ('event' in f) return show(f.event, how.ignore);
  if (f.mark === '|') return 'the connection closes normally (1000)';
  const close = f.close ?? {};
  return `the connection closes with ${close.code ?? 'a code other than 1000'}${close.reason !== undefined ? ` ${JSON.stringify(close.reason)}` : ''}`;
}

/** The failure message: both diagrams, the first difference, then both lists frame by frame. */
export function describeMismatch(
  actual: readonly SessionFrame[],
  expected: readonly ExpectedFrame[],
  letters: Record<string, CrewEvent>,
  how: Comparison,
): string {
  const i = firstDifference(actual, expected, how);
  const actualMarks = marksOf(actual, letters, how);
  const width = String(Math.max(0, ...actual.map((f) => f.frame), ...expected.map((f) => f.frame))).length;
  const row = (frame: number, mark: string, text: string) => `  ${String(frame).padStart(width)}  ${mark}  ${text}`;
  const lines = [
    'testSession: the client did not receive what `expected` says.',
    '',
    `  expected  ${drawMarble(expected)}`,
    `  actual    ${drawMarble(actualMarks)}`,
    '',
    `First difference (event ${i + 1}):`,
    i < expected.length
      ? `  expected  ${expected[i].mark} at frame ${expected[i].frame}: ${showExpected(expected[i], how)}`
      : '  expected  nothing more',
    i < actual.length ? `  actual    ${actualMarks[i].mark} at frame ${actual[i].frame}: ${showActual(actual[i], how)}` : '  actual    nothing more',
    '',
    'Expected, frame by frame:',
    ...expected.map((f) => row(f.frame, f.mark, showExpected(f, how))),
    'Actual, frame by frame (? = no letter of the values matches):',
    ...actual.map((f, k) => row(f.frame, actualMarks[k].mark, showActual(f, how))),
  ];
  if (how.ignore.length > 0) lines.push(`(not compared: ${how.ignore.join(', ')})`);
  return lines.join('\n');
}
