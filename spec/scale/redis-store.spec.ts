import { Redis } from 'ioredis';
import { redisStore } from '../../lib';
import type { RedisStore } from '../../lib/scale/redis-store';
import { silentLogger } from '../integration/helpers';
import { RedisServer, startRedis } from '../support/redis-server';

/*
 * The store's event-log appends on a real redis-server: those of one
 * event-loop iteration leave as one script call; each list keeps its order,
 * gets the idle expiry when created and keeps only its latest maxLogEvents.
 */

describe('RedisStore.append', () => {
  let redis: RedisServer;
  let probe: Redis;
  let store: RedisStore;
  let prefix = 0;

  beforeAll(async () => {
    redis = await startRedis();
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    probe?.disconnect();
    await redis?.stop();
  });
  beforeEach(async () => {
    store = redisStore({ url: redis.url, keyPrefix: `a${++prefix}:`, idleTtlMs: 60_000, maxLogEvents: 5 });
    await store.connect(silentLogger, []);
    await probe.config('RESETSTAT');
  });
  afterEach(() => store.close());

  /** Calls of `command` Redis has counted since the reset (scripts' own commands included). */
  async function calls(command: string): Promise<number> {
    const stats = await probe.info('commandstats');
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
  }

  it('sends one iteration\'s appends as one script call, each list in order and expiring', async () => {
    for (let i = 0; i < 4; i++) for (const id of ['x', 'y']) store.append(store.logKey(id), JSON.stringify({ id, i }));
    expect(await store.eventLog('x')).toEqual([0, 1, 2, 3].map((i) => ({ id: 'x', i })));
    expect(await store.eventLog('y')).toEqual([0, 1, 2, 3].map((i) => ({ id: 'y', i })));
    expect(await calls('rpush')).toBe(8);
    // EVALSHA, and EVAL once if the script was not loaded yet
    expect((await calls('evalsha')) + (await calls('eval'))).toBeLessThanOrEqual(2);
    const ttl = await probe.pttl(store.logKey('x'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('keeps a list\'s latest maxLogEvents events', async () => {
    for (let i = 0; i < 8; i++) store.append(store.logKey('z'), String(i));
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 8; i < 10; i++) store.append(store.logKey('z'), String(i));
    expect(await store.eventLog('z')).toEqual([5, 6, 7, 8, 9]);
  });

  it('appends again after Redis restarted (its script cache empty) and counts what a closed store could not write', async () => {
    store.append(store.logKey('r'), '1');
    expect(await store.eventLog('r')).toEqual([1]);
    await redis.restart();
    await probe.ping(); // the probe reconnects by itself
    store.append(store.logKey('r'), '2');
    expect(await store.eventLog('r')).toEqual([2]); // Redis kept nothing (no persistence): the list is new
    expect(await probe.pttl(store.logKey('r'))).toBeGreaterThan(0);
    expect(store.stats.failedWrites).toBe(0);

    await store.close();
    store.append(store.logKey('r'), '3');
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.stats.failedWrites).toBe(1);
    store = redisStore({ url: redis.url }); // for afterEach
  });
});
