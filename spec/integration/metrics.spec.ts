import { spawnSync } from 'node:child_process';
import { filter, map } from 'rxjs';
import { CrewSession, node } from 'rxcrew';
import { sample } from '../support/prometheus-text';
import { echoNode, Harness, say, silentLogger, within } from './helpers';

async function scrape(url: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string | null; text: string }> {
  const res = await within(fetch(`${url}/metrics`, { headers }), 'GET /metrics');
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

/** A node that fails on the user's message "fail" and emits nothing. */
function breaker() {
  return node('breaker', (input$) =>
    input$.pipe(
      map((e) => {
        if (e.type === 'agent.transcript.update' && e.content === 'fail') throw new Error('broken on purpose');
        return e;
      }),
      filter(() => false),
    ),
  );
}

const NAMES = [
  'rxcrew_sessions_active',
  'rxcrew_sessions_total',
  'rxcrew_client_frames_total',
  'rxcrew_events_total',
  'rxcrew_events_dropped_total',
  'rxcrew_node_errors_total',
  'rxcrew_closes_total',
  'rxcrew_send_queue_bytes',
  'rxcrew_turns_total',
  'rxcrew_interrupts_total',
  'rxcrew_llm_ttft_seconds',
  'rxcrew_turn_duration_seconds',
  'rxcrew_tts_ttfb_seconds',
  'rxcrew_voice_response_seconds',
  'rxcrew_interrupt_stop_seconds',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_seconds',
];

describe('GET /metrics', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('serves every metric DESIGN.md names, in the Prometheus text format', async () => {
    const { http } = await h.start({ setup: (s) => void s.addNode(echoNode()), logger: silentLogger });
    const { status, type, text } = await scrape(http);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of NAMES) expect(text).toContain(`# TYPE ${name} `);
    expect(sample(text, 'rxcrew_sessions_active')).toBe(0);
    expect(sample(text, 'rxcrew_sessions_total')).toBe(0);
  });

  it('counts what sessions did: frames by kind, events by type and direction, node errors, interrupts, closes', async () => {
    const sessions: CrewSession[] = [];
    const { http, connectReady } = await h.start({
      setup: (s) => {
        sessions.push(s);
        s.addNode(breaker());
        s.addNode(echoNode());
      },
      logger: silentLogger,
    });
    const a = await connectReady();
    const b = await connectReady();
    a.send(say('hello'));
    await a.next('agent.speak');
    a.send({ type: 'system.control.interrupt' });
    a.sendRaw('{"type":'); // not JSON
    await a.next('agent.error');
    a.send(say('fail'));
    await a.next((e) => e.type === 'agent.error' && (e.payload as { code?: string })?.code === 'CREW_ERR_NODE_FAILED');
    a.sendRaw(Buffer.from([1, 0, 2, 0])); // one audio frame
    await a.roundTrip();
    const during = (await scrape(http)).text;
    expect(sample(during, 'rxcrew_sessions_active')).toBe(2);
    expect(sample(during, 'rxcrew_sessions_total')).toBe(2);

    await a.close(1000);
    await b.close(4001);
    await within(Promise.all(sessions.map((s) => s.waitUntilComplete())), 'both sessions to complete');
    const { text } = await scrape(http);
    expect(sample(text, 'rxcrew_sessions_active')).toBe(0);
    expect(sample(text, 'rxcrew_sessions_total')).toBe(2);
    expect(sample(text, 'rxcrew_client_frames_total{kind="refused"}')).toBe(1);
    expect(sample(text, 'rxcrew_client_frames_total{kind="audio"}')).toBe(1);
    expect(sample(text, 'rxcrew_events_total{type="agent.transcript.update",direction="in"}')).toBe(2);
    expect(sample(text, 'rxcrew_events_total{type="system.control.interrupt",direction="in"}')).toBe(1);
    expect(sample(text, 'rxcrew_events_total{type="user.audio",direction="in"}')).toBe(1);
    expect(sample(text, 'rxcrew_events_total{type="agent.ready",direction="out"}')).toBe(2);
    expect(sample(text, 'rxcrew_events_total{type="agent.speak",direction="out"}')).toBe(2); // the echo answers "fail" too
    expect(sample(text, 'rxcrew_events_total{type="agent.error",direction="out"}')).toBe(2);
    expect(sample(text, 'rxcrew_node_errors_total{node="breaker"}')).toBe(1);
    expect(sample(text, 'rxcrew_interrupts_total')).toBe(1);
    expect(sample(text, 'rxcrew_closes_total{code="1000"}')).toBe(1);
    expect(sample(text, 'rxcrew_closes_total{code="app"}')).toBe(1);
    // the frames: json ones are whatever the client sent as events, each counted once
    const json = sample(text, 'rxcrew_client_frames_total{kind="json"}')!;
    const inbound = text
      .split('\n')
      .filter((l) => l.startsWith('rxcrew_events_total{') && l.includes('direction="in"') && !l.includes('user.audio'))
      .reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
    expect(json).toBe(inbound);
  });

  it('labels only catalog event types: a type a client makes up is "other" or refused, never a label of its own', async () => {
    const { http, connectReady } = await h.start({ setup: (s) => void s.addNode(echoNode()), logger: silentLogger });
    const c = await connectReady();
    c.send({ type: 'x.made.up.by.the.client' });
    await c.next('agent.error');
    const { text } = await scrape(http);
    expect(text).not.toContain('x.made.up.by.the.client');
    expect(sample(text, 'rxcrew_client_frames_total{kind="refused"}')).toBe(1);
  });

  it('passes promtool check metrics', async () => {
    const { http, connectReady } = await h.start({ setup: (s) => void s.addNode(echoNode()), logger: silentLogger });
    const c = await connectReady();
    c.send(say('hi'));
    await c.next('agent.speak');
    const { text } = await scrape(http);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error).toBeUndefined(); // promtool is installed (Debian's prometheus; .ci/run installs it)
    expect({ status: check.status, problems: `${check.stdout}${check.stderr}` }).toEqual({ status: 0, problems: '' });
  });

  it('is off with metrics: false (404), and behind authenticate with metricsAuth (401 without credentials)', async () => {
    const off = await h.start({ setup: (s) => void s.addNode(echoNode()), metrics: false, logger: silentLogger });
    expect((await scrape(off.http)).status).toBe(404);
    expect(off.app.metrics).toBeUndefined();

    const authenticate = (req: { headers: Record<string, unknown> }) => req.headers.authorization === 'Bearer scraper';
    const guarded = await h.start({ setup: (s) => void s.addNode(echoNode()), metricsAuth: true, authenticate, logger: silentLogger });
    expect((await scrape(guarded.http)).status).toBe(401);
    const allowed = await scrape(guarded.http, { authorization: 'Bearer scraper' });
    expect(allowed.status).toBe(200);
    expect(allowed.text).toContain('rxcrew_sessions_total');
  });

  it("serves the app's own metrics registered on app.metrics", async () => {
    const { Counter } = await import('prom-client');
    const running = await h.start({ setup: (s) => void s.addNode(echoNode()), logger: silentLogger });
    const bookings = new Counter({ name: 'app_bookings_total', help: 'Bookings made.', registers: [running.app.metrics!] });
    bookings.inc(3);
    expect(sample((await scrape(running.http)).text, 'app_bookings_total')).toBe(3);
  });
});
