import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AlreadyStartedError,
  BadEventError,
  CloseCodes,
  CrewError,
  DuplicateNodeError,
  ErrorCodes,
  EventDefinedError,
  GraphCycleError,
  GraphLockedError,
  InterruptedError,
  InvalidArgumentError,
  InvalidEdgeError,
  LightningError,
  LlmError,
  NodeSetupError,
  SessionClosedError,
  SttError,
  UnknownNodeError,
} from 'rxcrew';
import { isAbortError, LlmErrorCodes } from 'rxcrew/llm';
import * as operators from 'rxcrew/operators';
import { SttErrorCodes } from 'rxcrew/voice';
import { closeCodeOf, crewError, errorCodeOf, errorEntry, errorMessage, ErrorRegistry } from '../lib/errors';
import { ROOT, tsFiles } from './support/source-files';

type Entry = (typeof ErrorRegistry)[keyof typeof ErrorRegistry];
type ClassCode = Extract<Entry, { class: string }>['code'];

/** One instance per code that a class carries; typed so that a new code without one does not compile. */
const samples: { [C in ClassCode]: () => CrewError } = {
  CREW_ERR_GRAPH_CYCLE: () => new GraphCycleError(['a', 'b', 'a']),
  CREW_ERR_UNKNOWN_NODE: () => new UnknownNodeError('b', 'child'),
  CREW_ERR_DUPLICATE_NODE: () => new DuplicateNodeError('a', false),
  CREW_ERR_INVALID_EDGE: () => new InvalidEdgeError('addEdge: twice'),
  CREW_ERR_GRAPH_LOCKED: () => new GraphLockedError('addNode'),
  CREW_ERR_ALREADY_STARTED: () => new AlreadyStartedError(),
  CREW_ERR_SESSION_CLOSED: () => new SessionClosedError('start'),
  CREW_ERR_NODE_SETUP: () => new NodeSetupError('a', new Error('boom')),
  CREW_ERR_INVALID_ARGUMENT: () => new InvalidArgumentError('bad'),
  CREW_ERR_EVENT_DEFINED: () => new EventDefinedError('x.y'),
  CREW_ERR_BAD_EVENT: () => new BadEventError('bad event'),
  CREW_ERR_RATE_LIMITED: () => crewError(ErrorCodes.RATE_LIMITED, { limit: 4, what: 'events', closing: false }),
  CREW_ERR_FRAME_TOO_BIG: () => crewError(ErrorCodes.FRAME_TOO_BIG, { size: 9, limit: 8 }),
  CREW_ERR_BUFFER_FULL: () => crewError(ErrorCodes.BUFFER_FULL, { limit: 8 }),
  CREW_ERR_SERVER_FULL: () => crewError(ErrorCodes.SERVER_FULL, { maxSessions: 2, closing: false }),
  CREW_ERR_SETUP_TIMEOUT: () => crewError(ErrorCodes.SETUP_TIMEOUT, { ms: 10 }),
  CREW_ERR_IDLE_TIMEOUT: () => crewError(ErrorCodes.IDLE_TIMEOUT, { ms: 10 }),
  CREW_ERR_RESUME_REFUSED: () => crewError(ErrorCodes.RESUME_REFUSED, { reason: 'the token is not valid' }),
  CREW_ERR_INTERRUPTED: () => new InterruptedError(),
  CREW_ERR_LLM_HTTP: () => new LlmError(LlmErrorCodes.HTTP, 'm', { status: 500 }),
  CREW_ERR_LLM_NETWORK: () => new LlmError(LlmErrorCodes.NETWORK, 'm'),
  CREW_ERR_LLM_TIMEOUT: () => new LlmError(LlmErrorCodes.TIMEOUT, 'm'),
  CREW_ERR_LLM_ABORTED: () => new LlmError(LlmErrorCodes.ABORTED, 'm'),
  CREW_ERR_LLM_BAD_RESPONSE: () => new LlmError(LlmErrorCodes.BAD_RESPONSE, 'm'),
  CREW_ERR_LLM_STREAM: () => new LlmError(LlmErrorCodes.STREAM, 'm'),
  CREW_ERR_STT_NO_KEY: () => new SttError(SttErrorCodes.NO_KEY, 'm'),
  CREW_ERR_STT_AUTH: () => new SttError(SttErrorCodes.AUTH, 'm'),
  CREW_ERR_STT_BAD_REQUEST: () => new SttError(SttErrorCodes.BAD_REQUEST, 'm'),
  CREW_ERR_STT_LIMIT: () => new SttError(SttErrorCodes.LIMIT, 'm'),
  CREW_ERR_STT_HTTP: () => new SttError(SttErrorCodes.HTTP, 'm'),
  CREW_ERR_STT_SERVER: () => new SttError(SttErrorCodes.SERVER, 'm'),
  CREW_ERR_STT_NETWORK: () => new SttError(SttErrorCodes.NETWORK, 'm'),
  CREW_ERR_TTS_HTTP: () => new LightningError(ErrorCodes.TTS_HTTP, 'm', { status: 500 }),
  CREW_ERR_TTS_NETWORK: () => new LightningError(ErrorCodes.TTS_NETWORK, 'm'),
  CREW_ERR_TTS_TIMEOUT: () => new LightningError(ErrorCodes.TTS_TIMEOUT, 'm'),
  CREW_ERR_TTS_BAD_RESPONSE: () => new LightningError(ErrorCodes.TTS_BAD_RESPONSE, 'm'),
  CREW_ERR_TTS_STREAM: () => new LightningError(ErrorCodes.TTS_STREAM, 'm'),
};

const entries = Object.entries(ErrorRegistry) as [keyof typeof ErrorRegistry, Entry][];

describe('the error registry', () => {
  it('names each code after its key, once', () => {
    for (const [name, entry] of entries) expect(entry.code).toBe(`CREW_ERR_${name}`);
    expect(new Set(entries.map(([, e]) => e.code)).size).toBe(entries.length);
    expect(ErrorCodes).toEqual(Object.fromEntries(entries.map(([name, e]) => [name, e.code])));
    expect(Object.isFrozen(ErrorCodes)).toBe(true);
  });

  it('keeps the codes DESIGN.md and the docs name', () => {
    expect(ErrorCodes).toMatchObject({
      GRAPH_CYCLE: 'CREW_ERR_GRAPH_CYCLE',
      UNKNOWN_NODE: 'CREW_ERR_UNKNOWN_NODE',
      DUPLICATE_NODE: 'CREW_ERR_DUPLICATE_NODE',
      GRAPH_LOCKED: 'CREW_ERR_GRAPH_LOCKED',
      ALREADY_STARTED: 'CREW_ERR_ALREADY_STARTED',
      BAD_EVENT: 'CREW_ERR_BAD_EVENT',
      NODE_FAILED: 'CREW_ERR_NODE_FAILED',
      HOOK_FAILED: 'CREW_ERR_HOOK_FAILED',
    });
  });

  it('has, for every code a class carries, an instance of that class extending CrewError', () => {
    const classCodes = entries.filter(([, e]) => 'class' in e).map(([, e]) => e.code);
    expect(Object.keys(samples).sort()).toEqual([...classCodes].sort());
    for (const code of classCodes) {
      const error = samples[code as ClassCode]();
      expect(error).toBeInstanceOf(CrewError);
      expect(error).toBeInstanceOf(Error);
      expect([code, error.code, error.constructor.name]).toEqual([code, code, errorEntry(code).class]);
    }
  });

  it('builds the messages of templated codes from the template', () => {
    expect(new GraphCycleError(['a', 'b', 'a']).message).toBe('graph has a cycle: a → b → a; remove one of these edges (a graph must be acyclic)');
    expect(new DuplicateNodeError('a', true).message).toBe('addNode: node "a" was already added to this session');
    expect(new NodeSetupError('a', new Error('boom')).message).toBe('node "a" threw in process(): boom');
    expect(samples.CREW_ERR_RATE_LIMITED().message).toBe('over the limit of 4 events per second; dropping them');
    expect(errorMessage(ErrorCodes.RATE_LIMITED, { limit: 4, what: 'audio frames', closing: true })).toBe(
      'more than twice the limit of 4 audio frames per second; closing',
    );
    expect(samples.CREW_ERR_SERVER_FULL().message).toBe('the server is full (2 sessions)');
    expect(crewError(ErrorCodes.SERVER_FULL, { maxSessions: 2, closing: true }).message).toBe('the server is shutting down');
    expect(errorMessage(ErrorCodes.NODE_FAILED, { node_name: 'n', detached: true, cause: 'x' })).toBe('node "n" failed while subscribing and is detached: x');
  });

  it('gives reported codes a severity, and fatal ones a close code of CloseCodes', () => {
    const closeCodes: number[] = Object.values(CloseCodes);
    for (const [, entry] of entries) {
      const e: { severity: readonly string[]; close?: number; class?: string } = entry;
      for (const s of e.severity) expect(['warning', 'fatal']).toContain(s);
      if (e.close !== undefined) {
        expect(closeCodes).toContain(e.close);
        expect(e.severity).toContain('fatal');
      }
      if (e.class === undefined) expect(e.severity.length).toBeGreaterThan(0); // a code only reported is reported
    }
    expect(closeCodeOf(ErrorCodes.SERVER_FULL)).toBe(CloseCodes.TRY_AGAIN_LATER);
    expect(closeCodeOf(ErrorCodes.FRAME_TOO_BIG)).toBe(CloseCodes.MESSAGE_TOO_BIG);
    expect(closeCodeOf(ErrorCodes.GRAPH_CYCLE)).toBe(CloseCodes.INTERNAL_ERROR); // none of its own: a failed setup's
  });

  it('LlmErrorCodes and SttErrorCodes are exactly the codes of LlmError and SttError', () => {
    const codesOf = (cls: string) => entries.filter(([, e]) => (e as { class?: string }).class === cls).map(([, e]) => e.code).sort();
    expect(Object.values(LlmErrorCodes).sort()).toEqual(codesOf('LlmError'));
    expect(Object.values(SttErrorCodes).sort()).toEqual(codesOf('SttError'));
  });

  it('an aborted LlmError is named AbortError, like an aborted fetch', () => {
    expect(samples.CREW_ERR_LLM_ABORTED().name).toBe('AbortError');
    expect(samples.CREW_ERR_LLM_HTTP().name).toBe('LlmError');
  });

  it('an InterruptedError is named AbortError too, and is the same class from rxcrew and rxcrew/operators', () => {
    const interrupted = samples.CREW_ERR_INTERRUPTED();
    expect([interrupted.name, interrupted.message]).toEqual(['AbortError', 'interrupted']);
    expect(isAbortError(interrupted)).toBe(true);
    expect(new InterruptedError('unsubscribed').message).toBe('unsubscribed');
    expect(operators.InterruptedError).toBe(InterruptedError);
  });

  it('errorCodeOf: a CrewError code, else the fallback', () => {
    expect(errorCodeOf(new SttError(SttErrorCodes.AUTH, 'm'), ErrorCodes.STT_FAILED)).toBe('CREW_ERR_STT_AUTH');
    expect(errorCodeOf(Object.assign(new Error('m'), { code: 'ECONNRESET' }), ErrorCodes.STT_FAILED)).toBe('CREW_ERR_STT_FAILED');
    expect(errorCodeOf('thrown string', ErrorCodes.SETUP_FAILED)).toBe('CREW_ERR_SETUP_FAILED');
  });

  it('no source file spells a code as a bare string: codes come from ErrorCodes', () => {
    const bare = tsFiles('lib', 'operators', 'bin', 'demos')
      .filter((file) => file !== 'lib/errors.ts')
      .filter((file) => /['"]CREW_ERR_/.test(readFileSync(join(ROOT, file), 'utf8')));
    expect(bare).toEqual([]);
  });
});

