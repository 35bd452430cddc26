import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { CrewEvent, CrewSession } from 'rxcrew';
import { CrewClient, echoNode, Harness, recordingLogger, RunningApp, say, within } from '../integration/helpers';
import { binaryCase, deepCase, Delivery, describeDelivery, FuzzCase, invalidUtf8Case, jsonValueCase, mutatedEventCase, textCase } from './arbitraries';
import { assertNoPollution, brief, classify, fits, Outcome, prototypeKeys, Verdict, verdictForText } from './oracle';

/*
 * Fuzz over real sockets: hundreds of hostile frames from one `ws` client to a
 * live CrewApp while a second client sits beside it. For every case: a frame
 * larger than maxPayload is reported (agent.error, CREW_ERR_FRAME_TOO_BIG) and closes that connection with 1009, and invalid UTF-8 in
 * a text frame with 1007 (the session ends, the app forgets it, a new client
 * takes over); any other frame gets the contract's verdict, its replies use the
 * frame kind of the client's last JSON message, and a valid event sent after
 * it is answered; the bystander receives nothing and its session sees nothing;
 * nothing is logged as an error. The server runs in this process: Jest fails
 * the running test on any uncaught exception or unhandled rejection in it
 * (its sandbox keeps `process.on('uncaughtException')` listeners from seeing
 * them, so the spec does not add one).
 *
 * FUZZ_SCALE=10 multiplies the runs; FUZZ_SEED replays a failure.
 */

const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (n: number) => ({ numRuns: Math.round(n * SCALE), ...(SEED !== undefined && { seed: SEED }) });

const MAX_PAYLOAD = 4096;
const echoes = (e: CrewEvent) => e.type === 'agent.transcript.update';

/** What one frame must do on the wire: close the connection with a code, or get a verdict. */
type WireExpect = { close: 1009 | 1007; reported: boolean } | { verdict: Verdict };

/** The bytes `ws` puts on the wire for a delivery, and whether as a text frame. */
function wireBytes(d: Delivery): { bytes: Buffer; text: boolean } {
  switch (d.mode) {
    case 'text':
      return { bytes: Buffer.from(d.data), text: true };
    case 'value':
      return { bytes: Buffer.from(JSON.stringify(d.data)), text: true };
    case 'text-bytes':
      return { bytes: d.data, text: true };
    case 'binary':
      return { bytes: d.data, text: false };
  }
}

function expectOnWire(c: FuzzCase): WireExpect {
  const { bytes, text } = wireBytes(c.delivery);
  // the session reports frames up to 4 × maxPayload before closing; ws refuses bigger ones unread
  if (bytes.length > MAX_PAYLOAD) return { close: 1009, reported: bytes.length <= 4 * MAX_PAYLOAD };
  if (text && !isUtf8(bytes)) return { close: 1007, reported: false };
  // a string with lone surrogates reaches the server as UTF-8 with U+FFFD in their place
  if (c.delivery.mode === 'text' && bytes.toString('utf8') !== c.delivery.data) return { verdict: verdictForText(bytes.toString('utf8')) };
  return { verdict: c.verdict };
}

/** Frames larger than maxPayload, as text or binary, valid JSON or not. */
const oversizeCase: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.integer({ min: MAX_PAYLOAD + 1, max: MAX_PAYLOAD * 5 }), fc.constantFrom('text', 'binary', 'json'))
  .map(([size, kind]) => {
    const json = JSON.stringify(say('x'.repeat(size)));
    const delivery: Delivery =
      kind === 'text' ? { mode: 'text', data: 'y'.repeat(size) } : kind === 'binary' ? { mode: 'binary', data: Buffer.alloc(size, 1) } : { mode: 'text', data: json };
    // (the verdict is never read: expectOnWire sees the size first)
    return { what: `oversize ${kind} frame`, delivery, verdict: 'bad' as Verdict };
  });

/** Keeps a case small enough for the wire unless it is meant to be oversize. */
const fitting = (arb: fc.Arbitrary<FuzzCase>) => arb.filter((c) => wireBytes(c.delivery).bytes.length <= MAX_PAYLOAD);

const wireCase: fc.Arbitrary<FuzzCase> = fc.oneof(
  { arbitrary: fitting(jsonValueCase), weight: 3 },
  { arbitrary: fitting(mutatedEventCase), weight: 4 },
  { arbitrary: fitting(textCase), weight: 2 },
  { arbitrary: fitting(binaryCase), weight: 3 },
  { arbitrary: fitting(deepCase), weight: 1 },
  { arbitrary: invalidUtf8Case, weight: 1 },
  { arbitrary: oversizeCase, weight: 1 },
);

describe('CrewApp under fuzzed frames (real sockets)', () => {
  const h = new Harness();
  const logger = recordingLogger();
  const prototypeBaseline = prototypeKeys();
  const sessions = new Map<string, CrewSession>();
  const seenBy = new Map<string, CrewEvent[]>();
  const counts = { cases: 0, bad: 0, accept: 0, drop: 0, audio: 0, closes1009: 0, closes1007: 0, garbage: 0 };

  let running: RunningApp;
  let fuzz: { client: CrewClient; id: string };
  let bystander: { client: CrewClient; id: string };

  async function join(): Promise<{ client: CrewClient; id: string }> {
    const client = await running.connect();
    const ready = await client.next('agent.ready');
    return { client, id: ready.session_id as string };
  }

  beforeAll(async () => {
    running = await h.start({
      logger,
      maxPayload: MAX_PAYLOAD,
      maxEventsPerSecond: 1_000_000_000,
      maxAudioFramesPerSecond: 1_000_000_000,
      setup: (session) => {
        const seen: CrewEvent[] = [];
        sessions.set(session.id, session);
        seenBy.set(session.id, seen);
        session.addNode(echoNode());
        session.onEvent('*', (_s, e) => void seen.push(e));
      },
    });
    bystander = await join();
    fuzz = await join();
  });

  afterAll(async () => {
    try {
      // the bystander received nothing but its agent.ready, its session saw only its own start, and it still answers
      expect(bystander.client.types).toEqual(['agent.ready']);
      expect(seenBy.get(bystander.id)!.map((e) => e.type)).toEqual(['agent.ready', 'system.user.joined']);
      bystander.client.send(say('unaffected'));
      expect((await bystander.client.next('agent.speak')).text).toBe('unaffected');
      expect(logger.error).not.toHaveBeenCalled();
      assertNoPollution(prototypeBaseline);
      if (process.env.FUZZ_REPORT) console.log(`server fuzz: ${JSON.stringify(counts)}`);
    } finally {
      await h.cleanup();
    }
  });

  function send(client: CrewClient, d: Delivery): void {
    const { bytes, text } = wireBytes(d);
    // a string goes as the string (ws encodes it); bytes go as they are, even when they are not UTF-8
    client.socket.send(d.mode === 'text' ? d.data : bytes, { binary: !text });
  }

  function assertConsistent(where: () => string): void {
    const live = [...running.app.sessions.keys()].sort();
    const expected = [bystander.id, fuzz.id].sort();
    if (live.join() !== expected.join()) throw new Error(`app.sessions is [${live.join(', ')}], expected [${expected.join(', ')}]; ${where()}`);
    if (bystander.client.frames.length !== 1 || seenBy.get(bystander.id)!.length !== 2) {
      throw new Error(`the bystander saw something: ${bystander.client.types.join(', ')}; ${where()}`);
    }
    assertNoPollution(prototypeBaseline);
  }

  /**
   * The frame closed the connection: the session ends with that code and the app forgets it; a new fuzz client joins.
   * An oversize frame (1009) up to 4 × maxPayload is reported first with a fatal agent.error (CREW_ERR_FRAME_TOO_BIG);
   * a bigger one, and bad UTF-8 (1007), are refused by ws before the session sees them, so nothing is reported.
   */
  async function expectClosed(code: number, isReported: boolean, where: () => string, f0: number, s0: number): Promise<void> {
    const { client, id } = fuzz;
    const seen = seenBy.get(id)!;
    const closed = await within(client.closed, `close ${code}; ${where()}`);
    if (closed.code !== code) throw new Error(`closed with ${closed.code} (${closed.reason}), expected ${code}; ${where()}`);
    await within(sessions.get(id)!.waitUntilComplete(), `the session to end; ${where()}`);
    const reported = isReported ? ['agent.error'] : [];
    const left = seen.slice(s0);
    const types = left.map((e) => e.type);
    if (types.join() !== [...reported, 'system.user.left'].join() || left[left.length - 1].code !== code) {
      throw new Error(`hooks saw ${brief(left)} as the connection closed; ${where()}`);
    }
    const received = client.frames.slice(f0);
    const report = received[0]?.event;
    if (received.length !== reported.length || (isReported && (report?.severity !== 'fatal' || (report?.payload as { code?: string }).code !== 'CREW_ERR_FRAME_TOO_BIG'))) {
      throw new Error(`the client received ${received.map((f) => f.event?.type ?? f.kind).join(', ') || 'nothing'} as it was closed; ${where()}`);
    }
    if (running.app.sessions.has(id)) throw new Error(`app.sessions still holds the closed session; ${where()}`);
    code === 1009 ? counts.closes1009++ : counts.closes1007++;
    fuzz = await join();
  }

  /** The frame got a verdict: check it, then a valid event must be answered. */
  async function expectVerdict(verdict: Verdict, c: FuzzCase, where: () => string, f0: number, s0: number): Promise<void> {
    const { client, id } = fuzz;
    const barrier = `after case ${counts.cases}`;
    client.send(say(barrier));
    await client.next((e) => e.type === 'agent.speak' && e.text === barrier);

    const frames = client.frames.slice(f0);
    const at = frames.findIndex((f) => f.event?.type === 'agent.speak' && f.event.text === barrier);
    const mine = frames.slice(0, at);
    if (mine.some((f) => f.kind !== 'json')) throw new Error(`the client received audio; ${where()}`);
    const seen = seenBy.get(id)!.slice(s0);
    const upTo = seen.findIndex((e) => e.type === 'agent.transcript.update' && e.content === barrier);
    let outcome: Outcome;
    try {
      outcome = classify(
        mine.map((f) => f.event!),
        seen.slice(0, upTo),
        echoes,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n  ${where()}`);
    }
    if (!fits(verdict, outcome)) {
      throw new Error(`got ${outcome.kind === 'bad' ? `bad: ${outcome.message}` : outcome.kind}; ${where()}`);
    }
    // replies take the frame kind of the client's most recent JSON message
    const binaryJson = c.delivery.mode === 'binary' && outcome.kind !== 'audio';
    if (mine.some((f) => f.binary !== binaryJson)) throw new Error(`a reply came in a ${binaryJson ? 'text' : 'binary'} frame; ${where()}`);
    if (frames.length !== at + 1) throw new Error(`something came after the barrier's reply; ${where()}`);
    counts[outcome.kind]++;
  }

  async function check(c: FuzzCase): Promise<void> {
    counts.cases++;
    const expectation = expectOnWire(c);
    const where = () => `case ${counts.cases}: ${c.what}, ${describeDelivery(c.delivery)}; expected ${JSON.stringify(expectation)}`;
    const f0 = fuzz.client.frames.length;
    const s0 = seenBy.get(fuzz.id)!.length;
    send(fuzz.client, c.delivery);
    if ('close' in expectation) await expectClosed(expectation.close, expectation.reported, where, f0, s0);
    else await expectVerdict(expectation.verdict, c, where, f0, s0);
    assertConsistent(where);
  }

  it('answers hundreds of hostile frames by the contract, one connection at a time, the bystander untouched', async () => {
    await fc.assert(
      fc.asyncProperty(wireCase, (c) => check(c)),
      runs(500),
    );
    // the fuzz reached every kind of outcome, not only refusals
    expect(counts.cases).toBeGreaterThanOrEqual(500 * SCALE);
    for (const kind of ['bad', 'accept', 'drop', 'audio'] as const) expect(counts[kind]).toBeGreaterThan(0);
    expect(counts.closes1009).toBeGreaterThan(0);
    expect(counts.closes1007).toBeGreaterThan(0);
  });

  it('ends a connection that writes raw garbage on the socket, and only that one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 64 }), async (garbage) => {
        counts.garbage++;
        const victim = await join();
        const where = () => `garbage <${Buffer.from(garbage).toString('hex')}>`;
        const raw = (victim.client.socket as unknown as { _socket: Socket })._socket;
        raw.write(garbage);
        raw.end();
        await within(victim.client.closed, `the client to see the close; ${where()}`);
        await within(sessions.get(victim.id)!.waitUntilComplete(), `the session to end; ${where()}`);
        expect(running.app.sessions.has(victim.id)).toBe(false);
        assertConsistent(where);
      }),
      runs(50),
    );
    // the long-lived fuzz client still answers
    fuzz.client.send(say('after garbage'));
    await fuzz.client.next((e) => e.type === 'agent.speak' && e.text === 'after garbage');
  });
});
