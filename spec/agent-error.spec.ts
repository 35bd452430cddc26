import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentError } from '../lib/agent-error';
import { BadEventError, crewError, ErrorCodes, GraphCycleError } from '../lib/errors';
import { ROOT, tsFiles } from './support/source-files';

describe('agentError', () => {
  it('reports a node failure: the template message, a warning, payload {code, error_class, message, node_name}', () => {
    const report = agentError(ErrorCodes.NODE_FAILED, new RangeError('two is not allowed'), { details: { node_name: 'flaky' } });
    expect(report).toEqual({
      type: 'agent.error',
      message: 'node "flaky" failed: two is not allowed',
      severity: 'warning',
      payload: { code: 'CREW_ERR_NODE_FAILED', error_class: 'RangeError', message: 'two is not allowed', node_name: 'flaky' },
      timestamp: expect.any(String),
    });
    expect(Number.isNaN(Date.parse(report.timestamp as string))).toBe(false);
  });

  it('takes the severity and the message it is given', () => {
    const report = agentError(ErrorCodes.NODE_FAILED, new Error('boom'), {
      severity: 'fatal',
      message: 'node "agent" failed to answer: boom',
      details: { node_name: 'agent' },
    });
    expect(report).toMatchObject({ severity: 'fatal', message: 'node "agent" failed to answer: boom', payload: { message: 'boom' } });
  });

  it('puts the template details in the payload (a detached node)', () => {
    const report = agentError(ErrorCodes.NODE_FAILED, new Error('cannot start'), { details: { node_name: 'broken', detached: true } });
    expect(report.message).toBe('node "broken" failed while subscribing and is detached: cannot start');
    expect(report.payload).toEqual({ code: ErrorCodes.NODE_FAILED, error_class: 'Error', message: 'cannot start', node_name: 'broken', detached: true });
  });

  it('reports a hook failure with pattern and event_type', () => {
    const report = agentError(ErrorCodes.HOOK_FAILED, new TypeError('hook broke'), { details: { pattern: 'test.*', event_type: 'test.x' } });
    expect(report).toMatchObject({
      message: 'hook "test.*" failed on "test.x": hook broke',
      severity: 'warning',
      payload: { code: ErrorCodes.HOOK_FAILED, error_class: 'TypeError', message: 'hook broke', pattern: 'test.*', event_type: 'test.x' },
    });
  });

  it("adds a BadEventError's issues, and uses the code's one severity", () => {
    const issues = [{ path: 'text', message: 'Required' }];
    const report = agentError(ErrorCodes.BAD_EVENT, new BadEventError('invalid "agent.speak" event: text: Required', issues));
    expect(report).toMatchObject({
      message: 'invalid "agent.speak" event: text: Required',
      severity: 'warning',
      payload: { code: ErrorCodes.BAD_EVENT, error_class: 'BadEventError', message: 'invalid "agent.speak" event: text: Required', issues },
    });
  });

  it('is fatal by default for a code only ever fatal', () => {
    const report = agentError(ErrorCodes.FRAME_TOO_BIG, crewError(ErrorCodes.FRAME_TOO_BIG, { size: 9, limit: 8 }));
    expect(report).toMatchObject({
      severity: 'fatal',
      message: 'a frame of 9 bytes is over the limit of 8 bytes; closing',
      payload: { code: ErrorCodes.FRAME_TOO_BIG, error_class: 'CrewError' },
    });
  });

  it("reports a thrown error under its own code, and a thrown non-error by what it is", () => {
    expect(agentError(ErrorCodes.GRAPH_CYCLE, new GraphCycleError(['a', 'a']), { severity: 'fatal' }).payload).toEqual({
      code: ErrorCodes.GRAPH_CYCLE,
      error_class: 'GraphCycleError',
      message: 'graph has a cycle: a → a; remove one of these edges (a graph must be acyclic)',
    });
    expect(agentError(ErrorCodes.SETUP_FAILED, 'just a string')).toMatchObject({
      message: 'just a string',
      severity: 'fatal',
      payload: { code: ErrorCodes.SETUP_FAILED, error_class: 'string', message: 'just a string' },
    });
  });

  it('is the only maker of agent.error events in lib/ and operators/', () => {
    const handBuilt = tsFiles('lib', 'operators')
      .filter((file) => /event\(\s*'agent\.error'/.test(readFileSync(join(ROOT, file), 'utf8')))
      .sort();
    expect(handBuilt).toEqual(['lib/agent-error.ts']);
  });
});

