import { CrewEvent, CrewSession } from 'rxcrew';
import { AudioPacer, VoiceActivity, VoiceActivityOptions } from 'rxcrew/operators';
import { TestClient } from 'rxcrew/testing';
import { playbackOf } from '../../lib/audio/playback';
import { frames, silence, tone } from '../support/pcm';

/** A session whose root feeds a VoiceActivity node, a client, and a hook on interrupts. */
async function setup(options: VoiceActivityOptions = {}) {
  const session = new CrewSession({ limits: { maxAudioFramesPerSecond: 10000 } });
  const vad = new VoiceActivity(options);
  session.addNode(vad);
  const interrupts: CrewEvent[] = [];
  const order: string[] = [];
  session.onEvent('system.control.interrupt', (_s, e) => {
    interrupts.push(e);
    order.push(e.type);
  });
  session.onEvent('system.user.*', (_s, e) => void order.push(e.type));
  const client = new TestClient(session);
  await session.start();
  return { session, vad, client, interrupts, order };
}

/** The client speaks: `pcm` as binary frames of 20 ms. */
function speak(client: TestClient, pcm: Buffer): void {
  for (const frame of frames(pcm)) client.send(frame);
}

describe('VoiceActivity: barge-in', () => {
  it('injects system.control.interrupt when the user speaks while agent audio plays', async () => {
    const { session, client, interrupts, order } = await setup();
    const playback = playbackOf(session);
    playback.playingUntil = playback.now() + 60000;
    speak(client, tone(200));
    expect(interrupts).toHaveLength(1);
    expect(interrupts[0]).toMatchObject({ type: 'system.control.interrupt', reason: 'barge-in' });
    // the start is reported first, then the interrupt goes round the graph
    expect(order.filter((t) => t !== 'system.user.joined')).toEqual(['system.user.started_speaking', 'system.control.interrupt']);
    // the client hears about the speech, never its own audio back
    expect(client.all('system.user.started_speaking')).toHaveLength(1);
    expect(client.received.filter((e) => e.audio !== undefined)).toEqual([]);
    await session.stop();
  });

  it('does not interrupt when nothing plays', async () => {
    const { session, client, interrupts } = await setup();
    playbackOf(session).playingUntil = playbackOf(session).now() - 1; // finished just now
    speak(client, Buffer.concat([tone(200), silence(500)]));
    expect(interrupts).toEqual([]);
    expect(client.received.map((e) => e.type).filter((t) => t.startsWith('system.user.s'))).toEqual([
      'system.user.started_speaking',
      'system.user.stopped_speaking',
    ]);
    await session.stop();
  });

  it('does not interrupt with bargeIn: false, nor for speech shorter than startMs', async () => {
    const off = await setup({ bargeIn: false });
    playbackOf(off.session).playingUntil = Infinity;
    speak(off.client, tone(200));
    expect(off.interrupts).toEqual([]);
    await off.session.stop();

    const short = await setup({ startMs: 100 });
    playbackOf(short.session).playingUntil = Infinity;
    speak(short.client, Buffer.concat([tone(80), silence(200)]));
    expect(short.interrupts).toEqual([]);
    await short.session.stop();
  });

  it('interrupts once per start of speech', async () => {
    const { session, client, interrupts } = await setup({ hangoverMs: 300 });
    playbackOf(session).playingUntil = Infinity;
    speak(client, Buffer.concat([tone(200), silence(100), tone(200), silence(400), tone(200)]));
    expect(interrupts).toHaveLength(2);
    await session.stop();
  });

  it('with AudioPacer: the agent audio is cut and the client told to clear its buffer', async () => {
    const session = new CrewSession({ limits: { maxAudioFramesPerSecond: 10000 } });
    const vad = new VoiceActivity();
    const pacer = new AudioPacer({ leadMs: 200 });
    session.addNode(vad).addNode(pacer).addEdge(vad, pacer);
    const client = new TestClient(session);
    await session.start();
    // two seconds of agent speech: 200 ms go out at once, the rest waits in the pacer
    for (const frame of frames(tone(2000, 16000, -20, 220), 100)) session.inject({ type: 'agent.audio', audio: frame, sample_rate: 16000 });
    expect(playbackOf(session).isPlaying()).toBe(true);
    const sentBefore = client.all((e) => e.type === 'agent.audio').length;
    speak(client, tone(100));
    await client.next('agent.control.interrupt');
    expect(playbackOf(session).isPlaying()).toBe(false);
    expect(client.all((e) => e.type === 'agent.audio').length).toBe(sentBefore);
    await session.stop();
  });
});
