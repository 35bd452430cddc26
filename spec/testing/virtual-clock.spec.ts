import { VirtualClock } from '../../lib/testing/virtual-clock';

// The clock testSession runs on: the global timers and dates, virtual.

describe('VirtualClock', () => {
  let clock: VirtualClock;
  const real = { setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, Date, now: performance.now };

  beforeEach(() => {
    clock = new VirtualClock();
    clock.install();
  });
  afterEach(() => clock.uninstall());

  it('fires timers in time order, those due together in the order they were set', async () => {
    const fired: string[] = [];
    setTimeout(() => fired.push(`b@${Date.now()}`), 10);
    setTimeout(() => fired.push(`a@${Date.now()}`), 5);
    setTimeout(() => fired.push(`c@${Date.now()}`), 10);
    setImmediate(() => fired.push(`i@${Date.now()}`));
    setTimeout(() => fired.push(`z@${Date.now()}`), 0);
    await clock.run(Infinity);
    expect(fired).toEqual(['i@0', 'z@0', 'a@5', 'b@10', 'c@10']);
    expect(clock.now()).toBe(10);
  });

  it('passes arguments, and cancels with clearTimeout / clearImmediate (by handle or by number)', async () => {
    const fired: unknown[] = [];
    setTimeout((x: number, y: string) => fired.push([x, y]), 1, 7, 'y');
    const t = setTimeout(() => fired.push('cancelled'), 2);
    const n = setTimeout(() => fired.push('cancelled by number'), 3);
    const i = setImmediate(() => fired.push('cancelled immediate'));
    clearTimeout(t);
    clearTimeout(+n as unknown as NodeJS.Timeout);
    clearImmediate(i);
    await clock.run(Infinity);
    expect(fired).toEqual([[7, 'y']]);
  });

  it('repeats an interval until cleared, also from inside its callback; a period of 0 repeats every 1 ms', async () => {
    const at: number[] = [];
    const id = setInterval(() => {
      at.push(Date.now());
      if (at.length === 3) clearInterval(id);
    }, 4);
    const zero: number[] = [];
    const z = setInterval(() => {
      zero.push(Date.now());
      if (zero.length === 2) clearInterval(z);
    }, 0);
    await clock.run(Infinity);
    expect(at).toEqual([4, 8, 12]);
    expect(zero).toEqual([0, 1]); // the first run at once, like a timeout of 0
    expect(clock.pending).toBe(0);
  });

  it('refresh() makes a timeout due a full delay from now; unref() is accepted', async () => {
    const at: number[] = [];
    const t = setTimeout(() => at.push(Date.now()), 10).unref();
    setTimeout(() => t.refresh(), 6);
    await clock.run(Infinity);
    expect(at).toEqual([16]);
  });

  it('lets promises settle between timers, at the virtual time they were woken', async () => {
    const seen: string[] = [];
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    void (async () => {
      await sleep(5);
      seen.push(`woke@${Date.now()}`);
      await sleep(5);
      seen.push(`again@${Date.now()}`);
    })();
    setTimeout(() => seen.push(`timer@${Date.now()}`), 7);
    await clock.run(Infinity);
    expect(seen).toEqual(['woke@5', 'timer@7', 'again@10']);
  });

  it('stops at `until` and while `more()` holds', async () => {
    const fired: number[] = [];
    for (const ms of [1, 2, 3, 50]) setTimeout(() => fired.push(ms), ms);
    await clock.run(10, () => fired.length < 2);
    expect(fired).toEqual([1, 2]);
    await clock.run(10);
    expect(fired).toEqual([1, 2, 3]);
    expect(clock.pending).toBe(1);
  });

  it('gives Date and performance.now the virtual time; other Date uses are the real Date', async () => {
    setTimeout(() => undefined, 1234);
    await clock.run(Infinity);
    expect(Date.now()).toBe(1234);
    expect(performance.now()).toBe(1234);
    expect(new Date().toISOString()).toBe('1970-01-01T00:00:01.234Z');
    expect(new Date(0)).toBeInstanceOf(real.Date);
    expect(new real.Date(0)).toBeInstanceOf(Date);
    expect(new Date('2024-05-06T07:08:09Z').getTime()).toBe(real.Date.UTC(2024, 4, 6, 7, 8, 9));
    expect(Date.UTC(1970, 0, 1)).toBe(0);
    expect(typeof (Date as unknown as () => string)()).toBe('string');
  });

  it('keeps what a callback throws and goes on', async () => {
    const fired: number[] = [];
    setTimeout(() => {
      throw new Error('boom');
    }, 1);
    setTimeout(() => fired.push(2), 2);
    await clock.run(Infinity);
    expect(fired).toEqual([2]);
    expect(clock.errors).toEqual([new Error('boom')]);
  });

  it('refuses a second clock, and puts every global back when uninstalled', () => {
    expect(() => new VirtualClock().install()).toThrow(/a virtual clock is already installed/);
    setTimeout(() => undefined, 5);
    clock.uninstall();
    expect({ setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, Date, now: performance.now }).toEqual(real);
    expect(Object.getOwnPropertyDescriptor(performance, 'now')).toBeUndefined();
    expect(clock.pending).toBe(0);
    clock.install(); // for afterEach
  });
});
