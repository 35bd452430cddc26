import { CrewApp } from 'rxcrew';
import { TwilioCaller } from 'rxcrew/testing';
import type { TtsEngine } from 'rxcrew/voice';
import { createPhoneSetup } from '../../demos/phone-agent/setup';
import { silentLogger, within } from '../integration/helpers';

/** 100 ms of a constant level per sentence: fast and deterministic. */
const engine: TtsEngine = {
  name: 'short',
  async synthesize(_text, { sampleRate }) {
    const pcm = Buffer.alloc((sampleRate * 2) / 10);
    for (let i = 0; i < pcm.length; i += 2) pcm.writeInt16LE(2000, i);
    return pcm;
  },
};

describe('demos/phone-agent over the Twilio transport', () => {
  let app: CrewApp;
  let url: string;
  const lines: string[] = [];

  beforeAll(async () => {
    app = new CrewApp({ port: 0, host: '127.0.0.1', logger: silentLogger, twilio: true, setup: createPhoneSetup({ tts: engine, log: (l) => lines.push(l) }) });
    url = `ws://127.0.0.1:${(await app.listen()).port}/twilio`;
  });
  afterAll(() => app.close());

  it('greets, reads back a key, and hangs up on # once the goodbye has played (every mark echoed)', async () => {
    const caller = await TwilioCaller.connect(url, { customParameters: { from: '+15551234567' } });
    await caller.next('media');
    const session = [...app.sessions.values()].find((s) => s.context.get('stream_sid') === caller.streamSid)!;
    caller.dtmf('5');
    caller.dtmf('#');
    const closed = await within(caller.closed, 'the hang-up', 10_000);
    expect(closed.code).toBe(1000);
    expect(caller.echoed.length).toBe(caller.all('mark').length); // all of it was heard
    expect(caller.problems).toEqual([]);
    await within(session.waitUntilComplete(), 'teardown');
    expect(lines.some((l) => l.endsWith('joined'))).toBe(true);
    expect(lines.some((l) => l.includes('left'))).toBe(true);
  });
});
