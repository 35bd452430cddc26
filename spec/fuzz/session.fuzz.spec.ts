import fc from 'fast-check';
import { filter, map } from 'rxjs';
import { CrewEvent, CrewSession, event, node } from 'rxcrew';
import { TestClient } from 'rxcrew/testing';
import { silentLogger } from '../integration/helpers';
import {
  binaryCase,
  decodedValue,
  deepCase,
  Delivery,
  describeDelivery,
  FuzzCase,
  invalidUtf8Case,
  jsonValueCase,
  mutatedEventCase,
  textCase,
} from './arbitraries';
import { assertNoPollution, brief, classify, fits, Outcome, prototypeKeys } from './oracle';

/*
 * Fuzz, in process: thousands of hostile frames thrown at the root of a live
 * session (echo node + a `*` hook), each followed by a valid event. For every
 * case: nothing throws; the frame yields exactly what the contract allows (one
 * CREW_ERR_BAD_EVENT warning, silence for runtime-only types, audio, or the
 * event itself); hooks never see a refused frame; the next valid event is
 * answered; Object.prototype is untouched; a second session sees nothing.
 *
 * FUZZ_SCALE=10 multiplies the runs; FUZZ_SEED replays a failure.
 */

const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (n: number) => ({ numRuns: Math.round(n * SCALE), ...(SEED !== undefined && { seed: SEED }) });

/** No rate limit: the fuzzer sends far faster than a client may. */
const UNLIMITED = { maxEventsPerSecond: 1e9, maxAudioFramesPerSecond: 1e9, maxFrameBytes: Infinity };

const echoes = (e: CrewEvent) => e.type === 'agent.transcript.update';

/** A live session as a client sees it, and what its `*` hook saw. */
interface Rig {
  session: CrewSession;
  /** What the client received. */
  received: CrewEvent[];
  /** Every event the `*` hook saw. */
  seen: CrewEvent[];
  deliver(d: Delivery): void;
  close(): Promise<void>;
}

function newSession(seen: CrewEvent[]): CrewSession {
  const session = new CrewSession({ logger: silentLogger, limits: UNLIMITED });
  session.addNode(
    node('echo', (input$) =>
      input$.pipe(
        filter(echoes),
        map((e) => event('agent.speak', { text: e.content })),
      ),
    ),
  );
  session.onEvent('*', (_s, e) => void seen.push(e));
  return session;
}

/** A session driven by `TestClient` from rxcrew/testing (text as strings, binary as Buffers, decoded values). */
async function testClientRig(): Promise<Rig> {
  const seen: CrewEvent[] = [];
  const session = newSession(seen);
  const client = new TestClient(session);
  await session.start();
  return {
    session,
    received: client.received,
    seen,
    deliver(d) {
      if (d.mode === 'text-bytes') throw new Error('TestClient sends Buffers as binary frames; use attachedRig for text bytes');
      client.send(d.data as string | Buffer | object);
    },
    close: () => session.stop(),
  };
}

/** A session with a bare transport attached, for what TestClient cannot send: a Buffer as a text frame. */
async function attachedRig(): Promise<Rig> {
  const seen: CrewEvent[] = [];
  const received: CrewEvent[] = [];
  const session = newSession(seen);
  const connection = session.attach({
    send: (e) => void received.push(JSON.parse(JSON.stringify(e)) as CrewEvent),
    close: (code, reason) => queueMicrotask(() => connection.end(code, reason)),
  });
  await session.start();
  return {
    session,
    received,
    seen,
    deliver(d) {
      if (d.mode === 'value') connection.receiveValue(d.data);
      else connection.receive(d.data, d.mode === 'binary');
    },
    close: () => session.stop(),
  };
}

describe('CrewSession under fuzzed client frames (in process)', () => {
  const prototypeBaseline = prototypeKeys();
  let bystander: Rig;
  let total = 0;
  const outcomes = { bad: 0, accept: 0, drop: 0, audio: 0 };

  beforeAll(async () => {
    bystander = await testClientRig();
  });

  afterAll(async () => {
    // the bystander saw nothing but its own start, and still answers
    expect(bystander.received.map((e) => e.type)).toEqual(['agent.ready']);
    expect(bystander.seen.map((e) => e.type)).toEqual(['agent.ready', 'system.user.joined']);
    bystander.deliver({ mode: 'text', data: JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: 'still here' }) });
    expect(bystander.received.map((e) => e.text)).toEqual([undefined, 'still here']);
    await bystander.close();
    assertNoPollution(prototypeBaseline);
    // the fuzz reached every kind of outcome, not only refusals
    for (const kind of ['bad', 'accept', 'drop', 'audio'] as const) expect(outcomes[kind]).toBeGreaterThan(0);
    if (process.env.FUZZ_REPORT) console.log(`session fuzz: ${total} cases, outcomes ${JSON.stringify(outcomes)}`);
  });

  /** One case: the frame, what it turned into, then a valid event that must be answered. */
  function check(rig: Rig, c: FuzzCase): void {
    total++;
    const r0 = rig.received.length;
    const s0 = rig.seen.length;
    const b0 = bystander.received.length + bystander.seen.length;
    const where = () => `case: ${c.what}, ${describeDelivery(c.delivery)}; expected ${c.verdict}`;

    try {
      rig.deliver(c.delivery);
    } catch (err) {
      throw new Error(`delivering threw ${String(err)}; ${where()}`);
    }
    let outcome: Outcome;
    try {
      outcome = classify(rig.received.slice(r0), rig.seen.slice(s0), echoes);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n  ${where()}`);
    }
    if (!fits(c.verdict, outcome)) {
      const detail = outcome.kind === 'bad' ? `bad: ${outcome.message}` : outcome.kind;
      throw new Error(`got ${detail}; ${where()}\n  client received: ${brief(rig.received.slice(r0))}`);
    }
    if (outcome.kind === 'accept' && echoes(outcome.event)) {
      // the echo carries the content as the frame decodes (U+FFFD for invalid UTF-8)
      const content = (decodedValue(c.delivery) as { content?: unknown } | undefined)?.content;
      if (outcome.reply!.text !== content) throw new Error(`echoed ${JSON.stringify(outcome.reply!.text)}; ${where()}`);
    }
    if (outcome.kind === 'audio' && !outcome.audio.equals(c.delivery.data as Buffer)) {
      throw new Error(`user.audio does not hold the frame's bytes; ${where()}`);
    }
    outcomes[outcome.kind]++;

    // the session goes on: a valid event is answered, and nothing else happens
    const r1 = rig.received.length;
    const s1 = rig.seen.length;
    const text = `after case ${total}`;
    rig.deliver({ mode: 'text', data: JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: text }) });
    const after = rig.received.slice(r1);
    if (after.length !== 1 || after[0].type !== 'agent.speak' || after[0].text !== text || rig.seen.length !== s1 + 2) {
      throw new Error(`the session no longer answers (got ${brief(after)}); ${where()}`);
    }
    if (rig.session.state !== 'running') throw new Error(`session is ${rig.session.state}; ${where()}`);

    assertNoPollution(prototypeBaseline);
    if (bystander.received.length + bystander.seen.length !== b0) throw new Error(`the other session saw something; ${where()}`);
  }

  async function fuzz(arbitrary: fc.Arbitrary<FuzzCase>, numRuns: number, rig: () => Promise<Rig> = testClientRig): Promise<void> {
    const r = await rig();
    try {
      fc.assert(
        fc.property(arbitrary, (c) => check(r, c)),
        runs(numRuns),
      );
    } finally {
      await r.close();
    }
    expect(r.session.state).toBe('closed');
  }

  it('arbitrary JSON values (text, binary, decoded) are refused with one warning or accepted, never more', () => fuzz(jsonValueCase, 900));

  it('valid events with mutated fields, foreign types and own __proto__/constructor/prototype keys get the contract verdict', () =>
    fuzz(mutatedEventCase, 1500));

  it('deep nesting and bracket floods are refused past the depth limit, accepted below it', () => fuzz(deepCase, 300));

  it('random strings as text frames are JSON events or one CREW_ERR_BAD_EVENT warning', () => fuzz(textCase, 700));

  it('random binary frames are audio unless they hold a JSON object', () => fuzz(binaryCase, 800));

  it('a binary frame with audio bytes between "{" and "}" and many "{" is audio, not JSON nested too deep', async () => {
    // found by the binary property: the depth check ran before the audio/JSON decision
    const r = await testClientRig();
    const pcm = Buffer.concat([Buffer.from('{'.repeat(40)), Buffer.from([0x00, 0x10, 0xff, 0x7f]), Buffer.from('}')]);
    check(r, { what: 'PCM-like bytes holding 40 "{"', delivery: { mode: 'binary', data: pcm }, verdict: 'audio' });
    // deep JSON in a binary frame is still refused
    const deep = Buffer.from(JSON.stringify({ type: 'agent.transcript.update', role: 'user', content: 'x', extra: nestedArrays(40) }));
    check(r, { what: 'transcript nested 41 deep', delivery: { mode: 'binary', data: deep }, verdict: 'bad' });
    await r.close();
  });

  it('invalid UTF-8 in a text frame is decoded with replacement characters, never a crash', () => fuzz(invalidUtf8Case, 400, attachedRig));
});

function nestedArrays(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}
