import { Observable, filter, map } from 'rxjs';
import { CrewEvent, event, node } from 'rxcrew';
import { deferred, echoNode, Harness, init, say, within } from './helpers';

/** 20 ms of 16 kHz PCM16 mono, bytes that are clearly not JSON. */
function pcmFrame(seed: number): Buffer {
  const buf = Buffer.alloc(640);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 31 + seed) & 0xff;
  buf[0] = 0x01;
  return buf;
}

/** Plays `pcmFrame(n)` as agent.audio when told "play N". */
function player() {
  return node('player', (input$: Observable<CrewEvent>) =>
    input$.pipe(
      filter((e) => e.type === 'agent.transcript.update' && String(e.content).startsWith('play ')),
      map((e) => event('agent.audio', { audio: pcmFrame(Number(String(e.content).slice(5))), sample_rate: 16000 })),
    ),
  );
}

describe('CrewApp frame kinds (real ws client)', () => {
  const h = new Harness();
  afterEach(() => h.cleanup());

  it('answers a text-frame client with text frames', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(echoNode()) });
    const client = await connect();
    client.send(init());
    client.send(say('text please'));

    const ready = await client.nextJsonFrame('agent.ready');
    const reply = await client.nextJsonFrame('agent.speak');
    expect(ready.binary).toBe(false);
    expect(reply).toMatchObject({ binary: false, event: { text: 'text please' } });
  });

  it('answers JSON sent in binary frames with JSON in binary frames, from the first reply on', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(echoNode()) });
    const client = await connect();
    // agent.ready comes before the client has sent any JSON: text, per the contract
    const ready = await client.nextJsonFrame('agent.ready');
    expect(ready.binary).toBe(false);

    client.send(say('binary one'), { binary: true });
    client.send(say('binary two'), { binary: true });

    const first = await client.nextJsonFrame('agent.speak');
    const second = await client.nextJsonFrame('agent.speak');
    client.send(init(), { binary: true });
    client.send(say('binary three'), { binary: true });
    const third = await client.nextJsonFrame('agent.speak');
    expect(first).toMatchObject({ binary: true, event: { type: 'agent.speak', text: 'binary one' } });
    expect(third).toMatchObject({ binary: true, event: { type: 'agent.speak', text: 'binary three' } });
    expect(second).toMatchObject({ binary: true, event: { type: 'agent.speak', text: 'binary two' } });
  });

  it('follows the frame kind of the most recent JSON message', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(echoNode()) });
    const client = await connect();
    await client.next('agent.ready');

    client.send(say('b'), { binary: true });
    client.send(say('t'));
    client.send(say('b again'), { binary: true });

    const frames = [await client.nextJsonFrame('agent.speak'), await client.nextJsonFrame('agent.speak'), await client.nextJsonFrame('agent.speak')];
    expect(frames.map((f) => [f.event!.text, f.binary])).toEqual([
      ['b', true],
      ['t', false],
      ['b again', true],
    ]);
  });

  it('answers a bad event sent in a binary frame with a binary agent.error', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(echoNode()) });
    const client = await connect();
    await client.next('agent.ready');

    client.send({ type: 'no.such.type' }, { binary: true });
    const error = await client.nextJsonFrame('agent.error');
    expect(error.binary).toBe(true);
    expect(error.event).toMatchObject({ severity: 'warning', payload: { code: 'CREW_ERR_BAD_EVENT' } });
  });

  it('turns a binary frame that is not JSON into a user.audio event with the same bytes', async () => {
    const heard: CrewEvent[] = [];
    const twoFrames = deferred();
    const { connect } = await h.start({
      setup: (session) => {
        session.addNode(echoNode());
        session.onEvent('user.audio', (_s, e) => {
          heard.push(e);
          if (heard.length === 2) twoFrames.resolve();
        });
      },
    });
    const client = await connect();
    await client.next('agent.ready');

    const a = pcmFrame(7);
    const b = pcmFrame(99);
    client.sendRaw(a);
    client.sendRaw(b);
    await within(twoFrames.promise, 'two user.audio events');

    expect(heard.map((e) => e.type)).toEqual(['user.audio', 'user.audio']);
    expect(Buffer.isBuffer(heard[0].audio)).toBe(true);
    expect(Buffer.compare(heard[0].audio as Buffer, a)).toBe(0);
    expect(Buffer.compare(heard[1].audio as Buffer, b)).toBe(0);
    expect(heard[0].sample_rate).toBe(16000);
    // audio is not an error, and no JSON reply was produced for it
    client.send(say('after audio'));
    await client.next('agent.speak');
    expect(client.types).toEqual(['agent.ready', 'agent.speak']);
  });

  it.each([
    ['a JSON array', '[1,2,3]'],
    ['a JSON string', '"hello"'],
    ['a JSON number', '42'],
    ['braces that are not JSON', '{not json}'],
  ])('treats a binary frame holding %s as audio', async (_what, text) => {
    const heard = deferred<CrewEvent>();
    const { connect } = await h.start({
      setup: (session) => void session.onEvent('user.audio', (_s, e) => heard.resolve(e)),
    });
    const client = await connect();
    await client.next('agent.ready');

    client.sendRaw(Buffer.from(text));
    const audio = await within(heard.promise, 'user.audio');
    expect(Buffer.isBuffer(audio.audio)).toBe(true);
    expect((audio.audio as Buffer).toString()).toBe(text);
    await client.roundTrip();
    expect(client.types).not.toContain('agent.error');
  });

  it('uses the input sample rate declared in system.init for user.audio', async () => {
    const heard = deferred<CrewEvent>();
    const { connect } = await h.start({
      setup: (session) => void session.onEvent('user.audio', (_s, e) => heard.resolve(e)),
    });
    const client = await connect();
    client.send({ ...init(), audio: { input_sample_rate: 8000 } });
    await client.next('agent.ready');
    client.sendRaw(pcmFrame(1));
    expect((await within(heard.promise, 'user.audio')).sample_rate).toBe(8000);
  });

  it('sends agent.audio as a binary frame holding exactly its bytes', async () => {
    const { connect } = await h.start({ setup: (session) => void session.addNode(player()) });
    const client = await connect();
    await client.next('agent.ready');

    client.send(say('play 3'));
    client.send(say('play 200'));
    const first = await client.nextAudio();
    const second = await client.nextAudio();

    expect(Buffer.compare(first, pcmFrame(3))).toBe(0);
    expect(Buffer.compare(second, pcmFrame(200))).toBe(0);
    expect(client.frames.every((f) => f.kind !== 'json' || f.event!.type !== 'agent.audio')).toBe(true);
  });

  it('sends agent.audio as binary also to a client that sends JSON in text frames, and keeps text for JSON', async () => {
    const { connect } = await h.start({
      setup: (session) => {
        session.addNode(player());
        session.addNode(echoNode());
      },
    });
    const client = await connect();
    await client.next('agent.ready');

    client.send(say('play 5'));
    const audio = await client.nextAudio();
    const speak = await client.nextJsonFrame('agent.speak');
    expect(Buffer.compare(audio, pcmFrame(5))).toBe(0);
    expect(speak).toMatchObject({ binary: false, event: { text: 'play 5' } });
  });
});
