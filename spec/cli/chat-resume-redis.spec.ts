import { CrewApp, CrewSession, redisStore } from '../../lib';
import { within } from '../integration/helpers';
import { startRedis, RedisServer } from '../support/redis-server';
import { startChat } from './helpers';
import { Counter } from '../support/counter-agent';

/*
 * rxcrew chat against a real CrewApp with its session store on a real Redis
 * (Debian's redis-server on a free loopback port): the server ends the call
 * with 1012, as a drained worker does, and the chat comes back to the same
 * session by itself. The wire details are in chat-resume.spec.ts.
 */

const SECRET = 'a test secret of enough length';
const quiet = { error: () => undefined, warn: () => undefined, info: () => undefined };

describe('rxcrew chat resuming a session kept in Redis', () => {
  let redis: RedisServer;
  let app: CrewApp;
  let url: string;
  const sessions: CrewSession[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    app = new CrewApp({
      host: '127.0.0.1',
      port: 0,
      logger: quiet,
      secret: SECRET,
      store: redisStore({ url: redis.url, keyPrefix: `chat${process.pid}:` }),
      setup: async (session) => {
        sessions.push(session);
        await session.waitForInit(200);
        session.addNode(new Counter());
        await session.start();
      },
    });
    url = `ws://127.0.0.1:${(await app.listen()).port}/ws`;
  }, 20_000);
  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });
  afterEach(() => {
    sessions.length = 0;
    Counter.hold.clear();
  });

  it('comes back to the same session and conversation after 1012, with a line typed meanwhile', async () => {
    const run = startChat(url);
    run.say('one');
    await run.output.printed('agent: 3 messages; you said one\n'); // system, greeting, one
    const [first] = sessions;
    await first.stop('draining', 1012);
    await run.errors.printed('reconnecting…\n');
    run.say('two');
    await run.output.printed('you said two\n');
    run.end();

    expect(await run.done()).toBe(0);
    expect(run.errors.text).toBe(`rxcrew: connection lost (1012 draining); reconnecting…\nrxcrew: resumed session ${first.id}\n`);
    // the conversation came back: system, greeting, one, its reply, two; no second greeting
    expect(run.output.text).toBe('agent: hello\nagent: 3 messages; you said one\nagent: 5 messages; you said two\n');
    expect(sessions.map((s) => [s.id, s.resumed])).toEqual([
      [first.id, false],
      [first.id, true],
    ]);
  });

  it('shows the reply in flight again from the start after the resume', async () => {
    let release!: () => void;
    Counter.hold.set('slow', new Promise<void>((resolve) => (release = resolve)));
    const run = startChat(url);
    run.say('slow');
    await run.output.printed('agent: 3 messages; ');
    await sessions[0].stop('draining', 1012);
    await run.errors.printed('resumed session');
    release();
    await run.output.printed('you said slow\n');
    run.end();

    expect(await run.done()).toBe(0);
    // the stopping server ends the cut turn (interrupted) before it closes; the resumed one answers it again in full
    expect(run.output.text).toMatch(/^agent: hello\nagent: 3 messages; \nagent: \d+ messages; you said slow\n$/);
    expect(run.errors.text).toBe(`rxcrew: connection lost (1012 draining); reconnecting…\nrxcrew: resumed session ${sessions[0].id}\n`);
    await within(sessions[1].waitUntilComplete(), 'the resumed session to end');
  });
});
