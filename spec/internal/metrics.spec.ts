import { CrewEvent, OutputCrewNode, Turn } from 'rxcrew';
import { scriptedResponder } from 'rxcrew/llm';
import { testSession } from 'rxcrew/testing';
import { CrewMetrics } from '../../lib/internal/metrics';
import { observeSession } from '../../lib/internal/observer';
import type { TurnMetrics } from '../../lib/turn-metrics';
import { sample } from '../support/prometheus-text';

function turn(fields: Partial<TurnMetrics>): TurnMetrics {
  return { request_id: 'r', ttft_ms: 120, duration_ms: 900, tool_ms: 0, interrupted: false, chunks: 3, outcome: 'completed', ...fields };
}

describe('CrewMetrics', () => {
  const metrics = () => new CrewMetrics({ activeSessions: () => 7, sendQueueBytes: () => 4096 });

  it('puts each turn figure in its histogram, in seconds, and counts turns by outcome', async () => {
    const m = metrics();
    m.turn(turn({ ttft_ms: 120, duration_ms: 900, tts_ttfb_ms: 40, voice_response_ms: 650 }));
    m.turn(turn({ ttft_ms: 450, duration_ms: 2500, interrupted: true, outcome: 'interrupted' }));
    m.turn(turn({ ttft_ms: null, duration_ms: 30, outcome: 'failed' }));
    m.interruptStopped(15);
    const text = await m.exposition();
    expect(sample(text, 'rxcrew_llm_ttft_seconds_count')).toBe(2); // a turn with no text has no TTFT
    expect(sample(text, 'rxcrew_llm_ttft_seconds_sum')).toBeCloseTo(0.57, 6);
    expect(sample(text, 'rxcrew_llm_ttft_seconds_bucket{le="0.2"}')).toBe(1);
    expect(sample(text, 'rxcrew_llm_ttft_seconds_bucket{le="0.5"}')).toBe(2);
    expect(sample(text, 'rxcrew_turn_duration_seconds_count')).toBe(3);
    expect(sample(text, 'rxcrew_turn_duration_seconds_sum')).toBeCloseTo(3.43, 6);
    expect(sample(text, 'rxcrew_tts_ttfb_seconds_count')).toBe(1);
    expect(sample(text, 'rxcrew_tts_ttfb_seconds_bucket{le="0.05"}')).toBe(1);
    expect(sample(text, 'rxcrew_voice_response_seconds_bucket{le="0.5"}')).toBe(0);
    expect(sample(text, 'rxcrew_voice_response_seconds_bucket{le="0.8"}')).toBe(1);
    expect(sample(text, 'rxcrew_interrupt_stop_seconds_sum')).toBeCloseTo(0.015, 6);
    expect(sample(text, 'rxcrew_turns_total{outcome="completed"}')).toBe(1);
    expect(sample(text, 'rxcrew_turns_total{outcome="interrupted"}')).toBe(1);
    expect(sample(text, 'rxcrew_turns_total{outcome="failed"}')).toBe(1);
  });

  it('reads its gauges from the app when scraped, and counts again from the start on each scrape (no double counting)', async () => {
    const m = metrics();
    m.sessionStarted();
    m.event('agent.speak', 'out');
    m.event('agent.speak', 'out');
    m.event('user.audio', 'in');
    m.dropped('slow_client');
    const first = await m.exposition();
    const second = await m.exposition();
    for (const text of [first, second]) {
      expect(sample(text, 'rxcrew_sessions_active')).toBe(7);
      expect(sample(text, 'rxcrew_send_queue_bytes')).toBe(4096);
      expect(sample(text, 'rxcrew_sessions_total')).toBe(1);
      expect(sample(text, 'rxcrew_events_total{type="agent.speak",direction="out"}')).toBe(2);
      expect(sample(text, 'rxcrew_events_total{type="user.audio",direction="in"}')).toBe(1);
      expect(sample(text, 'rxcrew_events_dropped_total{reason="slow_client"}')).toBe(1);
    }
  });

  it('keeps label values bounded: unknown event types are "other", application close codes "app"', async () => {
    const m = metrics();
    m.event('made.up.1', 'out');
    m.event('made.up.2', 'out');
    m.closed(1006);
    m.closed(4000);
    m.closed(4999);
    const text = await m.exposition();
    expect(sample(text, 'rxcrew_events_total{type="other",direction="out"}')).toBe(2);
    expect(text).not.toContain('made.up');
    expect(sample(text, 'rxcrew_closes_total{code="1006"}')).toBe(1);
    expect(sample(text, 'rxcrew_closes_total{code="app"}')).toBe(2);
  });

  it('keeps one registry per app, so two apps in a process do not share counts', async () => {
    const a = metrics();
    const b = metrics();
    a.interrupt();
    expect(sample(await a.exposition(), 'rxcrew_interrupts_total')).toBe(1);
    expect(sample(await b.exposition(), 'rxcrew_interrupts_total')).toBe(0);
  });

  it('fills the histograms from a real turn: a scripted model with known delays, in virtual time', async () => {
    class Scripted extends OutputCrewNode {
      // a word every 150 ms: the first after 150, the end after 450
      private readonly respond = scriptedResponder([{ name: 'any', when: () => true, reply: 'one two three' }], { chunkDelayMs: 150, wordsPerChunk: 1 });
      generateResponse(turn: Turn) {
        return this.respond(turn);
      }
    }
    const m = metrics();
    const request = (id: string): CrewEvent => ({ type: 'system.llm.request', request_id: id, messages: [{ role: 'user', content: 'go' }] });
    await testSession(
      (session) => {
        observeSession(session, m);
        session.addNode(new Scripted());
      },
      { client: '-q 999ms Q 999ms i', values: { q: request('q1'), Q: request('q2'), i: { type: 'system.control.interrupt' } } },
    );
    const text = await m.exposition();
    expect(sample(text, 'rxcrew_llm_ttft_seconds_count')).toBe(2);
    expect(sample(text, 'rxcrew_llm_ttft_seconds_sum')).toBeCloseTo(0.3, 9);
    expect(sample(text, 'rxcrew_llm_ttft_seconds_bucket{le="0.1"}')).toBe(0);
    expect(sample(text, 'rxcrew_llm_ttft_seconds_bucket{le="0.2"}')).toBe(2);
    expect(sample(text, 'rxcrew_turn_duration_seconds_sum')).toBeCloseTo(0.9, 9);
    expect(sample(text, 'rxcrew_turn_duration_seconds_bucket{le="0.25"}')).toBe(0);
    expect(sample(text, 'rxcrew_turn_duration_seconds_bucket{le="0.5"}')).toBe(2);
    expect(sample(text, 'rxcrew_turns_total{outcome="completed"}')).toBe(2);
    expect(sample(text, 'rxcrew_interrupts_total')).toBe(1);
    // a chat graph has no voice figures
    expect(sample(text, 'rxcrew_voice_response_seconds_count')).toBe(0);
  });
});
