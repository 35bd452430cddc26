import { z } from 'zod';
import { BadEventError, defineEvent, ErrorCodes, event, Events } from 'rxcrew';
import { canonicalType, getEventDefinition, registeredEventTypes } from '../lib/events';

describe('defineEvent', () => {
  const Order = defineEvent('shop.order_placed', { order_id: z.string(), total: z.number().nonnegative() });

  it('creates validated, timestamped events', () => {
    const e = Order.create({ order_id: 'A1', total: 12 });
    expect(e).toEqual({ type: 'shop.order_placed', order_id: 'A1', total: 12, timestamp: expect.any(String) });
    expect(Number.isNaN(Date.parse(e.timestamp!))).toBe(false);
    expect(Order.create({ order_id: 'A2', total: 1, timestamp: 'then' }).timestamp).toBe('then');
  });

  it('throws BadEventError naming each failing field', () => {
    let thrown: unknown;
    try {
      Order.create({ order_id: 7 as unknown as string, total: -1 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BadEventError);
    expect(thrown).toMatchObject({ code: ErrorCodes.BAD_EVENT });
    expect((thrown as BadEventError).issues.map((i) => i.path)).toEqual(['order_id', 'total']);
    expect((thrown as Error).message).toMatch(/^invalid "shop.order_placed" event: order_id: .*; total: /);
  });

  it('keeps extra fields and checks type with .is()', () => {
    const parsed = Order.schema.parse({ type: 'shop.order_placed', order_id: 'A', total: 0, extra: true });
    expect(parsed).toMatchObject({ extra: true });
    expect(Order.is(parsed)).toBe(true);
    expect(Order.is({ type: 'other' })).toBe(false);
    expect(Order.is(undefined)).toBe(false);
  });

  it('registers the type (client may send it) and refuses a second definition', () => {
    expect(getEventDefinition('shop.order_placed')).toBe(Order);
    expect(registeredEventTypes()).toContain('shop.order_placed');
    expect(() => defineEvent('shop.order_placed')).toThrow(expect.objectContaining({ code: ErrorCodes.EVENT_DEFINED }));
    expect(() => defineEvent('system.user_joined')).toThrow(expect.objectContaining({ code: ErrorCodes.EVENT_DEFINED }));
    expect(() => defineEvent('')).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
    expect(Order.direction).toBe('any');
  });
});

describe('event', () => {
  it('creates a stamped event and resolves aliases', () => {
    expect(event('agent.speak', { text: 'hi' })).toEqual({ type: 'agent.speak', text: 'hi', timestamp: expect.any(String) });
    expect(event('system.user_left').type).toBe('system.user.left');
    expect(event('x', { type: 'ignored' }).type).toBe('x');
    expect(() => event('')).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT }));
  });
});

describe('the built-in catalog', () => {
  it('validates system.user.dtmf: one key', () => {
    expect(Events.SystemUserDtmf.schema.safeParse({ type: 'system.user.dtmf', digit: '5' }).success).toBe(true);
    expect(Events.SystemUserDtmf.schema.safeParse({ type: 'system.user.dtmf', digit: '55' }).success).toBe(false);
  });

  it('registers the Atoms wire names exactly', () => {
    const types = Object.values(Events).map((d) => d.type).sort();
    expect(types).toEqual(
      [
        'agent.audio',
        'agent.control.interrupt',
        'agent.control.mute_user',
        'agent.control.unmute_user',
        'agent.end_call',
        'agent.error',
        'agent.llm.response.chunk',
        'agent.llm.response.end',
        'agent.llm.response.start',
        'agent.log',
        'agent.ready',
        'agent.speak',
        'agent.transcript.update',
        'agent.transfer_call',
        'system.control.interrupt',
        'system.init',
        'system.llm.request',
        'system.output_agent.update_settings',
        'system.session.resumed', // ours: a session resumed from the store (issue 13)
        'system.user.dtmf', // ours: the Twilio transport's keypresses (issue 11)
        'system.user.joined',
        'system.user.left',
        'system.user.started_speaking',
        'system.user.stopped_speaking',
        'user.audio',
      ].sort(),
    );
  });

  it('resolves the product page aliases', () => {
    expect(canonicalType('system.user_joined')).toBe('system.user.joined');
    expect(canonicalType('system.user_left')).toBe('system.user.left');
    expect(getEventDefinition('system.user_joined')).toBe(Events.SystemUserJoined);
    expect(Events.SystemUserJoined.is({ type: 'system.user_joined' })).toBe(true);
  });

  it('requires the documented fields', () => {
    expect(Events.AgentError.schema.safeParse({ type: 'agent.error', message: 'm', severity: 'warning', payload: {} }).success).toBe(true);
    expect(Events.AgentError.schema.safeParse({ type: 'agent.error', message: 'm', severity: 'loud', payload: {} }).success).toBe(false);
    expect(Events.AgentTranscriptUpdate.schema.safeParse({ type: 'agent.transcript.update', role: 'user' }).success).toBe(false);
    expect(Events.AgentTransferCall.create({ transfer_call_number: '+1', transfer_options: {} }).type).toBe('agent.transfer_call');
    expect(() => Events.AgentLlmResponseChunk.create({} as never)).toThrow(/text/);
    expect(Events.SystemLlmRequest.create().type).toBe('system.llm.request');
  });
});
